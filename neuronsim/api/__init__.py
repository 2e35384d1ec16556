"""The API layer: the C mirror over a runtime process's state (:mod:`neuronsim.runtime`).

:class:`NrtRuntime` (3.0, :mod:`neuronsim.api.nrta`) and :class:`NrtRuntime228` (2.28,
:mod:`neuronsim.api.nrta_2_28`) extend :class:`RuntimeBase` (:mod:`neuronsim.api.base`: the ``nrt_*`` calls
every generation shares, with :mod:`~neuronsim.api.sync`, :mod:`~neuronsim.api.cc` and
:mod:`~neuronsim.api.completion`); :mod:`neuronsim.api.mirror` is their calling convention. The Pythonic
facade (:mod:`neuronsim.facade`) and process-mode host threads (:mod:`neuronsim.threads`) are of this layer too.
"""

from neuronsim.api.base import RuntimeBase
from neuronsim.api.nrta import NrtRuntime
from neuronsim.api.nrta_2_28 import NrtRuntime228

__all__ = ["RuntimeBase", "NrtRuntime", "NrtRuntime228"]
