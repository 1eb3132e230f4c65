"""Live content figures at scale: start-up, idle watching cost, change-to-feed latency, memory.

Usage: python bench/live.py [--count 10000] [--idle 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from generate import generate
from servers import state_beside

from medfeed.settings import Settings
from medfeed.site import Publisher


def rss_mib() -> float:
    """Resident memory of this process now, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle watching")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = generate(Path(tmp) / "entries", args.count)
        before = rss_mib()
        started = time.perf_counter()
        settings = Settings(entries_dir=folder, base_url="http://127.0.0.1:8000/",
                            state_dir=state_beside(folder))  # fmt: skip
        publisher = Publisher(settings)
        publisher.snapshot().feed(None, "atom")
        startup = time.perf_counter() - started
        publisher.watch()
        time.sleep(0.5)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(args.idle)
        idle_share = (time.process_time() - cpu0) / (time.perf_counter() - wall0)

        target = folder / f"entry-{args.count - 1:05d}.json"
        data = json.loads(target.read_text())
        latencies = []
        for round_ in range(5):
            version = publisher.snapshot().version
            data["title"] = f"Edited {round_}"
            written = time.perf_counter()
            target.write_text(json.dumps(data))
            while publisher.snapshot().version == version:
                time.sleep(0.001)
                if time.perf_counter() - written > 5:
                    raise SystemExit("change not seen within 5 s")
            latencies.append(time.perf_counter() - written)
            time.sleep(0.2)

        refresh_times = []
        for round_ in range(5):
            data["title"] = f"Direct {round_}"
            target.write_text(json.dumps(data))
            t = time.perf_counter()
            publisher.refresh({target.name})
            refresh_times.append(time.perf_counter() - t)
        publisher.stop()
        print(f"entries: {args.count}")
        print(f"start-up to first feed: {startup:.2f} s")
        print(f"idle watching: {idle_share * 100:.2f}% of one core over {args.idle:.0f} s")
        median = sorted(latencies)[2] * 1000
        print(
            f"file write to fresh feeds (watcher): median {median:.0f} ms,"
            f" max {max(latencies) * 1000:.0f} ms"
        )
        print(
            f"one changed entry to fresh feeds (refresh): median "
            f"{sorted(refresh_times)[2] * 1000:.0f} ms"
        )
        print(
            f"memory: {rss_mib():.0f} MiB resident ({rss_mib() - before:.0f} MiB for the content)"
        )


if __name__ == "__main__":
    main()
