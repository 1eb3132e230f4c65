"""Tasks run one after another by a thread beside the caller's, so that the caller goes
on to the next while one runs: a round of ``build --watch`` makes its next document
while the last one is compressed and written. libdeflate, ISA-L and the writes release
the GIL, so the two overlap on two cores; a task that holds it only takes turns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Generic, TypeVar

T = TypeVar("T")


class InOrder(Generic[T]):
    """Tasks run in the order given, by one thread, until one fails: those after it
    are not run. ``finish`` must be called (a ``with`` block does) to end the thread."""

    def __init__(self, name: str = "medfeed-in-order") -> None:
        self._tasks: SimpleQueue[Callable[[], T] | None] = SimpleQueue()
        self._results: list[T] = []
        self.failure: BaseException | None = None
        """What the task that failed raised, once one has."""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (task := self._tasks.get()) is not None:
            if self.failure is not None:
                continue  # the caller learns of it in finish(); nothing after it runs
            try:
                self._results.append(task())
            except BaseException as e:  # noqa: BLE001 - handed to the caller by finish()
                self.failure = e

    def add(self, task: Callable[[], T]) -> None:
        """Run ``task`` once those added before it have run (not at all after a failure)."""
        self._tasks.put(task)

    def finish(self) -> list[T]:
        """Wait for every task added; the results of those run, in order: all of them,
        or those before the first that failed (see ``failure``)."""
        if self._thread.is_alive():
            self._tasks.put(None)
            self._thread.join()
        return self._results

    def __enter__(self) -> InOrder[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
