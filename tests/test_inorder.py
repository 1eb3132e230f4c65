"""InOrder: tasks run one after another beside the caller, stopping at the first failure."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfeed.inorder import InOrder


def test_tasks_run_in_the_order_given_and_their_results_come_back_in_it() -> None:
    ran: list[int] = []

    def task(number: int) -> int:
        ran.append(number)
        return number * 10

    with InOrder[int]() as tasks:
        for number in range(50):
            tasks.add(lambda number=number: task(number))  # type: ignore[misc]
    assert ran == list(range(50))
    assert tasks.finish() == [number * 10 for number in range(50)]
    assert tasks.failure is None


def test_a_task_runs_while_the_caller_goes_on() -> None:
    # The task waits for something the caller does only after adding it: run in the
    # caller's thread (or only at finish), it would wait in vain.
    caller_went_on, task_started = threading.Event(), threading.Event()

    def task() -> bool:
        task_started.set()
        return caller_went_on.wait(10)

    with InOrder[bool]() as tasks:
        tasks.add(task)
        assert task_started.wait(10)
        caller_went_on.set()
    assert tasks.finish() == [True]


def test_a_task_runs_in_another_thread() -> None:
    with InOrder[int]() as tasks:
        tasks.add(threading.get_ident)
    assert tasks.finish() != [threading.get_ident()]


@given(count=st.integers(0, 20), failing=st.integers(0, 25))
def test_nothing_after_a_failure_runs_and_what_ran_before_it_is_returned(
    count: int, failing: int
) -> None:
    ran: list[int] = []

    def task(number: int) -> int:
        ran.append(number)
        if number == failing:
            raise OSError(28, "No space left on device")
        return number

    tasks = InOrder[int]()
    for number in range(count):
        tasks.add(lambda number=number: task(number))  # type: ignore[misc]
    done = tasks.finish()
    if failing < count:
        assert ran == list(range(failing + 1))
        assert done == list(range(failing))
        assert isinstance(tasks.failure, OSError)
    else:
        assert ran == done == list(range(count))
        assert tasks.failure is None


def test_finish_may_be_called_again_and_ends_the_thread() -> None:
    tasks = InOrder[int]("medfeed-test")
    tasks.add(lambda: 1)
    assert tasks.finish() == [1]
    assert tasks.finish() == [1]
    assert "medfeed-test" not in {thread.name for thread in threading.enumerate()}


def test_a_failure_the_caller_raises_still_ends_the_thread() -> None:
    with pytest.raises(KeyError), InOrder[int]("medfeed-test-raise") as tasks:
        tasks.add(lambda: 1)
        raise KeyError("made")
    assert "medfeed-test-raise" not in {thread.name for thread in threading.enumerate()}
    assert tasks.finish() == [1]
