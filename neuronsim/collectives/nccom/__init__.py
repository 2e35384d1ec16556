"""``neuronsim nccom-test``'s benchmark: nccom-test's interface over simulated collectives.

Every rank of a benchmark is a logical core of the simulated instance(s) (``-r`` ranks spread evenly
over ``-N`` nodes). For each message size, every rank schedules each operation (``nrta_cc_prepare`` +
``nrta_cc_schedule``) ``-w`` warm-up times and ``-n`` measured times (``-W`` and ``-I`` repeat that as
nccom-test repeats its NEFF). An operation's time runs from the moment the last rank of its replica
group reached it to the moment the last rank finished; several replica groups running one operation
at once take the longest of them. The table has nccom-test's columns and number formats
(``tools/neuron-sys-tools/nccom-test.rst``): ``algbw`` is ``size / time`` and ``busbw`` is ``algbw``
times the documented bus factor of the operation (:data:`BUS_FACTORS`), both in decimal GB/s as every
table the current tool prints computes them (docs/assumptions.md A90).

Streams (``--streams-json``) run side by side, one Collectives queue each, and print a table each.

The package: :mod:`~.options` (operations, data types, sizes, :class:`Bench`, :class:`NccomRow`),
:mod:`~.inputs` (replica groups, pairs, variable-size metadata, streams), :mod:`~.check` (``--check``),
:mod:`~.bench` (the run) and :mod:`~.report` (the table and the JSON report); the subcommand itself is
:mod:`neuronsim.cli.nccom_test`. Every public name is importable from here.
"""

from __future__ import annotations

from neuronsim.collectives.data import ELEMENT, VariableCounts  # as nccom-test's inputs and checks see them
from neuronsim.collectives.nccom.options import (
    BUS_FACTORS,
    CHECK_LIMIT_BYTES,
    CHECK_MODES,
    DTYPES,
    GB,
    MAX_RANK_OPERATIONS,
    OPS,
    VARIABLE_ALIGN_BYTES,
    Bench,
    NccomRow,
    bus_factor,
    default_instance,
    parse_size,
    sizes_for,
)
from neuronsim.collectives.nccom.inputs import (
    check_partition,
    data_parallel_groups,
    load_metadata,
    load_pairs,
    load_replica_groups,
    load_streams,
    _scaled,
)
from neuronsim.collectives.nccom.check import (
    expected_outputs,
)
from neuronsim.collectives.nccom.bench import (
    run_benches,
    run_nccom,
)
from neuronsim.collectives.nccom.report import (
    render_table,
    rows_json,
)

__all__ = ["NccomRow", "Bench", "run_nccom", "run_benches", "render_table", "rows_json", "parse_size", "sizes_for",
           "bus_factor", "default_instance", "load_replica_groups", "load_pairs", "load_metadata", "load_streams",
           "OPS", "DTYPES", "BUS_FACTORS",
           "GB", "CHECK_LIMIT_BYTES", "CHECK_MODES", "MAX_RANK_OPERATIONS", "VARIABLE_ALIGN_BYTES", "check_partition",
           "data_parallel_groups", "expected_outputs", "ELEMENT", "VariableCounts"]
