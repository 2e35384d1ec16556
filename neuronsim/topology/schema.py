"""Writes docs/reference/topology-schema.json: ``python -m neuronsim.topology.schema [PATH]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from neuronsim.topology.spec import ClusterSpec, InstanceSpec


def schema_text() -> str:
    schema = {"instance": InstanceSpec.model_json_schema(), "cluster": ClusterSpec.model_json_schema()}
    return json.dumps(schema, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/reference/topology-schema.json")
    target.write_text(schema_text())
