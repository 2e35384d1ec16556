"""The 2.28 mirror class moved to :mod:`neuronsim.api.nrta_2_28` (the API layer); this path re-exports it."""

from neuronsim.api.nrta_2_28 import ErrorTracker, NrtRuntime228, nrta_error_t

__all__ = ["NrtRuntime228", "ErrorTracker", "nrta_error_t"]
