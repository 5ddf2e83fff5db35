"""Build the Cython kernels in src/deepsym/_ext (metadata lives in pyproject.toml).

Packages: everything under src/, plus the top-level plugins/ folder installed as
``deepsym_plugins`` (the built-in plugins).

Set DEEPSYM_DEBUG_KERNELS=1 to build with bounds and wraparound checks on.
"""
import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

DEBUG = os.environ.get("DEEPSYM_DEBUG_KERNELS") == "1"

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "embedsignature": True,
}

extensions = [
    Extension(
        f"deepsym._ext.{path.stem}",
        [str(path)],
        extra_compile_args=["-O3"] if not DEBUG else ["-O0", "-g"],
    )
    for path in sorted(Path("src/deepsym/_ext").glob("*.pyx"))
]

setup(
    packages=[*find_packages("src"), "deepsym_plugins"],
    package_dir={"": "src", "deepsym_plugins": "plugins"},
    ext_modules=cythonize(extensions, compiler_directives=directives),
)
