"""The benchmark suite's smoke mode runs end to end (its figures are judged in bench/,
not here: a timed unit test on a shared CI machine would only be flaky)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("wrk", "nginx", "hugo")


def _missing() -> list[str]:
    return [t for t in TOOLS if not (shutil.which(t) or Path("/usr/sbin", t).exists())]


def run_bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of bench/'s scripts; it must exit 0."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.mark.skipif(bool(_missing()), reason=f"benchmark tools not installed: {_missing()}")
def test_smoke_benchmark_runs_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    # The figures of opt-in runs, recorded by hand below the marker, outlive a new run.
    kept = "<!-- Kept by bench/run.py: the opt-in runs below are recorded by hand. -->"
    out.write_text(f"an earlier report\n{kept}\n## 100,000 entries\nfigures\n", encoding="utf-8")
    run_bench("run.py", "--smoke", "--out", str(out))
    report = out.read_text(encoding="utf-8")
    for section in ("a. Feed throughput", "b. Static", "c. Start-up", "d. Build", "f. granian"):
        assert section in report
    assert "wrk saw errors" not in report
    assert "an earlier report" not in report
    assert report.endswith(f"{kept}\n## 100,000 entries\nfigures\n")
    assert report.index("a. Feed throughput") < report.index(kept)


def test_the_archive_benchmark_runs_and_reports() -> None:
    done = run_bench("archives.py", "--count", "150", "--runs", "1")
    lines = done.stdout.splitlines()
    assert any(line.startswith("archive documents and pages: ") for line in lines), lines
    assert any(line.startswith("archive / rest: ") for line in lines), lines


def test_the_startup_benchmark_runs_and_a_restart_reads_no_entry_file() -> None:
    done = run_bench("startup.py", "--smoke")
    [row] = [line for line in done.stdout.splitlines() if line.startswith("| 200 |")]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[4] == "0", row  # files read at restart: the cache held them all
    assert "not used" not in done.stdout


def test_the_refresh_benchmark_runs_and_reports() -> None:
    done = run_bench("refresh.py", "--smoke")
    [row] = [line for line in done.stdout.splitlines() if line.startswith("| 200 |")]
    assert row.count(" ms") >= 2, row


def test_the_memory_benchmark_measures_both_workers_after_each_start() -> None:
    done = run_bench("memory.py", "--smoke")
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 200 |")]
    assert [row.split("|")[2].strip() for row in rows] == [
        "first start, no cache",
        "restart on the cache",
    ]
    for row in rows:
        workers = row.split("|")[4]
        assert workers.count(" + ") == 1 and workers.strip().endswith("MiB"), row


@pytest.mark.parametrize("restart", [[], ["--restart"]], ids=["first start", "restart"])
def test_the_watch_benchmark_times_each_edit_and_the_rebuild_beside_it(
    restart: list[str],
) -> None:
    done = run_bench("watch.py", "--smoke", *restart)
    assert ("start over the built folder" in done.stdout) == bool(restart)
    [row] = [line for line in done.stdout.splitlines() if line.startswith("| 200 |")]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert float(cells[2].split()[0]) > 0, row  # ms from the edit to the round done
    assert float(cells[3]) > 0, row  # the edit was put in place: documents were written
