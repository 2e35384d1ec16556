"""Who makes a runtime call: the direct-mode host (``caller=None``) or a process-mode host thread.

A process-mode thread (:class:`neuronsim.threads.HostThread`) passes a :class:`ThreadCall` down the call
explicitly: its NUMA node (where its host buffers live), and two things the runtime hands back to it,
because a thread blocks in its own SimPy process and not in the runtime: the request of a blocking call
(``block``) and the requests that must complete before it is submitted (``waits``, implicit async).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neuronsim.hw.xu import ExecutionUnit

__all__ = ["ThreadCall"]


class ThreadCall:
    """One mirror call made by a process-mode host thread (``thread``, on NUMA node ``numa_node``)."""

    __slots__ = ("thread", "numa_node", "block", "waits")

    def __init__(self, thread: Any, numa_node: int | None) -> None:
        self.thread = thread
        self.numa_node = numa_node
        self.block: tuple[ExecutionUnit, Any] | None = None  # a blocking call's request, for the thread to submit
        self.waits: list[tuple[ExecutionUnit, int]] = []  # what must complete first (implicit async, drain)

    def __repr__(self) -> str:
        return f"<ThreadCall of {self.thread!r}>"
