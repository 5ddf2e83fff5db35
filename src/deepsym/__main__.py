"""``python -m deepsym``: the same as the ``deepsym`` command."""
import sys

from deepsym.cli import main

sys.exit(main())
