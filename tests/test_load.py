"""Load with faults under real gunicorn: readers poll every feed with conditional GETs
while a writer adds, edits, corrupts, fixes and deletes entries (the engine is
bench/load_faults.py; `python bench/load_faults.py --seconds 60` is the long run).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("gunicorn")
pytest.importorskip("feedparser")

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

from load_faults import PROMISE, run_load  # noqa: E402


def test_feeds_stay_whole_while_the_folder_changes_under_load(tmp_path: Path) -> None:
    report = run_load(tmp_path, seconds=8.0, clients=8)
    print(report.summary())
    counts = report.counts
    assert counts.server_errors == 0
    assert counts.connection_errors == 0
    assert not counts.other_statuses
    assert counts.bozo == 0
    assert counts.duplicate_ids == 0
    assert counts.lost == 0, counts.examples
    assert counts.stale == 0, counts.examples
    assert report.latencies and max(report.latencies) < PROMISE
    assert counts.ok > 0 and counts.not_modified > 0
    assert report.changes["add"] > 0 and report.changes["delete"] > 0
    assert any(name.startswith("corrupt:") for name in report.changes)
    assert report.changes["fix"] > 0
    assert report.tracebacks == 0
    assert report.errors == []
    assert (report.exit_status, report.killed) == (0, False), "gunicorn did not stop on SIGTERM"
    assert report.problems() == []
