"""What the archive (RFC 5005 archive documents, archive pages) costs, on generated entries.

Renders every document of a snapshot on one core, in-process, and reports the time spent
on the archive's documents against the rest, and the snapshot's start-up (the archive is
rendered on demand, so start-up should not move). The ratio is what a full static build
pays on top of the rest for the archive (issue target: at most 25%).

With --build, it measures what the archive adds to a full static build instead: the
whole of `medfeed build` (load, validate, render, compress, write; every core, as the
command runs) into a fresh folder, each build in a process of its own, with every
document and with the archive's documents left out of the table, alternately, medians
of --runs pairs.

Usage: python bench/archives.py [--count 10000] [--runs 3] [--build]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from generate import generate  # noqa: E402

import medfeed.buildplan  # noqa: E402
from medfeed.build import build_site  # noqa: E402
from medfeed.documents import KINDS  # noqa: E402
from medfeed.loading import load_catalog  # noqa: E402
from medfeed.snapshot import Snapshot  # noqa: E402

ARCHIVE = ("archive", "period")
SHM = Path("/dev/shm")
"""Builds write tens of thousands of files: on a tmpfs, the disk is not what is measured."""


def measure(folder: Path) -> tuple[float, float, float, int, int]:
    """(start-up, archive seconds, other seconds, archive documents, other documents)."""
    catalog = load_catalog(folder)
    started = time.perf_counter()
    snapshot = Snapshot(catalog, "http://127.0.0.1:8000/", datetime.now(UTC), prepare=False)
    startup = time.perf_counter() - started
    for item in snapshot.items:
        item.content_html  # noqa: B018 - Markdown is shared by both sides: not counted
    spent = {True: 0.0, False: 0.0}
    counts = {True: 0, False: 0}
    for kind in KINDS:
        archive = kind.shows in ARCHIVE or kind.scope.endswith("archive")
        for subject in snapshot.subjects(kind):
            began = time.perf_counter()
            snapshot.document_of(kind, subject)
            spent[archive] += time.perf_counter() - began
            counts[archive] += 1
    return startup, spent[True], spent[False], counts[True], counts[False]


def is_archive(kind: object) -> bool:
    shows, scope = getattr(kind, "shows", ""), getattr(kind, "scope", "")
    return shows in ARCHIVE or scope.endswith("archive")


def _cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def build_once(folder: Path, target: Path, with_archive: bool) -> tuple[float, float]:
    """Seconds for a full build into ``target`` (which must not exist): wall-clock, and
    CPU time of every process (steadier on a busy machine)."""
    kinds = KINDS if with_archive else tuple(k for k in KINDS if not is_archive(k))
    saved = medfeed.buildplan.KINDS
    medfeed.buildplan.KINDS = kinds  # type: ignore[misc]
    # As `medfeed build` runs: no cyclic collection, and what was loaded frozen before
    # the forks, so that the child does not copy the pages that hold it.
    gc.disable()
    try:
        started, cpu = time.perf_counter(), _cpu()
        catalog = load_catalog(folder)
        gc.freeze()
        snapshot = Snapshot(catalog, "http://127.0.0.1:8000/", datetime.now(UTC), prepare=False)
        build_site(snapshot, target)
        return time.perf_counter() - started, _cpu() - cpu
    finally:
        medfeed.buildplan.KINDS = saved  # type: ignore[misc]
        gc.unfreeze()
        gc.enable()
        gc.collect()


Runs = list[tuple[float, float]]


def _one_build(folder: Path, target: Path, with_archive: bool) -> tuple[float, float]:
    """A build in a process of its own, as `medfeed build` runs (each in a fresh process:
    builds one after the other in one process drift, as its heap grows)."""
    done = subprocess.run(
        [sys.executable, __file__, "--one-build", "with" if with_archive else "without",
         str(folder), str(target)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    wall, cpu = done.stdout.split()
    shutil.rmtree(target)  # not kept: a tmpfs holds them in memory
    return float(wall), float(cpu)


def measure_build(folder: Path, scratch: Path, runs: int) -> tuple[Runs, Runs]:
    """(with archive, without) build seconds, alternated so that drift hits both."""
    with_, without = [], []
    for run in range(runs):
        with_.append(_one_build(folder, scratch / f"with-{run}", True))
        without.append(_one_build(folder, scratch / f"without-{run}", False))
    return with_, without


def seconds(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--build", action="store_true", help="measure full builds")
    parser.add_argument(
        "--scratch",
        type=Path,
        default=SHM if SHM.is_dir() else None,
        help="where entries and builds go (default: /dev/shm, a tmpfs, where there is one)",
    )
    parser.add_argument("--one-build", nargs=3, metavar=("WITH", "ENTRIES", "OUTDIR"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.one_build:
        which, entries, outdir = args.one_build
        wall, cpu = build_once(Path(entries), Path(outdir), which == "with")
        print(f"{wall} {cpu}")
        return
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
        folder = generate(Path(scratch) / "entries", args.count)
        if args.build:
            with_, without = measure_build(folder, Path(scratch), args.runs)
            print(f"entries: {args.count}; runs: {args.runs} pairs (medians)")
            for index, what in ((0, "wall-clock"), (1, "CPU time, all processes")):
                full = statistics.median(run[index] for run in with_)
                bare = statistics.median(run[index] for run in without)
                print(
                    f"{what}: with the archive {full:.2f} s "
                    f"({seconds([run[index] for run in with_])}), "
                    f"without {bare:.2f} s ({seconds([run[index] for run in without])}): "
                    f"the archive adds {(full - bare) / bare:.0%} (target: at most 25%)"
                )
            return
        runs = [measure(folder) for _ in range(args.runs)]
    startup = statistics.median(r[0] for r in runs)
    archive = statistics.median(r[1] for r in runs)
    other = statistics.median(r[2] for r in runs)
    print(f"entries: {args.count}; runs: {args.runs} (medians)")
    print(f"snapshot start-up: {startup:.2f} s")
    print(f"archive documents and pages: {runs[0][3]} in {archive:.2f} s")
    print(f"every other document: {runs[0][4]} in {other:.2f} s")
    print(f"archive / rest: {archive / other:.2f} (target: at most 0.25)")


if __name__ == "__main__":
    main()
