"""``neuronsim capi-config``: the compiler flags for C code linked against neuronsim's ``libnrt.so``, or an
/opt/aws/neuron-style tree of its headers and library (:mod:`neuronsim.capi`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from neuronsim.errors import ConfigError
from neuronsim.extras import install_hint

__all__ = ["add_capi_config_parser"]


def add_capi_config_parser(sub: Any) -> None:
    capi = sub.add_parser("capi-config", help="compiler flags for C code linked against neuronsim's libnrt, or an "
                          "/opt/aws/neuron-style tree of its headers and library")
    capi.add_argument("--cflags", action="store_true", help="the include flags (nrt/nrt.h, nrt/nrt_async.h, ...)")
    capi.add_argument("--libs", action="store_true", help="the link flags (builds libnrt.so on first use)")
    capi.add_argument("--libdir", action="store_true", help="the folder of libnrt.so (builds it on first use)")
    capi.add_argument("--prefix", metavar="DIR", help="lay out DIR/include/nrt/*.h and DIR/lib/libnrt.so* (as "
                      "/opt/aws/neuron: use it as NEURON_ROOT); the flags printed then point into DIR")
    capi.add_argument("--api", choices=["3.0", "2.28"], default="3.0",
                      help="the explicit async API generation: 3.0 (SDK >= 2.29, default) or 2.28 (error trackers)")
    capi.set_defaults(handler=_cmd_capi)


def _cmd_capi(args: argparse.Namespace) -> int:
    from neuronsim.capi.build import include_dirs, install_prefix, library_dir

    if not (args.cflags or args.libs or args.libdir or args.prefix):
        raise ConfigError("capi-config", "give --cflags, --libs, --libdir and/or --prefix DIR")
    needs_library = args.libs or args.libdir or args.prefix
    if needs_library:
        try:
            import cffi  # noqa: F401
        except ImportError:
            raise ConfigError("capi-config", f"building libnrt.so needs cffi, {install_hint('capi')}") from None
    folder: Path | None
    if args.prefix:
        try:
            root = install_prefix(Path(args.prefix).resolve(), args.api)
        except OSError as exc:
            raise ConfigError(args.prefix, f"cannot lay out the prefix: {exc}", field="--prefix") from None
        includes, folder = [root / "include"], root / "lib"
    else:
        includes = include_dirs(args.api)
        folder = library_dir(args.api) if needs_library else None
    words = []
    if args.cflags:
        words += [f"-I{d}" for d in includes]
    if args.libs:
        words += [f"-L{folder}", "-lnrt", f"-Wl,-rpath,{folder}"]
    if args.libdir:
        words.append(str(folder))
    if args.prefix and not words:
        words.append(str(root))
    print(" ".join(words))
    return 0
