"""Build the Cython kernels in src/deepsym/_ext (metadata lives in pyproject.toml).

Set DEEPSYM_DEBUG_KERNELS=1 to build with bounds and wraparound checks on.
"""
import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

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

setup(ext_modules=cythonize(extensions, compiler_directives=directives))
