import sys, time, cProfile, pstats
sys.path.insert(0, "src"); sys.path.insert(0, "bench")
from pathlib import Path
from datetime import UTC, datetime
from medfeed.documents import KINDS
from medfeed.loading import load_catalog
from medfeed.snapshot import Snapshot
want = sys.argv[1:]  # e.g. month feed.json
cat = load_catalog(Path("/dev/shm/b10k/entries"))
snap = Snapshot(cat, "http://127.0.0.1:8000/", datetime.now(UTC), prepare=False)
for it in snap.items: it.content_html
pr = cProfile.Profile()
for k in KINDS:
    if k.scope == want[0] and k.name == (want[1] if len(want)>1 else ""):
        pr.enable()
        for s in snap.subjects(k): snap.document_of(k, s)
        pr.disable()
pstats.Stats(pr).sort_stats("tottime").print_stats(18)
