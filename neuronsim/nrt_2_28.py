"""The Neuron Runtime's C constants as the SDK 2.28 headers give them (the "Gen-1" explicit async API).

``from neuronsim import nrt_2_28 as nrt`` is what a program written against SDK 2.28's ``nrt/nrt_async.h``
sees: every name of :mod:`neuronsim.nrt` (statuses, placements, dtypes, the ``NRTA_SEQ_*`` macros,
``Ref``...), except that ``nrta_xu_t`` and its members are the 2.28 enum (reference/nrt-api.md §1.3):
``NRTA_XU_TENSOR_READ = 0``, ``NRTA_XU_TENSOR_WRITE = 1``, ``NRTA_XU_TENSOR_OP = 2``,
``NRTA_XU_COMPUTE = 3``, ``NRTA_XU_COLLECTIVES = 4``, ``NRTA_XU_TYPE_NUM = 5``. A 2.28 runtime
(``sim.runtime(api="2.28")``) has this module as ``rt.nrt`` and refuses a member of the 3.0 enum
(``neuronsim.nrt.NRTA_XU_COMPUTE``, whose value 1 names TENSOR_WRITE here) with ``NRT_INVALID`` and
a log line; a 3.0 runtime likewise refuses the members of this one.
"""

from __future__ import annotations

from neuronsim.nrt import *  # noqa: F403 - the shared names, re-exported
from neuronsim.nrt import nrta_xu_t_2_28

# the 2.28 enum under the C names (type checkers keep the shared module's declarations of these names)
nrta_xu_t = nrta_xu_t_2_28  # type: ignore[misc, assignment]  # noqa: N816
NRTA_XU_TENSOR_READ = nrta_xu_t_2_28.NRTA_XU_TENSOR_READ
NRTA_XU_TENSOR_WRITE = nrta_xu_t_2_28.NRTA_XU_TENSOR_WRITE
NRTA_XU_TENSOR_OP = nrta_xu_t_2_28.NRTA_XU_TENSOR_OP  # type: ignore[assignment]
NRTA_XU_COMPUTE = nrta_xu_t_2_28.NRTA_XU_COMPUTE  # type: ignore[assignment]
NRTA_XU_COLLECTIVES = nrta_xu_t_2_28.NRTA_XU_COLLECTIVES  # type: ignore[assignment]
NRTA_XU_TYPE_NUM = nrta_xu_t_2_28.NRTA_XU_TYPE_NUM  # type: ignore[assignment]

API = "2.28"  # the API generation these constants belong to
