"""Compiled NEFF files: reading what ``nrt_load`` needs from one, and writing small ones for tests.

A NEFF (Neuron Executable File Format) file is a 1024-byte little-endian header followed by a
gzipped tar (the payload). The header fields neuronsim reads (layout in docs/assumptions.md A40):

====== ====== ==============================================================================
offset bytes  field
====== ====== ==============================================================================
0      8      packaging version (1: tar.gz + SHA-256, 2: tar.gz + MD5; others unsupported)
8      8      header size (1024)
16     8      payload size in bytes
24     8      NEFF version, major (1 or 2 supported)
32     8      NEFF version, minor
40     128    build string
168    4      number of (logical) NeuronCores the model needs
172    32     the payload's hash (MD5: its first 16 bytes; SHA-256: all 32)
204    16     UUID
220    256    model name (NUL-terminated)
====== ====== ==============================================================================

The payload's files neuronsim reads:

* ``neff.json``: the graph. Inputs are ``metadata.signatures.default.inputs`` (name -> ``{id, dtype,
  shape}``), else the ``arg_nodes``; outputs are the ``heads``, each naming a node's output
  (``output_names``), with shape and dtype in ``attrs.shape`` / ``attrs.dltype`` at the entry
  ``node_row_ptr[node] + index``. An output named twice (one per subgraph) is one output.
* ``kelf-0.json``: the subgraphs (``graphs``) and the target chip (``target``).
* ``hlo_stats.json``: ``HloMacCount`` (multiply-accumulates) and ``Traffic`` (bytes) of one execution,
  which give the cost: :class:`~neuronsim.runtime.neff.Roofline` with ``2 x HloMacCount`` flops and
  ``Traffic`` HBM bytes. Without them (absent, or not positive) the cost is the roofline of the
  model's inputs and outputs moved over HBM with no compute (A41), and the load logs so.

:func:`read_neff` turns the bytes into a :class:`~neuronsim.runtime.neff.Neff` (with ``.uuid``,
``.target``, ``.cores``, ``.subgraphs`` and ``.source = "neff"``); everything wrong with the bytes is
a :class:`NeffError` carrying the status ``nrt_load`` returns and a message naming the field.
:func:`write_neff` writes a NEFF of any signature for test fixtures (neuronsim's own writer, with the
layout above; it carries no instructions). :func:`load_kernels` finds the numpy kernels a
``NEURONSIM_KERNELS`` module attaches to NEFFs loaded from C or ctypes.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import importlib.util
import io
import json
import logging
import math
import re
import struct
import tarfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuronsim.nrt import NRT_STATUS
from neuronsim.runtime.neff import DTYPES, Neff, Roofline
from neuronsim.runtime.neff_description import NeffDescription, neff_from_description

__all__ = ["NeffError", "read_neff", "write_neff", "is_neff_file", "neff_from_bytes", "load_kernels",
           "HEADER_BYTES", "TARGETS"]

log = logging.getLogger("neuronsim.runtime")
S = NRT_STATUS

HEADER_BYTES = 1024
PACKAGING = {1: "sha256", 2: "md5"}  # packaging version -> the payload hash's algorithm
NEFF_MAJORS = (1, 2)  # NEFF versions read (the real files carry 2.0)
# the ``target`` a compiler writes into kelf-0.json -> the NeuronCore version it runs on (A40):
# "cayman" is what neuronx-cc 2.23 writes for Trainium2 (shared/neffs/README.md)
TARGETS = {"cayman": "v3", "trn2": "v3", "trainium2": "v3", "sunda": "v2", "trn1": "v2", "inf2": "v2",
           "trainium": "v2", "inferentia2": "v2"}
_NC_ORDER = {"v2": 2, "v3": 3, "v4": 4}
# dtype names a NEFF uses -> neuronsim's DTYPES keys
_DTYPE_NAMES = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16", "int8": "int8",
                "int16": "int16", "int32": "int32", "int64": "int64", "uint8": "uint8", "uint16": "uint16",
                "uint32": "uint32", "uint64": "uint64", "float8_e4m3": "fp8_e4", "float8_e4m3fn": "fp8_e4",
                "float8_e5m2": "fp8_e5", "float8_e3m4": "fp8_e3", "fp8_e3": "fp8_e3", "fp8_e4": "fp8_e4",
                "fp8_e5": "fp8_e5"}


class NeffError(Exception):
    """The NEFF bytes cannot be loaded: ``status`` is what ``nrt_load`` returns, the message says why."""

    def __init__(self, status: NRT_STATUS, message: str) -> None:
        super().__init__(message)
        self.status = status


def is_neff_file(data: bytes) -> bool:
    """Whether ``data`` starts as a compiled NEFF does (its header size field is 1024)."""
    return len(data) >= 16 and struct.unpack_from("<Q", data, 8)[0] == HEADER_BYTES


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _member(tar: tarfile.TarFile, name: str, where: str, required: bool = True) -> Any:
    """The JSON file ``name`` of the payload (None when absent and not required)."""
    try:
        member = tar.getmember(name)
    except KeyError:
        if required:
            raise NeffError(S.NRT_INVALID, f"{where}: the payload has no {name}") from None
        return None
    handle = tar.extractfile(member)
    if handle is None:
        raise NeffError(S.NRT_INVALID, f"{where}: {name} is not a regular file")
    try:
        return json.loads(handle.read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise NeffError(S.NRT_INVALID, f"{where}: {name} is not JSON: {exc}") from None


def _dtype(value: Any, where: str) -> str:
    name = _DTYPE_NAMES.get(str(value))
    if name is None:
        raise NeffError(S.NRT_INVALID, f"{where}: unsupported dtype {value!r}")
    return name


def _shape(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in value):
        raise NeffError(S.NRT_INVALID, f"{where}: shape {value!r} is not a list of sizes")
    return tuple(value)


def _signature(graph: Any, where: str) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """``(inputs, outputs)``: name -> (shape, dtype), in the graph's order."""
    if not isinstance(graph, dict):
        raise NeffError(S.NRT_INVALID, f"{where}: neff.json is not an object")
    try:
        nodes = graph["nodes"]
        attrs = graph.get("attrs", {})
        shapes = attrs["shape"][1]
        dtypes = attrs["dltype"][1]
        rows = graph["node_row_ptr"]
        heads = graph["heads"]
    except (KeyError, IndexError, TypeError) as exc:
        raise NeffError(S.NRT_INVALID, f"{where}: neff.json lacks the graph field {exc}") from None

    def entry(node: int, index: int, field: str) -> tuple[tuple[int, ...], str]:
        try:
            k = rows[node] + index
            return _shape(shapes[k], f"{where}: {field}"), _dtype(dtypes[k], f"{where}: {field}")
        except (IndexError, TypeError):
            raise NeffError(S.NRT_INVALID, f"{where}: {field} has no shape/dtype entry") from None

    inputs: dict[str, tuple] = {}
    signature = ((graph.get("metadata") or {}).get("signatures") or {}).get("default") or {}
    declared = signature.get("inputs") if isinstance(signature, dict) else None
    try:
        if declared:
            for name, spec in sorted(declared.items(), key=lambda item: item[1].get("id", 0)):
                field = f"neff.json metadata.signatures.default.inputs.{name}"
                inputs[str(name)] = (_shape(spec["shape"], f"{where}: {field}"), _dtype(spec["dtype"], f"{where}: {field}"))
        else:
            for node in graph.get("arg_nodes", []):
                name = str(nodes[node]["name"])
                inputs[name] = entry(node, 0, f"neff.json input {name!r}")
        outputs: dict[str, tuple] = {}
        for head in heads:
            node, index = int(head[0]), int(head[1])
            name = str(nodes[node]["output_names"][index])
            found = entry(node, index, f"neff.json output {name!r}")
            if name in outputs:  # one output per subgraph in the graph: the same tensor
                if outputs[name] != found:
                    raise NeffError(S.NRT_INVALID, f"{where}: neff.json output {name!r} is listed twice with "
                                                   f"different shapes or dtypes")
                continue
            outputs[name] = found
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise NeffError(S.NRT_INVALID, f"{where}: neff.json is malformed ({type(exc).__name__}: {exc})") from None
    if not outputs:
        raise NeffError(S.NRT_INVALID, f"{where}: neff.json declares no outputs")
    return inputs, outputs


def _number(stats: Mapping[str, Any], key: str) -> int | None:
    value = stats.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return int(value)
    return None


def _device_memory(tar: tarfile.TarFile, where: str) -> tuple[int, int]:
    """``(constants bytes, scratchpad bytes)`` the subgraphs' ``def.json`` record: the sum of the
    ``file`` variables (model constants, every subgraph's own copy) and the largest
    ``backing_variable_off + size`` of a ``virtual`` one (device-memory.rst: "Runtime iterates through
    all scratchpad variables in def.json and computes MAX of offset + size"); A71."""
    constants = scratchpad = 0
    for name in sorted({n for n in tar.getnames() if re.fullmatch(r"sg\d+/def\.json", n)}):
        variables = (_member(tar, name, where) or {}).get("var", {})
        if not isinstance(variables, dict):
            raise NeffError(S.NRT_INVALID, f"{where}: {name} var must be an object")
        for key, var in variables.items():
            if not isinstance(var, dict) or var.get("type") not in ("file", "virtual"):
                continue
            size, offset = var.get("size", 0), var.get("backing_variable_off", 0)
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (size, offset)):
                raise NeffError(S.NRT_INVALID, f"{where}: {name} var.{key}: size and backing_variable_off must be "
                                               "integers >= 0")
            if var["type"] == "file":
                constants += size
            else:
                scratchpad = max(scratchpad, offset + size)
    return constants, scratchpad


def read_neff(data: bytes, *, source: str = "NEFF", validate_hash: bool = False,
              kernel: Callable[..., Mapping[str, Any]] | None = None) -> Neff:
    """The :class:`~neuronsim.runtime.neff.Neff` a compiled NEFF file describes.

    Args:
        data: the file's bytes.
        source: what to call it in messages (a path, or "NEFF").
        validate_hash: check the payload against the header's hash (``NEURON_RT_VALIDATE_HASH``).
        kernel: the numpy kernel its executions run (else its outputs are zero-filled, logged once).

    Raises:
        NeffError: ``NRT_INVALID`` for a truncated or corrupt file (header, gzip, tar or JSON) or a
            hash mismatch; ``NRT_UNSUPPORTED_NEFF_VERSION`` for a packaging or NEFF version neuronsim
            does not read. The message names the file, the field and the reason.
    """
    data = bytes(data)
    if len(data) < HEADER_BYTES:
        raise NeffError(S.NRT_INVALID, f"{source}: truncated: {len(data)} bytes, shorter than the "
                                       f"{HEADER_BYTES}-byte NEFF header")
    packaging, header_size, payload_size, major, minor = struct.unpack_from("<5Q", data, 0)
    if header_size != HEADER_BYTES:
        raise NeffError(S.NRT_INVALID, f"{source}: header size field is {header_size}, not {HEADER_BYTES}")
    if packaging not in PACKAGING:
        raise NeffError(S.NRT_UNSUPPORTED_NEFF_VERSION,
                        f"{source}: packaging version {packaging} is not supported (supported: {sorted(PACKAGING)})")
    if major not in NEFF_MAJORS:
        raise NeffError(S.NRT_UNSUPPORTED_NEFF_VERSION,
                        f"{source}: NEFF version {major}.{minor} is not supported (supported majors: {NEFF_MAJORS})")
    payload = data[HEADER_BYTES:]
    if len(payload) < payload_size:
        raise NeffError(S.NRT_INVALID, f"{source}: truncated: the header gives a {payload_size}-byte payload, "
                                       f"the file holds {len(payload)}")
    payload = payload[:payload_size]
    (cores,) = struct.unpack_from("<I", data, 168)
    digest = data[172:204]
    uuid = data[204:220].hex()
    name = _text(data[220:476]) or "model.neff"
    if validate_hash:
        algorithm = PACKAGING[packaging]
        expected = hashlib.new(algorithm, payload).digest()
        if digest[:len(expected)] != expected:
            raise NeffError(S.NRT_INVALID, f"{source}: payload hash mismatch ({algorithm} of the payload is "
                                           f"{expected.hex()}, the header says {digest[:len(expected)].hex()})")
    try:
        raw = gzip.GzipFile(fileobj=io.BytesIO(payload)).read()
    except (OSError, EOFError, zlib.error) as exc:
        raise NeffError(S.NRT_INVALID, f"{source}: payload is not gzip data: {exc}") from None
    try:
        tar = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")
    except tarfile.TarError as exc:
        raise NeffError(S.NRT_INVALID, f"{source}: payload is not a tar archive: {exc}") from None
    with tar:
        graph = _member(tar, "neff.json", source)
        kelf = _member(tar, "kelf-0.json", source, required=False) or {}
        stats = _member(tar, "hlo_stats.json", source, required=False) or {}
        constants, scratchpad = _device_memory(tar, source)
    inputs, outputs = _signature(graph, source)
    if not isinstance(kelf, dict) or not isinstance(stats, dict):
        raise NeffError(S.NRT_INVALID, f"{source}: kelf-0.json and hlo_stats.json must be objects")
    target = str(kelf.get("target", "")) or None
    graphs = kelf.get("graphs", [])
    subgraphs = len(graphs) if isinstance(graphs, list) and graphs else 1
    macs, traffic = _number(stats, "HloMacCount"), _number(stats, "Traffic")
    fp32 = any(dtype == "float32" for _, dtype in list(inputs.values()) + list(outputs.values()))
    if macs is None:
        log.warning("NRT: %s (%s) records no MAC count (hlo_stats.json HloMacCount): its cost is its inputs and "
                    "outputs moved over HBM", source, name)
        cost = Roofline(0, traffic, "fp32" if fp32 else "bf16")
    else:
        cost = Roofline(2 * macs, traffic, "fp32" if fp32 else "bf16")
    neff = Neff(inputs, outputs, cost=cost, kernel=kernel, name=name, weights_bytes=constants,
                scratchpad_bytes=scratchpad)
    if kernel is None:
        neff.kernel = _zero_kernel(neff, source)
    neff.uuid = uuid
    neff.target = target
    neff.cores = max(1, int(cores))
    neff.subgraphs = subgraphs
    neff.source = "neff"
    neff.version = (int(major), int(minor))
    return neff


def _zero_kernel(neff: Neff, source: str) -> Callable[..., dict[str, np.ndarray]]:
    """Outputs of zeros, with one log line the first time (a real NEFF's instructions are not run)."""
    told: list[bool] = []

    def zeros(**_inputs: Any) -> dict[str, np.ndarray]:
        if not told:
            told.append(True)
            log.warning("NRT: %s (%s, uuid %s) has no kernel attached: its outputs are zero-filled (attach one "
                        "with NEURONSIM_KERNELS)", source, neff.name, getattr(neff, "uuid", "?"))
        return {t.name: np.zeros(t.shape, t.numpy_dtype) for t in neff.outputs}

    zeros.neuronsim_zero_fill = True  # type: ignore[attr-defined]
    return zeros


def check_target(neff: Any, nc_version: str, allow_legacy: bool) -> None:
    """Refuse a NEFF compiled for another NeuronCore version (``NRT_INVALID``); an older one runs when
    ``NEURON_RT_ALLOW_LEGACY_NEFF`` is set, as the runtime's variable says."""
    target = getattr(neff, "target", None)
    if target is None:
        return
    built = TARGETS.get(target.lower())
    if built is None:
        raise NeffError(S.NRT_INVALID, f"{neff.name}: kelf-0.json target {target!r} is not a chip neuronsim knows "
                                       f"(known: {', '.join(sorted(TARGETS))})")
    if built == nc_version:
        return
    if allow_legacy and _NC_ORDER.get(built, 0) < _NC_ORDER.get(nc_version, 0):
        return
    raise NeffError(S.NRT_INVALID, f"{neff.name}: compiled for {target} (NeuronCore-{built}), this instance has "
                                   f"NeuronCore-{nc_version}")


# -- kernels for NEFFs loaded from C -------------------------------------------------------------------


def load_kernels(spec: str) -> Callable[[Neff], Callable[..., Mapping[str, Any]] | None]:
    """The kernel finder of a ``NEURONSIM_KERNELS`` value: a module name or a ``.py`` path.

    The module defines ``KERNELS``, a dict from a NEFF's name or UUID (32 hex digits, dashes allowed)
    to a kernel (keyword arguments: the inputs as numpy arrays; returns a dict of outputs), and/or
    ``kernel_for(neff)`` returning a kernel or None. A path is imported without touching
    ``sys.path``. Raises ``ImportError`` (or what the module raises) when it cannot be imported.
    """
    if spec.endswith(".py") or "/" in spec:
        path = Path(spec)
        loader = importlib.util.spec_from_file_location(f"neuronsim_kernels_{path.stem}", path)
        if loader is None or loader.loader is None:
            raise ImportError(f"NEURONSIM_KERNELS: cannot import {spec}")
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
    else:
        module = importlib.import_module(spec)
    table = {str(k).replace("-", "").lower(): v for k, v in dict(getattr(module, "KERNELS", {})).items()}
    finder = getattr(module, "kernel_for", None)

    def find(neff: Neff) -> Callable[..., Mapping[str, Any]] | None:
        for key in (getattr(neff, "uuid", None), neff.name):
            if key is not None and str(key).lower() in table:
                return table[str(key).lower()]
        return finder(neff) if finder is not None else None

    return find


def neff_from_bytes(data: bytes, *, source: str = "NEFF", validate_hash: bool = False,
                    kernels: Callable[[Neff], Any] | None = None) -> Neff:
    """A Neff from bytes ``nrt_load`` was given: a compiled NEFF file, or a neuronsim NEFF description
    (YAML/JSON, :class:`neuronsim.runtime.neff_description.NeffDescription`). Raises :class:`NeffError`
    (``NRT_INVALID`` for bytes that are neither, saying which of the two it expected)."""
    data = bytes(data)
    if is_neff_file(data):
        neff = read_neff(data, source=source, validate_hash=validate_hash)
        found = kernels(neff) if kernels is not None else None
        if found is not None:
            neff.kernel = found
        return neff
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NeffError(S.NRT_INVALID, f"neither a compiled NEFF (a {HEADER_BYTES}-byte header whose size "
                                       f"field at offset 8 is {HEADER_BYTES}, then a gzipped tar) nor a neuronsim "
                                       f"NEFF description (UTF-8 YAML or JSON)") from None
    import yaml
    from pydantic import ValidationError

    try:
        raw = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:  # one line: the parser's problem and where (it prints a diagram)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise NeffError(S.NRT_INVALID, f"not a compiled NEFF (no NEFF header) nor a NEFF description (YAML/JSON): "
                                       f"{problem}{where}") from None
    if not isinstance(raw, dict):
        raise NeffError(S.NRT_INVALID, f"not a NEFF description (a mapping with inputs, outputs and cost) nor a "
                                       f"compiled NEFF (a {HEADER_BYTES}-byte header, then a gzipped tar)")
    try:
        description = NeffDescription.model_validate(raw)
        neff = neff_from_description(description.name, description)
    except ValidationError as exc:  # one line: each field and its reason (pydantic's text spans lines, with links)
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'the description'}: {e['msg']}"
                           for e in exc.errors(include_url=False))
        raise NeffError(S.NRT_INVALID, f"not a NEFF description: {fields}") from None
    except ValueError as exc:
        raise NeffError(S.NRT_INVALID, f"not a NEFF description: {exc}") from None
    neff.source = "description"
    return neff


# -- writer (test fixtures) --------------------------------------------------------------------------


def _tar_add(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(payload))


def write_neff(inputs: Mapping[str, tuple[Sequence[int], str]], outputs: Mapping[str, tuple[Sequence[int], str]],
               *, name: str = "model.neff", target: str = "trn1", cores: int = 1, subgraphs: int = 1,
               mac_count: int | None = None, traffic: int | None = None, uuid: str | None = None,
               packaging_version: int = 2, version: tuple[int, int] = (2, 0), signature: bool = True,
               path: str | Path | None = None) -> bytes:
    """The bytes of a NEFF file with this signature (neuronsim's writer; no instructions inside).

    Args:
        inputs / outputs: name -> ``(shape, dtype)`` (dtype as a NEFF names it: ``"float16"``, ...).
        name: the model name in the header. target: kelf-0.json's chip (``"trn1"``, ``"cayman"``, ...).
        cores: the header's core count. subgraphs: ``sgNN`` folders; each lists every output once
            in ``neff.json``'s heads (as the compiler does), so outputs appear ``subgraphs`` times.
        mac_count / traffic: hlo_stats.json's ``HloMacCount`` / ``Traffic`` (omitted when None).
        uuid: 32 hex digits (default: derived from the name, so the bytes are reproducible).
        packaging_version: 1 (SHA-256) or 2 (MD5), or any other number to write an unsupported file.
        signature: list the inputs under ``metadata.signatures`` (else only as ``arg_nodes``).
        path: also write the file there.
    """
    in_items, out_items = list(inputs.items()), list(outputs.items())
    nodes: list[dict[str, Any]] = [{"op": "null", "name": n, "inputs": [], "output_names": [n], "is_param": "0"}
                                   for n, _ in in_items]
    per_graph = len(out_items)
    nodes.append({"op": "tvm_op", "name": "sg_core", "attrs": {"kelf": "kelf-0.json", "num_inputs": str(len(in_items)),
                                                               "num_outputs": str(per_graph * subgraphs)},
                  "inputs": [[i, 0, 0] for i in range(len(in_items))],
                  "output_names": [n for _ in range(subgraphs) for n, _ in out_items]})
    core = len(nodes) - 1
    shapes = [list(s) for _, (s, _) in in_items] + [list(s) for _ in range(subgraphs) for _, (s, _) in out_items]
    dtypes = [d for _, (_, d) in in_items] + [d for _ in range(subgraphs) for _, (_, d) in out_items]
    graph: dict[str, Any] = {
        "nodes": nodes, "arg_nodes": list(range(len(in_items))),
        "heads": [[core, k, 0] for k in range(per_graph * subgraphs)],
        "attrs": {"shape": ["list_shape", shapes], "storage_id": ["list_int", list(range(len(shapes)))],
                  "dltype": ["list_str", dtypes]},
        "node_row_ptr": list(range(len(in_items) + 1)) + [len(in_items) + per_graph * subgraphs],
    }
    if signature:
        graph["metadata"] = {"signatures": {"default": {
            "inputs": {n: {"id": i, "dtype": d, "shape": list(s)} for i, (n, (s, d)) in enumerate(in_items)},
            "outputs": {}}}}
    files = {"info.json": {"name": name, "num_tpb": cores, "num_tpb_requested": cores},
             "neff.json": graph,
             "kelf-0.json": {"graphs": [{"definition": f"sg{k:02d}/def.json", "name": f"sg{k:02d}"}
                                        for k in range(subgraphs)], "version": "0.5", "target": target}}
    stats: dict[str, Any] = {}
    if mac_count is not None:
        stats["HloMacCount"] = mac_count
    if traffic is not None:
        stats["Traffic"] = traffic
    if stats:
        files["hlo_stats.json"] = stats
    for k in range(subgraphs):
        var = {n: {"size": math.prod(s) * DTYPES[_DTYPE_NAMES[d]][0], "type": "input"} for n, (s, d) in in_items}
        var.update({n: {"size": math.prod(s) * DTYPES[_DTYPE_NAMES[d]][0], "type": "output"}
                    for n, (s, d) in out_items})
        files[f"sg{k:02d}/def.json"] = {"name": "definition", "var": var, "version": "0.6"}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for member, content in files.items():
            _tar_add(tar, member, json.dumps(content, indent=1).encode())
    payload = gzip.compress(buffer.getvalue(), mtime=0)
    algorithm = PACKAGING.get(packaging_version, "md5")
    digest = hashlib.new(algorithm, payload).digest().ljust(32, b"\0")
    ident = bytes.fromhex(uuid.replace("-", "")) if uuid else hashlib.md5(name.encode()).digest()  # noqa: S324
    header = bytearray(HEADER_BYTES)
    struct.pack_into("<5Q", header, 0, packaging_version, HEADER_BYTES, len(payload), *version)
    struct.pack_into("<I", header, 168, cores)
    header[172:204] = digest
    header[204:220] = ident[:16].ljust(16, b"\0")
    encoded = name.encode()[:255]
    header[220:220 + len(encoded)] = encoded
    struct.pack_into("<I", header, 476, cores)
    out = bytes(header) + payload
    if path is not None:
        Path(path).write_bytes(out)
    return out

