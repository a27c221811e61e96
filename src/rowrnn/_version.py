"""rowrnn's version, in one place: read by pyproject.toml (the distribution's version), by the package
(rowrnn.__version__) and by the modules that record it (config.json, the README of a run, ONNX metadata).

    from ._version import __version__
"""
__version__ = "0.2.0"
