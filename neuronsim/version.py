"""The installed package's version (``neuronsim.__version__``), in the bottom layer so any layer may read it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("neuronsim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
