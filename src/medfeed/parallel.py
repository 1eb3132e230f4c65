"""CPU-bound batch work on two cores: a forked child does every other item and sends its
results back through a pipe. fork() shares the parent's objects without pickling them.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def in_two_processes(
    work: Sequence[T], do: Callable[[Sequence[T]], list[R]], *, minimum: int
) -> tuple[list[R], list[R] | None]:
    """``do`` over ``work[0::2]`` here and ``work[1::2]`` in a child: (mine, theirs).

    ``theirs`` is None when the child failed (the caller decides what that means). With
    fewer than ``minimum`` items, no fork() or one core, everything is done here and
    ``theirs`` is empty.
    """
    if not hasattr(os, "fork") or len(work) < minimum or (os.cpu_count() or 1) < 2:
        return do(work), []
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        status = 0
        try:
            data = pickle.dumps(do(work[1::2]), pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    source = os.fdopen(read_end, "rb")
    try:
        mine = do(work[0::2])
        data = source.read()
    finally:
        source.close()  # were the parent failing, the child must not block on the pipe
        _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return mine, None
    # Our own child's bytes, never another party's: safe to unpickle.
    theirs: list[R] = pickle.loads(data)
    return mine, theirs
