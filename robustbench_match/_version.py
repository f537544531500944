"""The package version, in a module of its own so that any layer can read it without importing the package
facade (``robustbench_match/__init__.py``, which sits above everything: it exports the Python API)."""
__version__ = "0.1.0"
