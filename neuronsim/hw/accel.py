"""The optional compiled flow network: ``neuronsim/hw``'s flow model (``fluid.py``, ``filling.py``, ``flows.py``
and ``channel.py``, which re-exports them) and ``xu.py``, built with mypyc.

    python -m neuronsim.hw.accel build      # compile (needs mypy's mypyc, setuptools and a C compiler)
    python -m neuronsim.hw.accel status     # where the build is, and whether it matches the sources
    NEURONSIM_ACCEL=1 neuronsim run ...     # use it (any other value, or unset: the pure-Python module)

The compiled module is the same source file, compiled; the pure-Python one stays the default and the
reference (``tests/test_accel.py`` runs one program both ways and compares every simulated time). A build
lives in ``$NEURONSIM_ACCEL_DIR`` (default ``~/.cache/neuronsim/accel``), in a directory named by the
Python version and a SHA-256 of the compiled sources and of the mypy version, so a build made from other
sources is never used: ``neuronsim.hw`` puts it first on its package path at import only when
``NEURONSIM_ACCEL=1`` and a build of the current sources exists. docs/performance.md gives what it saves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from neuronsim.hw._accel_path import HW, MODULES, build_dir, built, enabled

__all__ = ["MODULES", "build", "build_dir", "enabled"]

_SETUP = """
from setuptools import setup
from mypyc.build import mypycify
setup(name="neuronsim_accel", ext_modules=mypycify({paths!r}, opt_level="3", target_dir={target!r}, separate=True),
      script_args=["build_ext", "--build-lib", {lib!r}, "--build-temp", {temp!r}])
"""

# mypyc type-checks what it compiles and what that imports; the settings the package is checked with
# (pyproject.toml's [tool.mypy], which an installed wheel does not carry): pydantic's plugin reads the specs.
_MYPY_INI = """[mypy]
plugins = pydantic.mypy
[mypy-cffi,_cffi_backend,pyarrow,pyarrow.*]
ignore_missing_imports = True
"""


def build(quiet: bool = True) -> Path:
    """Compile :data:`MODULES` with mypyc (once per source digest) and return the build's ``neuronsim/hw``.

    Raises:
        RuntimeError: mypyc or the C compiler failed (its output is in the message).
    """
    where = build_dir()
    if built(where):
        return where
    top = where.parent.parent
    top.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="neuronsim-accel-", dir=top.parent) as tmp:
        # mypyc runs in a directory holding only the package (a link to it): run in the directory that holds
        # the installed package (site-packages), it would take every module there for the user's own and
        # refuse the build (typing_extensions.py: "This file shadows library module").
        package_root = Path(tmp) / "src"
        package_root.mkdir()
        (package_root / "neuronsim").symlink_to(HW.parent, target_is_directory=True)
        (package_root / "mypy.ini").write_text(_MYPY_INI, encoding="utf-8")
        lib = Path(tmp) / "lib"
        paths = [f"neuronsim/hw/{name}" for name in MODULES]
        script = _SETUP.format(paths=paths, target=str(Path(tmp) / "c"), lib=str(lib), temp=str(Path(tmp) / "t"))
        done = subprocess.run([sys.executable, "-c", script], cwd=package_root, capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"mypyc build of {', '.join(paths)} failed:\n{done.stdout[-4000:]}{done.stderr[-4000:]}")
        staged = Path(tmp) / "staged" / "neuronsim" / "hw"
        staged.mkdir(parents=True)
        for artifact in (lib / "neuronsim" / "hw").iterdir():
            shutil.copy2(artifact, staged / artifact.name)
        try:  # another process may have built it meanwhile: the first rename wins, both are the same build
            os.replace(Path(tmp) / "staged", top)
        except OSError:
            if not built(where):
                raise
    if not quiet:
        print(f"built {', '.join(MODULES)} into {where}")
    return where


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["build"]:
        build(quiet=False)
        return 0
    if args == ["status"]:
        where = build_dir()
        print(f"build of the current sources: {where} ({'present' if built(where) else 'absent'}); "
              f"NEURONSIM_ACCEL={os.environ.get('NEURONSIM_ACCEL', '')!r} "
              f"({'in use' if enabled() is not None else 'not in use'})")
        return 0
    print("usage: python -m neuronsim.hw.accel build|status", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
