"""The mirror's calling convention: every ``nrt_*`` / ``nrta_*`` method returns an ``NRT_STATUS``.

``_mirror`` wraps a method: the argument count (a wrong count raises ``TypeError``, as calling any
Python function wrongly does), the state check (``NRT_UNINITIALIZED`` / ``NRT_CLOSED``), the call's
host cost in direct mode (A5, A10), and the statuses of refused arguments. A refusal is explicit:
the method (or a helper deep inside it) raises ``_Status(status, reason)``, the wrapper logs
``"<call>: <reason> -> <STATUS>"`` on the runtime's log (:mod:`neuronsim.runtime.log`) and returns the
status. Nothing else is caught: an exception from user code that runs during a call (a host thread,
a callback, a kernel that is not run as a request) or from neuronsim itself propagates with its
traceback; it is never turned into a status.

The argument checks (``_ref``, ``_int``, ``_enum``, ``_host_buffer``) and ``_Status`` live with the
process state they guard (:mod:`neuronsim.runtime.checks`) and are re-exported here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from neuronsim.runtime.checks import S, _enum, _host_buffer, _int, _ref, _refuse, _show, _Status

__all__ = ["_Status", "_mirror", "_with_caller", "_refuse", "_ref", "_int", "_enum", "_host_buffer", "_show", "S"]


def _mirror(cost: str | None, *, needs_init: bool = True) -> Callable:
    """Wrap a mirror method: argument count, state check, host cost, refusals -> logged statuses."""

    def decorate(fn: Callable) -> Callable:
        name = fn.__name__
        signature, takes_caller = _c_signature(fn)
        params = list(signature.parameters.values())[1:]
        # a call with exactly the required positional parameters (and no keywords) binds without checking
        # when every other parameter is keyword-only with a default (neuronsim's extensions to a C call)
        positional = [p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        arity = len(positional) if params[:len(positional)] == positional and all(
            p.default is p.empty for p in positional) and all(
            p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in params[len(positional):]) else -1
        params = positional

        @functools.wraps(fn)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if kwargs or len(args) != arity:
                try:
                    signature.bind(self, *args, **kwargs)
                except TypeError as exc:  # the caller's, as for any Python function
                    raise TypeError(f"{name}(): {exc}") from None
            if needs_init and self._state != "open":
                status = S.NRT_CLOSED if self._state == "closed" else S.NRT_UNINITIALIZED
                self._log.refused(name, "the runtime is " + ("closed (nrt_close was called)" if
                                                            self._state == "closed" else
                                                            "not initialized (call nrt_init first)"), status)
                return status
            if cost is not None:
                spend = self._cost_table[cost]
                if spend:
                    self._advance_to(self._env._now + spend)  # noqa: SLF001 - hot path
            try:
                return fn(self, *args, **kwargs) if kwargs else fn(self, *args)
            except _Status as exc:
                self._log.refused(name, exc.reason, exc.status)
                return exc.status

        def from_thread(self: Any, caller: Any, *args: Any) -> Any:
            """The call made by a process-mode host thread (``HostThread.call``), which has spent its host
            cost as CPU time already: the same checks and refusals, no cost, ``caller`` passed on."""
            if len(args) != arity:
                try:
                    signature.bind(self, *args)
                except TypeError as exc:
                    raise TypeError(f"{name}(): {exc}") from None
            if needs_init and self._state != "open":
                return wrapper(self, *args)  # refused there, with its log line
            try:
                return fn(self, *args, caller=caller) if takes_caller else fn(self, *args)
            except _Status as exc:
                self._log.refused(name, exc.reason, exc.status)
                return exc.status

        entry: Callable[..., Any] = wrapper
        if arity > 0:
            entry = _positional(wrapper, fn, [p.name for p in params], name, needs_init, cost)
        entry.cost_kind = cost  # type: ignore[attr-defined]  # which call cost it spends (process mode reads it)
        entry.from_thread = from_thread  # type: ignore[attr-defined]
        if takes_caller:
            entry.__signature__ = signature  # type: ignore[attr-defined]  # the C arguments only
        return entry

    return decorate


_MISSING = object()


def _c_signature(fn: Callable) -> tuple[inspect.Signature, bool]:
    """``fn``'s signature without its keyword-only ``caller`` (the process-mode thread making the call,
    passed by ``from_thread``, never by a user), and whether it has one."""
    signature = inspect.signature(fn)
    if "caller" not in signature.parameters:
        return signature, False
    return signature.replace(parameters=[p for p in signature.parameters.values() if p.name != "caller"]), True


def _with_caller(fn: Callable) -> Callable:
    """Mark a runtime method that is not a ``_mirror`` call (no status, no checks) but spends a host cost
    in direct mode: ``HostThread.call`` passes itself as ``caller`` through ``from_thread``."""
    signature, _ = _c_signature(fn)

    def from_thread(self: Any, caller: Any, *args: Any) -> Any:
        return fn(self, *args, caller=caller)

    fn.from_thread = from_thread  # type: ignore[attr-defined]
    fn.__signature__ = signature  # type: ignore[attr-defined]
    return fn


def _positional(general: Callable, fn: Callable, names: list[str], name: str, needs_init: bool,
                cost: str | None) -> Callable:
    """The wrapper of a method with ``len(names)`` plain parameters, taking them as parameters instead of
    ``*args`` (a call with all of them given spends ~100 ns less: no argument tuple, a direct call). Any
    other call (too few, too many, unknown keywords) goes to ``general``, the ``*args`` wrapper, which
    binds it against the signature and raises its ``TypeError``. Same checks, costs and refusals."""
    params = ", ".join(f"{n}=_MISSING" for n in names)
    given = " or ".join(f"{n} is _MISSING" for n in names)
    call = ", ".join(names)
    lines = [f"def {name}(self, {params}, *_w_args, **_w_kwargs):",
             "    if _w_args:  # every parameter was given by position, and more",
             f"        return _w_general(self, {call}, *_w_args, **_w_kwargs)",
             f"    if _w_kwargs or {given}:",
             f"        _w_pos, _w_named = _w_split({names!r}, ({call},))",
             "        return _w_general(self, *_w_pos, **_w_named, **_w_kwargs)"]
    if needs_init:
        lines += ["    if self._state != 'open':",
                  f"        return _w_general(self, {call})  # refused there, with its log line"]
    if cost is not None:
        lines += [f"    _w_spend = self._cost_table[{cost!r}]",
                  "    if _w_spend:",
                  "        self._advance_to(self._env._now + _w_spend)"]
    lines += ["    try:",
              f"        return _w_fn(self, {call})",
              "    except _Status as _w_exc:",
              f"        self._log.refused({name!r}, _w_exc.reason, _w_exc.status)",
              "        return _w_exc.status"]
    namespace: dict[str, Any] = {"_MISSING": _MISSING, "_w_general": general, "_w_fn": fn, "_Status": _Status,
                                 "_w_split": _split}
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from the method's own parameter names
    return functools.wraps(fn)(namespace[name])


def _split(names: list[str], values: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A call the generated wrapper cannot take, rebuilt for the general one: the given values before the
    first missing one by position, the rest by name (as the caller could have given them)."""
    cut = next((i for i, v in enumerate(values) if v is _MISSING), len(values))
    return values[:cut], {n: v for n, v in zip(names[cut:], values[cut:], strict=True) if v is not _MISSING}
