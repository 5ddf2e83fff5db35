"""deepsym's built-in plugins, installed as the package ``deepsym_plugins``.

Each module is a plugin registered through the ``deepsym.plugins`` entry-point group in
pyproject.toml, exactly like a third-party plugin.
"""
