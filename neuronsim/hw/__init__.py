"""The hardware model. With ``NEURONSIM_ACCEL=1`` and a compiled build of the flow network of these sources
(``python -m neuronsim.hw.accel build``), its modules are imported from that build (neuronsim.hw.accel)."""

from neuronsim.hw._accel_path import enabled as _accelerated

_build = _accelerated()
if _build is not None:
    __path__.insert(0, str(_build))
