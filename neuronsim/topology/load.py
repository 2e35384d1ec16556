"""Loading topologies: presets shipped in the package, user YAML files, and N-instance clusters.

``load_topology("trn1.32xlarge")``, ``load_topology("path/to/my.yaml")`` and
``load_topology("2x trn2.48xlarge")`` all return a :class:`~neuronsim.topology.model.Topology`.
Every problem becomes a :class:`~neuronsim.errors.ConfigError` naming the file, the field path and
the reason; nothing here raises a bare pydantic or YAML exception. Files are read by the one YAML
loader, :mod:`neuronsim.yaml_loader` (duplicate keys, nesting and encoding rules there).
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from neuronsim.errors import ConfigError, ConfigIssue
from neuronsim.topology.model import Topology
from neuronsim.topology.spec import ClusterSpec, InstanceSpec, RuntimeSpec
from neuronsim.yaml_loader import _join, issues_from_validation, load_mapping

__all__ = ["preset_names", "load_topology", "load_spec", "preset_path", "cluster_of", "issues_from_validation",
           "merge_runtime", "with_runtime"]

_CLUSTER_SHORTHAND = re.compile(r"^\s*(\d+)\s*x\s*(\S+)\s*$")


def _presets_dir() -> Path:
    return Path(str(resources.files("neuronsim") / "topologies"))


def preset_names() -> list[str]:
    """Names of the built-in instance presets, sorted."""
    return sorted(p.stem for p in _presets_dir().glob("*.yaml"))


def preset_path(name: str) -> Path:
    """Path of a built-in preset; ``ConfigError`` listing the known presets when there is none."""
    path = _presets_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(name, f"unknown instance preset {name!r}; known presets: {', '.join(preset_names())}")
    return path


# fields of an instance file that may name a shared part shipped with the package
_NAMED_PARTS = {"chip": "chips", "runtime": "runtimes"}


def _part_path(field: str, name: str, source: str) -> Path:
    folder = _presets_dir() / _NAMED_PARTS[field]
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ConfigError(source, f"unknown {field} {name!r}; known: {', '.join(known)}", field=field)
    return path


class _Reads:
    """What a load looked at: each name it resolved to a file, and each file's content digest. A cached
    spec is reused only while all of them are unchanged (see :func:`load_spec`)."""

    __slots__ = ("resolutions", "files")

    def __init__(self) -> None:
        self.resolutions: list[tuple[str, Path | None, Path]] = []
        self.files: list[tuple[Path, bytes]] = []

    def read(self, path: Path) -> None:
        self.files.append((path, _digest(path)))

    def unchanged(self) -> bool:
        try:
            return (all(_resolve(ref, base)[0] == path for ref, base, path in self.resolutions)
                    and all(_digest(path) == digest for path, digest in self.files))
        except (ConfigError, OSError):
            return False


def _digest(path: Path) -> bytes:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).digest()


def _resolve_parts(data: dict[str, Any], source: str, reads: _Reads) -> None:
    for field in _NAMED_PARTS:
        value = data.get(field)
        if isinstance(value, str):
            path = _part_path(field, value, source)
            reads.read(path)
            data[field] = load_mapping(path, str(path))
    runtime = data.get("runtime")
    if isinstance(runtime, dict) and not set(RuntimeSpec.model_fields) - {"provenance"} <= set(runtime):
        # a partial runtime (queue_capacity: 4) merges onto the shipped default runtime
        default = _part_path("runtime", "default", source)
        reads.read(default)
        base = load_mapping(default, source)
        data["runtime"] = merge_runtime(base, runtime, source)


OVERRIDE_PROVENANCE = "assumed: A101 set by {source} (a partial override of the runtime parameters)"


def merge_runtime(base: dict[str, Any], override: dict[str, Any], source: str) -> dict[str, Any]:
    """``base`` (runtime data) with ``override``'s fields merged in, nested mappings field by field.

    A parameter the override sets without a provenance entry of its own gets
    :data:`OVERRIDE_PROVENANCE` (docs/assumptions.md A101); the base's entries stay for the rest.
    """
    merged = copy.deepcopy(base)
    provenance = dict(merged.get("provenance") or {})
    given = dict(override.get("provenance") or {}) if isinstance(override.get("provenance"), dict) else {}

    def walk(into: dict[str, Any], items: dict[str, Any], prefix: str) -> None:
        for key, value in items.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                walk(into[key], value, f"{path}.")
            else:
                into[key] = value
                provenance[path] = given.get(path, OVERRIDE_PROVENANCE.format(source=source))

    walk(merged, {k: v for k, v in override.items() if k != "provenance"}, "")
    provenance.update(given)
    merged["provenance"] = provenance
    return merged


def with_runtime(spec: InstanceSpec | ClusterSpec, override: dict[str, Any], source: str) -> InstanceSpec | ClusterSpec:
    """``spec`` with its runtime parameters partially overridden (:func:`merge_runtime`), validated."""
    instance = spec.instance if isinstance(spec, ClusterSpec) else spec
    if not isinstance(override, dict):
        raise ConfigError(source, f"must be a mapping of runtime fields, not {type(override).__name__}",
                          field="runtime")
    merged = merge_runtime(instance.runtime.model_dump(mode="json"), override, source)
    try:
        runtime = RuntimeSpec.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(source, [ConfigIssue(_join("runtime", i.field), i.reason)
                                   for i in issues_from_validation(exc)]) from None
    instance = instance.model_copy(update={"runtime": runtime})
    return spec.model_copy(update={"instance": instance}) if isinstance(spec, ClusterSpec) else instance


def _resolve(ref: str, base: Path | None) -> tuple[Path, str]:
    candidate = Path(ref) if base is None else base / ref
    # a file's name (or a path: /, ./) is a file, never a preset's name: "file not found", not "unknown preset"
    if ref.endswith((".yaml", ".yml")) or "/" in ref or candidate.is_file():
        if not candidate.is_file():
            raise ConfigError(str(candidate), "file not found")
        return candidate, str(candidate)
    return preset_path(ref), ref


def _instance_data(ref: str, base: Path | None, reads: _Reads) -> tuple[dict[str, Any], str]:
    path, source = _resolve(ref, base)
    reads.resolutions.append((ref, base, path))
    reads.read(path)
    data = load_mapping(path, source)
    _resolve_parts(data, source, reads)
    return data, source


# validated specs by (name or path as given, working directory): frozen pydantic models, safe to share
# between simulators; an entry is used only while every file it was read from is byte-identical (A120)
_SPEC_CACHE: dict[tuple[str, str], tuple[_Reads, InstanceSpec | ClusterSpec]] = {}
_SPEC_CACHE_MAX = 64


def load_spec(name_or_path: str | Path) -> InstanceSpec | ClusterSpec:
    """Load and validate a preset name, a YAML file, or ``"<N>x <preset>"``, returning the spec.

    Validated specs are cached per name (or path) and working directory, and reused only while every
    file the spec was read from (the instance file, a cluster's instance file, named chip and runtime
    parts) has the same content: an edited user file is read again (docs/assumptions.md A120).
    Raises ``ConfigError`` naming the file, the field and the reason."""
    text = str(name_or_path)
    key = (text, os.getcwd())
    hit = _SPEC_CACHE.get(key)
    if hit is not None and hit[0].unchanged():
        return hit[1]
    reads = _Reads()
    spec = _load_spec(text, reads)
    if len(_SPEC_CACHE) >= _SPEC_CACHE_MAX:
        _SPEC_CACHE.pop(next(iter(_SPEC_CACHE)))
    _SPEC_CACHE[key] = (reads, spec)
    return spec


def _load_spec(text: str, reads: _Reads) -> InstanceSpec | ClusterSpec:
    match = _CLUSTER_SHORTHAND.match(text)
    if match:
        digits, inner = match.group(1), match.group(2)
        count = int(digits) if len(digits) <= 40 else 10**40  # more than any cluster: refused below
        instance = _load_spec(inner, reads)
        if isinstance(instance, ClusterSpec):
            raise ConfigError(text, f"{inner!r} is already a cluster")
        return cluster_of(instance, count, source=text)
    data, source = _instance_data(text, None, reads)
    if "instance" in data or "count" in data:
        ref = data.get("instance")
        base = None if source == text and not Path(text).is_file() else Path(source).parent
        if isinstance(ref, str):
            inner_data, inner_source = _instance_data(ref, base, reads)
            try:
                data["instance"] = InstanceSpec.model_validate(inner_data)
            except ValidationError as exc:
                raise ConfigError(inner_source, issues_from_validation(exc)) from None
        model: type[InstanceSpec] | type[ClusterSpec] = ClusterSpec
    else:
        model = InstanceSpec
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, issues_from_validation(exc)) from None


def cluster_of(instance: InstanceSpec, count: int, *, source: str | None = None) -> ClusterSpec:
    """A cluster of ``count`` copies of ``instance`` joined by its EFA devices."""
    name = f"{count}x {instance.name}"
    try:
        return ClusterSpec(schema_version=1, name=name, instance=instance, count=count)
    except ValidationError as exc:
        raise ConfigError(source or name, issues_from_validation(exc)) from None


def load_topology(name_or_path: str | Path | InstanceSpec | ClusterSpec, *, lnc: int | None = None) -> Topology:
    """Load a topology and resolve its logical NeuronCores for ``lnc`` (default: the chip's)."""
    if isinstance(name_or_path, (InstanceSpec, ClusterSpec)):
        spec = name_or_path
        source = spec.name
    else:
        spec = load_spec(name_or_path)
        source = str(name_or_path)
    return Topology.build(spec, lnc=lnc, source=source)
