"""The 3.0 mirror class moved to :mod:`neuronsim.api.nrta` (the API layer); this path re-exports it."""

from neuronsim.api.nrta import NrtRuntime

__all__ = ["NrtRuntime"]
