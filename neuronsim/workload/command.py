"""What the ``run`` and ``sweep`` subcommands (:mod:`neuronsim.cli`) share below the command line: an output
path checked before anything runs (:func:`check_output`, which the sweep runner uses too) and the progress
bar on stderr (:class:`Progress`)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from neuronsim.errors import ConfigError
from neuronsim.units import format_ns

__all__ = ["Progress", "check_output"]


def check_output(path: str | Path, source: str, field: str, *, directory: bool = False) -> Path:
    """``path``, checked before anything runs to be a file (or, with ``directory``, a folder) that can
    be written: not a folder (a file), not a file (a folder), in a folder that exists or can be made (a file's
    folder is made here, and the file made and removed, so that a place no file can go is found now).

    Raises:
        ConfigError: naming ``source`` and ``field`` (``neuronsim run``, ``--trace``) and the reason.
    """
    if not str(path).strip():  # Path("") is the current folder: an empty argument is a mistake, not "here"
        raise ConfigError(source, f"an empty {'folder' if directory else 'file'} name", field=field)
    target = Path(path)
    if directory and target.exists() and not target.is_dir():
        raise ConfigError(source, f"{str(target)!r} is a file, not a folder", field=field)
    if not directory and target.is_dir():
        raise ConfigError(source, f"{str(target)!r} is a folder, not a file", field=field)
    if target.exists():
        if not os.access(target, os.W_OK):
            raise ConfigError(source, f"cannot write {str(target)!r}: permission denied", field=field)
        return target
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(source, f"cannot write {str(target)!r}: {str(folder)!r} is a file, not a folder",
                          field=field)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(source, f"cannot write {str(target)!r}: permission denied in {str(folder)!r}", field=field)
    if not directory:  # os.access says yes to root everywhere (/proc, /sys): make the folder and the file to know
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.open("x").close()
            target.unlink()
        except OSError as exc:
            raise ConfigError(source, f"cannot write {str(target)!r}: {exc.strerror or exc}", field=field) from None
    return target


class Progress:
    """A progress bar on stderr (over simulated time, or iterations), shown once a run has taken a second
    of wall time."""

    WIDTH = 30

    def __init__(self, stream: Any = None, after_s: float = 1.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.monotonic()
        self.after_s = after_s
        self.shown = False

    def __call__(self, done: int, total: int, unit: str = "ns") -> None:
        if not self.shown and time.monotonic() - self.started < self.after_s:
            return
        self.shown = True
        fraction = min(1.0, done / total) if total else 1.0
        bar = "#" * int(fraction * self.WIDTH)
        what = f"{format_ns(done)} of {format_ns(total)}" if unit == "ns" else f"{done} of {total} {unit}"
        self.stream.write(f"\r[{bar:<{self.WIDTH}}] {fraction * 100:5.1f} %  {what}")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()

