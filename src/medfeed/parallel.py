"""CPU-bound batch work on every core: this process and forked children take groups of
work one at a time from a shared counter, so that the cores finish together without
anyone knowing beforehand what each group costs. fork() shares the parent's objects
without pickling them; each child sends its results back through a pipe of its own.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

FILES_FROM = 2000
"""A batch of at least this many entry files is read by every core."""
FILE_SHARE = 500
"""Files a process reads before it takes more: small enough for the cores to finish
together, large enough that handing out shares costs nothing."""


def cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def in_shares(items: list[T], do: Callable[[list[T]], R], size: int) -> list[R]:
    """``do`` over consecutive shares of ``size`` items, on every core (``shared_out``)."""
    return shared_out([items[start : start + size] for start in range(0, len(items), size)], do)


def shared_out(
    groups: Sequence[T], do: Callable[[T], R], *, processes: int | None = None
) -> list[R]:
    """``[do(group) for group in groups]``, done by this process and up to ``processes``
    - 1 forked children (default: one process per core), each taking the next group not
    yet taken when it has finished its last. Give the heaviest groups first.

    A group whose result a child did not send back (the child failed) is done again
    here, so that a failure shows as this process's own exception, with its traceback.
    """
    count = min(cores() if processes is None else processes, len(groups))
    if count < 2 or not hasattr(os, "fork"):
        return [do(group) for group in groups]
    context = multiprocessing.get_context("fork")
    taken = context.RawValue("q", 0)
    lock = context.Lock()

    def take() -> dict[int, R]:
        done: dict[int, R] = {}
        while True:
            with lock:
                index = taken.value
                taken.value = index + 1
            if index >= len(groups):
                return done
            done[index] = do(groups[index])

    children: list[tuple[int, int]] = []
    sent: list[bytes] = []
    succeeded: list[bool] = []
    try:
        for _ in range(count - 1):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                os.close(read_end)
                for _, other in children:
                    os.close(other)
                status = 0
                try:
                    data = pickle.dumps(take(), pickle.HIGHEST_PROTOCOL)
                    with os.fdopen(write_end, "wb") as out:
                        out.write(data)
                except BaseException:
                    status = 1
                finally:
                    os._exit(status)
            os.close(write_end)
            children.append((pid, read_end))
        results = take()
        for _, read_end in children:
            with os.fdopen(read_end, "rb", closefd=False) as source:
                sent.append(source.read())
    finally:
        for pid, read_end in children:
            os.close(read_end)  # a child still writing gets EPIPE rather than blocking
            succeeded.append(os.waitpid(pid, 0)[1] == 0)
    for data, ok in zip(sent, succeeded, strict=True):
        if ok and data:
            # Our own child's bytes, never another party's: safe to unpickle.
            results.update(pickle.loads(data))
    return [results[index] if index in results else do(group) for index, group in
            enumerate(groups)]  # fmt: skip
