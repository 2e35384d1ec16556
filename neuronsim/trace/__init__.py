"""Timelines: Perfetto-compatible Chrome traces of a simulation's record."""

from neuronsim.trace.chrome import chrome_trace, write_chrome_trace

__all__ = ["chrome_trace", "write_chrome_trace"]
