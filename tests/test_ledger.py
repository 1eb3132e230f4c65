"""The dates of documents' versions (medfeed.ledger): kept while the bytes stay, later for
every change, and the same in every process that shares the log."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from medfeed import ledger as ledger_module
from medfeed.ledger import DateLedger

T0 = datetime(2016, 9, 16, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=30)


def test_bytes_that_stay_keep_their_date_whatever_the_folder_says() -> None:
    dates = DateLedger()
    assert dates.date("/feed.atom", "a", T0, NOW) == (T0, True)
    assert dates.date("/feed.atom", "a", T0 + timedelta(hours=1), NOW) == (T0, True)


def test_changed_bytes_are_dated_later_than_any_earlier_version() -> None:
    dates = DateLedger()
    dates.date("/archive/2015/10/feed.atom", "two entries", T0, NOW)
    # An entry deleted: the newest file left is older than the date already given.
    older = T0 - timedelta(days=3)
    assert dates.date("/archive/2015/10/feed.atom", "one entry", older, NOW) == (NOW, True)
    # Later versions the folder can date keep their own date.
    later = NOW + timedelta(hours=1)
    assert dates.date("/archive/2015/10/feed.atom", "edited", later, later) == (later, True)


def test_a_version_back_to_earlier_bytes_is_a_new_version() -> None:
    dates = DateLedger()
    dates.date("/", "a", T0, T0)
    dates.date("/", "b", T0 + timedelta(hours=1), T0 + timedelta(hours=1))
    # "a" again: a reader holding "b" must not be told it is current.
    assert dates.date("/", "a", T0, NOW) == (NOW, True)


def test_two_versions_within_one_second_do_not_answer_if_modified_since() -> None:
    dates = DateLedger()
    dates.date("/", "a", T0, T0)
    assert dates.date("/", "b", T0, T0) == (T0, False)
    assert dates.date("/", "b", T0, T0) == (T0, False), "the same answer again"


def test_every_process_and_restart_gives_a_version_the_first_date_logged(
    tmp_path: Path,
) -> None:
    log = tmp_path / "state" / "dates.log"
    one, two = DateLedger(log), DateLedger(log)
    assert one.date("/", "a", T0, T0) == (T0, True)
    # The other process meets a deletion the folder cannot date, a day later.
    assert two.date("/", "b", T0 - timedelta(days=1), NOW) == (NOW, True)
    # The first process renders the same version later still: the logged date stands.
    assert one.date("/", "b", T0 - timedelta(days=1), NOW + timedelta(hours=5)) == (NOW, True)
    restarted = DateLedger(log)
    assert restarted.date("/", "b", T0, NOW + timedelta(days=9)) == (NOW, True)
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_damaged_and_unfinished_lines_decide_nothing(tmp_path: Path) -> None:
    log = tmp_path / "dates.log"
    log.write_bytes(b"garbage\n/\ta\tnot-a-number\t1\n/x\tb\t5\t1\n/\tc\t")
    dates = DateLedger(log)
    assert dates.date("/x", "b", T0, NOW) == (datetime.fromtimestamp(5, UTC), True)
    assert dates.date("/", "a", T0, NOW) == (T0, True)


def test_the_log_is_compacted_and_others_follow_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "COMPACT_FROM", 10)
    log = tmp_path / "dates.log"
    one, two = DateLedger(log), DateLedger(log)
    for n in range(30):
        one.date("/feed.atom", f"v{n}", T0 + timedelta(minutes=n), NOW)
    assert len(log.read_bytes().splitlines()) < 30, "rewritten as the last decisions"
    last = T0 + timedelta(minutes=29)
    assert two.date("/feed.atom", "v29", NOW, NOW) == (last, True)
    assert DateLedger(log).date("/feed.atom", "v29", NOW, NOW) == (last, True)


def test_a_state_folder_that_cannot_be_written_leaves_each_process_its_own(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    dates = DateLedger(blocked / "dates.log")
    with caplog.at_level(logging.WARNING, logger="medfeed"):
        assert dates.date("/", "a", T0, NOW) == (T0, True)
        assert dates.date("/", "b", T0, NOW) == (NOW, True)
    assert "cannot keep dates there" in caplog.text
    assert not os.path.exists(blocked / "dates.log")


def test_a_forked_worker_opens_the_log_anew(tmp_path: Path) -> None:
    log = tmp_path / "dates.log"
    dates = DateLedger(log)
    dates.date("/", "a", T0, NOW)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        ok = dates.date("/", "a", NOW, NOW) == (T0, True) and dates._fd is not None
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert dates.date("/", "a", NOW, NOW) == (T0, True)
