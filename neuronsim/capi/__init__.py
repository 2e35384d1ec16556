"""A libnrt-compatible C ABI over the simulator: headers, ``libnrt.so`` (cffi embedding) and its bridge.

``neuronsim capi-config --cflags | --libs`` prints what a C compiler needs; docs/howto/link-c-code.md.
"""
