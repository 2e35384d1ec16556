"""Reference pages stay true: every mirror method is in the table, the schema file is current."""

from __future__ import annotations

import json
from pathlib import Path

from neuronsim.runtime.nrta import NrtRuntime
from neuronsim.runtime.nrta_2_28 import NrtRuntime228
from neuronsim.topology.schema import schema_text

DOCS = Path(__file__).parents[1] / "docs"


def test_every_mirror_method_is_in_the_reference_table():
    text = (DOCS / "reference" / "nrta.md").read_text()
    names = sorted({n for cls in (NrtRuntime, NrtRuntime228) for n in dir(cls) if n.startswith(("nrt_", "nrta_"))})
    assert len(names) > 25
    missing = [n for n in names if f"`{n}`" not in text]
    assert not missing, f"undocumented mirror methods: {missing}"


def test_topology_schema_is_current():
    path = DOCS / "reference" / "topology-schema.json"
    assert path.read_text() == schema_text(), "regenerate with: python -m neuronsim.topology.schema"
    assert set(json.loads(path.read_text())) == {"instance", "cluster"}
