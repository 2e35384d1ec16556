"""The profiling and sys-trace C entry points of ``libnrt.so`` (``nrt_profile_*``, ``nrt_sys_trace_*``),
over the recorder of :mod:`neuronsim.capi.systrace`.

:func:`install_tracing` is called by :func:`neuronsim.capi.bridge.install`, at the place these entry points
held there, and defines them on the same :class:`neuronsim.capi.library.Library`; their configuration and
fetch-option objects are the library's C objects (``state.new_object``), freed by the C program.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neuronsim.capi.library import Library
from neuronsim.capi.systrace import EVENT_TYPES
from neuronsim.nrt import NRT_STATUS
from neuronsim.runtime.objects import Model

__all__ = ["install_tracing"]

S = NRT_STATUS


def install_tracing(state: Library, ffi: Any, o: Callable[[Any], Any]) -> None:
    """Define the profile and sys-trace entry points on ``state`` (``ffi``: the library's cffi FFI; ``o``:
    the object a C handle stands for, :meth:`neuronsim.capi.library.Library.obj`)."""
    export = state.export

    @export()
    def nrt_profile_start(model: Any, filename: Any) -> int:
        m = o(model)
        if not isinstance(m, Model) or m.unloaded or filename == ffi.NULL:
            return int(S.NRT_INVALID)
        state.recorder().profile(m, state.text(filename))
        return int(S.NRT_SUCCESS)

    @export()
    def nrt_profile_stop(filename: Any) -> int:
        if filename == ffi.NULL:
            return int(S.NRT_INVALID)
        return int(state.recorder().profile_stop(state.text(filename)))

    @export()
    def nrt_sys_trace_config_allocate(options: Any) -> int:
        if options == ffi.NULL:
            return int(S.NRT_INVALID)
        options[0] = state.new_object("config", {"cores": set(), "types": set(EVENT_TYPES), "max": 0},
                                "nrt_sys_trace_config_t *")
        return int(S.NRT_SUCCESS)

    @export(error=None)
    def nrt_sys_trace_config_set_defaults(options: Any) -> None:
        config = state.c_object(options, "config")
        if config is not None:
            config.update(cores=set(), types=set(EVENT_TYPES), max=0)

    @export(error=None)
    def nrt_sys_trace_config_free(options: Any) -> None:
        state.free_object(options)

    @export(error=None)
    def nrt_sys_trace_config_set_max_events_per_nc(options: Any, max_events_per_nc: int) -> None:
        config = state.c_object(options, "config")
        if config is not None:
            config["max"] = int(max_events_per_nc)

    @export(error=None)
    def nrt_sys_trace_config_set_capture_enabled_for_nc(options: Any, nc_idx: int, enabled: bool) -> None:
        config = state.c_object(options, "config")
        if config is not None:
            (config["cores"].add if enabled else config["cores"].discard)(int(nc_idx))

    @export()
    def nrt_sys_trace_config_set_capture_enabled_for_event_type(options: Any, event_type: Any, enabled: bool) -> int:
        config = state.c_object(options, "config")
        name = state.text(event_type)
        if config is None or name not in EVENT_TYPES:
            return int(S.NRT_INVALID)
        (config["types"].add if enabled else config["types"].discard)(name)
        return int(S.NRT_SUCCESS)

    @export()
    def nrt_sys_trace_get_event_types(event_types: Any, count: Any) -> int:
        return state.string_list(list(EVENT_TYPES), event_types, count)

    @export(error=None)
    def nrt_sys_trace_free_event_types(event_types: Any, count: int) -> None:
        state.free_object(event_types)

    @export()
    def nrt_sys_trace_config_get_enabled_event_types(options: Any, event_types: Any, count: Any) -> int:
        config = state.c_object(options, "config")
        if config is None:
            return int(S.NRT_INVALID)
        return state.string_list([t for t in EVENT_TYPES if t in config["types"]], event_types, count)

    @export()
    def nrt_sys_trace_start(options: Any) -> int:
        config: dict[str, Any] | None = (state.c_object(options, "config") if options != ffi.NULL
                                          else {"cores": set(), "types": set(EVENT_TYPES), "max": 0})
        if config is None:
            return int(S.NRT_INVALID)
        return int(state.recorder().start(dict(config, cores=set(config["cores"]), types=set(config["types"]))))

    @export()
    def nrt_sys_trace_stop() -> int:
        return int(state.recorder().stop())

    @export()
    def nrt_sys_trace_fetch_options_allocate(options: Any) -> int:
        if options == ffi.NULL:
            return int(S.NRT_INVALID)
        options[0] = state.new_object("fetch", {"nc": None, "max": 0}, "nrt_sys_trace_fetch_options_t *")
        return int(S.NRT_SUCCESS)

    @export(error=None)
    def nrt_sys_trace_fetch_options_set_defaults(options: Any) -> None:
        fetch = state.c_object(options, "fetch")
        if fetch is not None:
            fetch.update(nc=None, max=0)

    @export(error=None)
    def nrt_sys_trace_fetch_options_free(options: Any) -> None:
        state.free_object(options)

    @export(error=None)
    def nrt_sys_trace_fetch_options_set_max_events_per_nc(options: Any, max_events_per_nc: int) -> None:
        fetch = state.c_object(options, "fetch")
        if fetch is not None:
            fetch["max"] = int(max_events_per_nc)

    @export(error=None)
    def nrt_sys_trace_fetch_options_set_nc_idx(options: Any, nc_idx: int) -> None:
        fetch = state.c_object(options, "fetch")
        if fetch is not None:
            fetch["nc"] = int(nc_idx)

    @export()
    def nrt_sys_trace_fetch_events(buffer: Any, written_size: Any, options: Any) -> int:
        if buffer == ffi.NULL or written_size == ffi.NULL:
            return int(S.NRT_INVALID)
        fetch: dict[str, Any] | None = (state.c_object(options, "fetch") if options != ffi.NULL
                                         else {"nc": None, "max": 0})
        if fetch is None:
            return int(S.NRT_INVALID)
        status, text = state.recorder().fetch(fetch["nc"], fetch["max"])
        if status != S.NRT_SUCCESS:
            return int(status)
        buffer[0], written_size[0] = state.c_text(text)
        return int(S.NRT_SUCCESS)

    @export(error=None)
    def nrt_sys_trace_buffer_free(buffer: Any) -> None:
        state.free_object(buffer)
