"""Work shared out between forked processes (medfeed.parallel): every group done once, its
result in its place, the cores kept busy until the work runs out, and a child's failure
never losing a group."""

from __future__ import annotations

import os
import time

import pytest

from medfeed.parallel import cores, shared_out


def _who(group: tuple[int, float]) -> tuple[int, int]:
    number, seconds = group
    time.sleep(seconds)
    return number, os.getpid()


def test_results_come_back_in_the_order_of_the_groups() -> None:
    groups = [(n, 0.0) for n in range(40)]
    done = shared_out(groups, _who, processes=3)
    assert [number for number, _ in done] == list(range(40))


def test_each_process_takes_the_next_group_when_it_is_free() -> None:
    # The heaviest first: while one process does it, the other does all the light ones,
    # rather than half of them waiting behind the heavy one.
    groups = [(0, 1.0)] + [(n, 0.02) for n in range(1, 9)]
    done = shared_out(groups, _who, processes=2)
    heavy = done[0][1]
    assert len({pid for _, pid in done}) == 2, "both processes worked"
    assert [number for number, pid in done if pid == heavy] == [0]


def test_a_group_whose_child_failed_is_done_here() -> None:
    parent = os.getpid()

    def only_here(group: int) -> tuple[int, int]:
        if os.getpid() != parent:
            raise RuntimeError("a child fails")
        return group, os.getpid()

    done = shared_out(list(range(12)), only_here, processes=2)
    assert done == [(n, parent) for n in range(12)]


def test_a_failure_here_is_raised_and_no_child_is_left_behind() -> None:
    def failing(group: int) -> int:
        if group == 0:
            raise ValueError("group 0 cannot be done")
        return group

    with pytest.raises(ValueError, match="group 0"):
        shared_out(list(range(6)), failing, processes=2)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # every child was waited for


def test_one_process_or_one_group_forks_nothing() -> None:
    parent = os.getpid()
    assert shared_out([(1, 0.0)], _who) == [(1, parent)]
    assert {pid for _, pid in shared_out([(n, 0.0) for n in range(5)], _who, processes=1)} == {
        parent
    }
    assert cores() >= 1
