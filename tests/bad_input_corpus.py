"""A corpus of bad inputs to the command line: every file kind it reads, every way issue #19 found one
to go wrong. ``python tests/bad_input_corpus.py DIR`` writes each case's files into ``DIR/<case>/``
and prints its command line; ``tests/test_bad_input.py`` runs every case in-process.

A case is files (name -> bytes), an ``argv`` (``{d}`` is the case's folder) and what must happen:

* ``error``: exit 2 and one line ``neuronsim: error: <file>: <field>: <reason>`` naming ``file`` (a
  path in the case's folder, or an argument such as ``neuronsim run``) and ``field`` (``""``: none);
* ``runs``: the simulation runs and ends (exit 0 or 1), in bounded time.

No case may raise out of ``main`` or take more than a few seconds.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from dataclasses import field as _field
from pathlib import Path

__all__ = ["Case", "cases"]

WORKLOAD = """\
schema_version: 1
name: probe
instance: trn1.2xlarge
models:
  m:
    inputs: {x: 1 KiB}
    outputs: {y: 1 KiB}
    cost: {duration: 10 us}
threads:
  - cores: "0"
    iterations: 3
    program:
      - {write: x}
      - {execute: m}
      - {read: y}
"""

CLUSTER = "schema_version: 1\nname: c\ninstance: trn1.32xlarge\ncount: 2\n"

SWEEP = """\
schema_version: 1
name: s
workload: w.yaml
parameters:
  threads.0.in_flight: [1, 2]
"""


@dataclass
class Case:
    name: str
    argv: list[str]
    expect: str  # "error" or "runs"
    file: str = ""  # the file (in the case's folder) or the argument the message names
    field: str | None = ""  # the field path it names ("" none; None: any)
    files: dict[str, bytes] = _field(default_factory=dict)
    reason: str = ""  # a part of the reason that must be in the message


def _topology(replace: tuple[str, str] | None = None, append: str = "") -> bytes:
    from neuronsim.topology import preset_path

    text = preset_path("trn1.2xlarge").read_text(encoding="utf-8")
    if replace is not None:
        assert replace[0] in text, replace[0]
        text = text.replace(replace[0], replace[1], 1)
    return (text + append).encode()


def _workload(*changes: tuple[str, str], append: str = "") -> bytes:
    text = WORKLOAD
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return (text + append).encode()


def _run(name: str, data: bytes, expect: str, field: str | None, reason: str = "", *extra: str) -> Case:
    return Case(name, ["run", "{d}/w.yaml", "--no-progress", *extra], expect, "w.yaml", field, {"w.yaml": data},
                reason)


def _validate(name: str, data: bytes, field: str | None, reason: str = "") -> Case:
    return Case(name, ["validate", "{d}/t.yaml"], "error", "t.yaml", field, {"t.yaml": data}, reason)


def _sweep(name: str, sweep: bytes, field: str | None, reason: str = "", workload: bytes | None = None,
           file: str = "s.yaml") -> Case:
    return Case(name, ["sweep", "{d}/s.yaml", "--out", "{d}/r.csv", "--no-progress"], "error", file, field,
                {"s.yaml": sweep, "w.yaml": workload if workload is not None else WORKLOAD.encode()}, reason)


def _encodings() -> list[tuple[str, bytes]]:
    return [
        ("latin-1", "name: caf\u00e9\n".encode("latin-1")),
        ("utf-16 with a BOM", "name: x\n".encode("utf-16")),
        ("utf-16 without a BOM", "name: x\n".encode("utf-16-le")),
        ("a cut UTF-8 sequence", "name: \u20ac\n".encode()[:-2]),
        ("random bytes", bytes(range(256))),
        ("a NUL byte", b"name: a\x00b\n"),
        ("a lone surrogate", b"name: \xed\xa0\x80\n"),
    ]


def _nestings() -> list[tuple[str, bytes]]:
    return [
        ("flow 10,000 deep", b"name: " + b"[" * 10_000 + b"]" * 10_000 + b"\n"),
        ("block 200 deep", "".join("  " * i + "k:\n" for i in range(200)).encode()),
        ("mapping 2,000 deep", b"env: " + b"{a: " * 2000 + b"1" + b"}" * 2000 + b"\n"),
        ("aliases 200 deep", ("a0: &a1 [1]\n" + "".join(f"a{i}: &a{i + 1} [*a{i}]\n" for i in range(1, 200))).encode()),
        ("a billion laughs", ("a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
            f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True))).encode()),
        ("a recursive alias", b"name: &a [1, *a]\n"),
    ]


def cases() -> list[Case]:  # noqa: PLR0915 - one list, read top to bottom
    out: list[Case] = []
    # -- 1. files that are not UTF-8 YAML text, for each file kind ------------------------------------
    for label, data in _encodings():
        out.append(_validate(f"encoding/topology/{label}", data, ""))
        out.append(_run(f"encoding/workload/{label}", data, "error", ""))
        out.append(_sweep(f"encoding/sweep/{label}", data, ""))
        out.append(_sweep(f"encoding/sweep's workload/{label}", SWEEP.encode(), "", workload=data, file="w.yaml"))
        out.append(Case(f"encoding/cluster's instance/{label}", ["validate", "{d}/c.yaml"], "error", "i.yaml", "",
                        {"c.yaml": b"schema_version: 1\nname: c\ninstance: i.yaml\ncount: 2\n", "i.yaml": data}))
    # -- 2. nesting and aliases --------------------------------------------------------------------
    for label, data in _nestings():
        out.append(_validate(f"nesting/topology/{label}", data, None))
        out.append(_run(f"nesting/workload/{label}", data, "error", None))
        out.append(_sweep(f"nesting/sweep/{label}", data, None))
    out.append(_run("nesting/--set value", WORKLOAD.encode(), "error", "", "",
                    "--set", "env=" + "[" * 5000 + "]" * 5000))
    # -- 3. huge id ranges ----------------------------------------------------------------------------
    for text in ("0-999999999", "0-99999999999999999999999999", "0,1-999999999,5", "999999999"):
        out.append(_validate(f"ranges/core_ids {text}", _topology(('core_ids: "0-1"', f'core_ids: "{text}"')),
                             "devices[0].core_ids"))
        out.append(_validate(f"ranges/cpu_affinity {text}", _topology(('cpu_affinity: "0-7"', f'cpu_affinity: "{text}"')),
                             "devices[0].cpu_affinity"))
        out.append(_run(f"ranges/workload cores {text}", _workload(('cores: "0"', f'cores: "{text}"')), "error",
                        "threads[0].cores"))
        out.append(_run(f"ranges/workload cpus {text}", _workload(('cores: "0"', f'cores: "0"\n    cpus: "{text}"')),
                        "error", "threads[0].cpus"))
    out.append(_validate("ranges/numa cpus", _topology(('cpus: "0-7"', 'cpus: "0-999999999"')),
                         "host.numa_nodes[0].cpus"))
    # -- 4. big exponents in sizes, times and bandwidths -----------------------------------------------
    for text in ("1e999999999 B", "1e30 GiB", "1e400 B", "1e-999999999 B", "18446744073709551616 B"):
        out.append(_validate(f"exponents/hbm size {text}", _topology(("memory_bytes: 32 GiB", f"memory_bytes: {text}")),
                             "host.memory_bytes"))
        out.append(_run(f"exponents/tensor size {text}", _workload(("inputs: {x: 1 KiB}", f"inputs: {{x: {text}}}")),
                        "error", "models.m.inputs.x"))
    for text in ("1e999999999 s", "1e999999 ns", "1e-999999999 s", "1e30 s"):
        out.append(_run(f"exponents/duration {text}", _workload(("duration: 10 us", f"duration: {text}")), "error",
                        "models.m.cost.duration"))
        out.append(_run(f"exponents/until {text}", _workload(append=f"until: {text}\n"), "error", "until"))
    for text in ("1e999999999 GB/s", "1e-999999999 GB/s", "1e-300 GB/s", "1e300 GB/s"):
        out.append(_validate(f"exponents/bandwidth {text}",
                             _topology(("pcie_bandwidth_bytes_per_ns: 16 GB/s", f"pcie_bandwidth_bytes_per_ns: {text}")),
                             "host.pcie_bandwidth_bytes_per_ns"))
    out.append(_run("exponents/--set a size", WORKLOAD.encode(), "error", "models.m.inputs.x", "",
                    "--set", "models.m.inputs.x=1e999999999 B"))
    out.append(Case("exponents/--until", ["run", "{d}/w.yaml", "--until", "1e999999999 s"], "error", "neuronsim run",
                    "--until", {"w.yaml": WORKLOAD.encode()}))
    # -- 5. non-finite and tiny numbers ----------------------------------------------------------------
    roofline = ("cost: {duration: 10 us}", "cost: {flops: 1.0e+9}")
    for value in (".inf", "-.inf", ".nan", "1.0e+999"):
        out.append(_run(f"numbers/flops {value}", _workload(("cost: {duration: 10 us}", f"cost: {{flops: {value}}}")),
                        "error", "models.m.cost.flops"))
        out.append(_run(f"numbers/rate {value}", _workload(("iterations: 3", f"iterations: 3\n    arrivals: "
                                                             f"{{kind: fixed, rate: {value}}}")), "error",
                        "threads[0].arrivals.rate"))
        out.append(_run(f"numbers/fault slowdown {value}", _workload(append=f"faults:\n  - {{target: core, core: 0, "
                                                                      f"slowdown: {value}}}\n"), "error",
                        "faults[0].slowdown"))
        out.append(_validate(f"numbers/bandwidth {value}",
                             _topology(("pcie_bandwidth_bytes_per_ns: 16 GB/s", f"pcie_bandwidth_bytes_per_ns: {value}")),
                             "host.pcie_bandwidth_bytes_per_ns"))
    for value in ("1.0e-300", "1.0e-320"):
        out.append(_run(f"numbers/efficiency {value}", _workload(roofline, ("flops: 1.0e+9", f"flops: 1.0e+9, "
                                                                            f"efficiency: {value}")),
                        "error", "models.m.cost.efficiency"))
        out.append(_run(f"numbers/rate {value}", _workload(("iterations: 3", "iterations: 3\n    arrivals: "
                                                             f"{{kind: poisson, rate: {value}}}")), "error",
                        "threads[0].arrivals.rate"))
        out.append(_run(f"numbers/fault probability {value}", _workload(append=f"faults:\n  - {{target: core, core: 0,"
                                                                          f" status: NRT_TIMEOUT, probability: {value}}}\n"),
                        "runs", None))
    # the least efficiency: 10 s per execution, simulated
    out.append(_run("numbers/efficiency 1e-6", _workload(roofline, ("flops: 1.0e+9", "flops: 1.0e+9, efficiency: 1.0e-6")),
                    "runs", None))
    out.append(_run("numbers/flops 1e300 at efficiency 1e-6", _workload(
        roofline, ("flops: 1.0e+9", "flops: 1.0e+300, efficiency: 1.0e-6")), "runs", None))
    out.append(_run("numbers/probability .nan", _workload(append="faults:\n  - {target: core, core: 0, "
                                                                 "status: NRT_TIMEOUT, probability: .nan}\n"),
                    "error", "faults[0].probability"))
    out.append(_run("numbers/a 5,000-digit seed", _workload(append="seed: " + "9" * 5000 + "\n"), "error", ""))
    out.append(_run("numbers/a 1,000-digit seed", _workload(append="seed: " + "9" * 1000 + "\n"), "runs", None))
    out.append(_run("numbers/a 1,000-digit instance", _workload(("cores:", "instance: " + "9" * 1000 + "\n    cores:")),
                    "error", "threads[0].instance"))
    out.append(_run("numbers/a 1,000-digit in_flight", _workload(("iterations: 3", "iterations: 3\n    in_flight: " +
                                                                  "9" * 1000)), "error", "threads[0].in_flight"))
    out.append(_sweep("numbers/sweep range step 1e-300", SWEEP.replace(
        "[1, 2]", "{range: {start: 1, stop: 2, step: 1.0e-300}}").encode(), "parameters.threads.0.in_flight"))
    out.append(_sweep("numbers/sweep sample count 1e12", SWEEP.replace(
        "[1, 2]", "{sample: {low: 1, high: 2, count: 1000000000000}}").encode(),
        "parameters.threads.0.in_flight.sample.count"))
    out.append(_sweep("numbers/sweep range to .inf", SWEEP.replace(
        "[1, 2]", "{range: {start: 1, stop: .inf, step: 1}}").encode(), "parameters.threads.0.in_flight.range.stop"))
    out.append(_sweep("numbers/sweep sample .nan", SWEEP.replace(
        "[1, 2]", "{sample: {low: .nan, high: 2, count: 2}}").encode(), "parameters.threads.0.in_flight.sample.low"))
    out.append(_sweep("numbers/sweep repetitions 1e9", SWEEP.replace("parameters:", "repetitions: 1000000000\n"
                                                                     "parameters:").encode(), "repetitions"))
    # -- 6. references to what does not exist -----------------------------------------------------------
    for kind, step in (("write", "{write: x, queue: 99}"), ("read", "{read: y, queue: 99}")):
        out.append(_run(f"references/{kind} queue 99", _workload((f"{{{kind}: {'x' if kind == 'write' else 'y'}}}",
                                                                  step)), "error", None, "queue"))
    out.append(_run("references/collective queue 99", _workload(('cores: "0"', 'cores: "0-1"'), (
        "{read: y}", "{read: y}\n      - {collective: {op: allreduce, size: 1 KiB}, queue: 99}")), "error", None,
        "queue"))
    out.append(_run("references/unknown status", _workload(append="faults:\n  - {target: core, core: 0, "
                                                                  "status: NRT_NOPE}\n"), "error", "faults[0].status"))
    out.append(_run("references/status 99999", _workload(append="faults:\n  - {target: core, core: 0, "
                                                                "status: 99999}\n"), "error", "faults[0].status"))
    out.append(_run("references/fault on core 999", _workload(append="faults:\n  - {target: core, core: 999, "
                                                                     "status: NRT_TIMEOUT}\n"), "error", None))
    out.append(_run("references/unknown instance preset", _workload(("instance: trn1.2xlarge", "instance: trn9")),
                    "error", "instance", "unknown instance preset 'trn9'"))
    out.append(Case("references/unknown --instance", ["run", "{d}/w.yaml", "--instance", "trn9"], "error",
                    "trn9", "", {"w.yaml": WORKLOAD.encode()}, "unknown instance preset 'trn9'"))
    out.append(_validate("references/unknown chip", _topology(("chip: trainium", "chip: trainium9")), "chip"))
    # -- 7. outputs that cannot be written --------------------------------------------------------------
    files = {"w.yaml": WORKLOAD.encode(), "plain": b"a regular file\n"}
    out.append(Case("outputs/--trace under a regular file", ["run", "{d}/w.yaml", "--trace", "{d}/plain/t.json"],
                    "error", "neuronsim run", "--trace", files))
    out.append(Case("outputs/--trace is a directory", ["run", "{d}/w.yaml", "--trace", "{d}"], "error",
                    "neuronsim run", "--trace", files))
    out.append(Case("outputs/--out under a regular file", ["run", "{d}/w.yaml", "--out", "{d}/plain/o"], "error",
                    "neuronsim run", "--out", files))
    out.append(Case("outputs/--out is a regular file", ["run", "{d}/w.yaml", "--out", "{d}/plain"], "error",
                    "neuronsim run", "--out", files))
    out.append(Case("outputs/sweep --out under a regular file", ["sweep", "{d}/s.yaml", "--out", "{d}/plain/r.csv"],
                    "error", "neuronsim sweep", "--out", {**files, "s.yaml": SWEEP.encode()}))
    out.append(Case("outputs/sweep --out is a directory", ["sweep", "{d}/s.yaml", "--out", "{d}"],
                    "error", "neuronsim sweep", "--out", {**files, "s.yaml": SWEEP.encode()}))
    out.append(Case("outputs/nccom-test JSON under a regular file",
                    ["nccom-test", "allr", "-r", "2", "-b", "1kb", "-n", "1", "-w", "0", "--report-to-json-file",
                     "{d}/plain/r.json"],
                    "error", "nccom-test", "--report-to-json-file", files))
    # -- 8. inputs that pass validation and would never end -----------------------------------------------
    out.append(_run("endless/compute 0 with until", _workload(("iterations: 3", "duration: 1 ms"), (
        "program:\n      - {write: x}\n      - {execute: m}\n      - {read: y}", "program:\n      - {compute: 0}"),
        append="until: 1 ms\n"), "error", "threads[0].program"))
    out.append(_run("endless/sleep 0 with until", _workload(("    iterations: 3\n", ""), (
        "program:\n      - {write: x}\n      - {execute: m}\n      - {read: y}", "program:\n      - {sleep: 0 ns}"),
        append="until: 1 ms\n"), "error", "threads[0].program"))
    out.append(_run("endless/sleep 0 and compute 0 for a duration", _workload(("iterations: 3", "duration: 1 ms"), (
        "program:\n      - {write: x}\n      - {execute: m}\n      - {read: y}",
        "program:\n      - {sleep: 0 ns}\n      - {compute: 0 ns}")), "error", "threads[0].program"))
    out.append(_run("endless/compute 1e30 s", _workload(("{write: x}", "{compute: 1e30 s}")), "error",
                    "threads[0].program[0].compute"))
    out.append(_run("endless/compute 1e30 s with until", _workload(("{write: x}", "{compute: 1e30 s}"),
                                                                   append="until: 1 ms\n"), "error",
                    "threads[0].program[0].compute"))
    out.append(_run("endless/sleep 1e30 s", _workload(("{write: x}", "{sleep: 1e30 s}")), "error",
                    "threads[0].program[0].sleep"))
    out.append(_run("endless/rate 1e300 for a duration", _workload(("iterations: 3", "duration: 1 ms\n    arrivals: "
                                                                    "{kind: fixed, rate: 1.0e+300}")), "error",
                    "threads[0].arrivals.rate"))
    out.append(_run("endless/rate 1e300 poisson for a duration", _workload((
        "iterations: 3", "duration: 1 ms\n    arrivals: {kind: poisson, rate: 1e300}")), "error",
        "threads[0].arrivals.rate"))
    out.append(_run("endless/rate 1e300 with 3 iterations", _workload((
        "iterations: 3", "iterations: 3\n    arrivals: {kind: fixed, rate: 1e300}")), "error",
        "threads[0].arrivals.rate"))
    out.append(_run("endless/rate 1e9 with 3 iterations", _workload((
        "iterations: 3", "iterations: 3\n    arrivals: {kind: poisson, rate: 1e9}")), "runs", None))
    out.append(_run("endless/iterations 1e12", _workload(("iterations: 3", "iterations: 1000000000000")), "error",
                    "threads[0].iterations"))
    out.append(_validate("endless/memory size 1e999999 B", _topology(("memory_bytes: 32 GiB", "memory_bytes: 1e999999 B")),
                         "host.memory_bytes"))
    out.append(Case("endless/a cluster of 100,000 instances", ["run", "{d}/w.yaml", "--instance", "100000x trn1.32xlarge"],
                    "error", "100000x trn1.32xlarge", "count", {"w.yaml": WORKLOAD.encode()}))
    out.append(Case("endless/a cluster file of 100,000 instances", ["validate", "{d}/c.yaml"], "error", "c.yaml", "count",
                    {"c.yaml": CLUSTER.replace("count: 2", "count: 100000").encode()}))
    out.append(Case("endless/a sweep over 100,000 instances", ["sweep", "{d}/s.yaml", "--out", "{d}/r.csv"], "error",
                    "s.yaml", "parameters.instance", {"w.yaml": WORKLOAD.encode(), "s.yaml": SWEEP.replace(
                        "threads.0.in_flight: [1, 2]", "instance: [100000x trn1.32xlarge]").encode()}))
    # -- 9. Python workloads ------------------------------------------------------------------------------
    out.append(Case("python/missing function", ["run", "{d}/p.py:nope", "--instance", "trn1.2xlarge"], "error",
                    "p.py", "nope", {"p.py": b"def workload(sim):\n    pass\n"}, "has no function 'nope'"))
    out.append(Case("python/not a function", ["run", "{d}/p.py:x", "--instance", "trn1.2xlarge"], "error",
                    "p.py", "x", {"p.py": b"x = 3\n"}, "'x' is not a function (an int)"))
    out.append(Case("python/syntax error", ["run", "{d}/p.py:workload", "--instance", "trn1.2xlarge"], "error",
                    "p.py", "", {"p.py": b"def workload(sim)\n    pass\n"}, "SyntaxError"))
    out.append(Case("python/missing file", ["run", "{d}/nope.py:workload", "--instance", "trn1.2xlarge"], "error",
                    "nope.py", "", {}, "file not found"))
    out.append(Case("python/no --instance", ["run", "{d}/p.py:workload"], "error", "p.py", "--instance",
                    {"p.py": b"def workload(sim):\n    pass\n"}))
    out.append(Case("python/not UTF-8 in a comment", ["run", "{d}/p.py:workload", "--instance", "trn1.2xlarge"],
                    "runs", "p.py", "", {"p.py": b"# caf\xe9\ndef workload(sim):\n    pass\n"}))
    out.append(Case("python/not UTF-8 in code", ["run", "{d}/p.py:workload", "--instance", "trn1.2xlarge"],
                    "error", "p.py", "", {"p.py": b"def workload(sim):\n    return '\xe9'\n"}, "cannot import"))
    # -- 10. shapes: empty files, lists, other schema versions, more than one document -----------------------
    for label, data in (("empty", b""), ("a list", b"- 1\n- 2\n"), ("a scalar", b"3\n"), ("two documents", b"a: 1\n---\nb: 2\n"),
                        ("schema 2", b"schema_version: 2\nname: x\n")):
        out.append(_validate(f"shapes/topology/{label}", data, None))
        out.append(_run(f"shapes/workload/{label}", data, "error", None))
        out.append(_sweep(f"shapes/sweep/{label}", data, None))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tests/bad_input_corpus.py DIR", file=sys.stderr)
        return 2
    root = Path(argv[0])
    for i, case in enumerate(cases()):
        folder = root / f"{i:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in case.files.items():
            (folder / name).write_bytes(data)
        print(f"{i:03d} {case.name}: neuronsim {' '.join(a.replace('{d}', str(folder)) for a in case.argv)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
