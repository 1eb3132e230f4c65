import sys, time, tempfile, os, collections
sys.path.insert(0, "src")
from pathlib import Path
from datetime import UTC, datetime
import medfeed.build as B
from medfeed.loading import load_catalog
from medfeed.snapshot import Snapshot
cat = load_catalog(Path("/dev/shm/b10k/entries"))
snap = Snapshot(cat, "http://127.0.0.1:8000/", datetime.now(UTC), prepare=False)
months, others, feeds = B._plan(snap)
spent = collections.Counter(); render = collections.Counter(); count = collections.Counter()
with tempfile.TemporaryDirectory(dir="/dev/shm") as d:
    for w, group in months + others:
        for kind, subject in group:
            key = (kind.scope, kind.name)
            os.makedirs(os.path.dirname(os.path.join(d, B.file_for(kind.path(subject)))), exist_ok=True)
            t = time.perf_counter()
            doc = snap.document_of(kind, subject)
            t1 = time.perf_counter()
            B._put(d, B.file_for(kind.path(subject)), doc, None)
            t2 = time.perf_counter()
            render[key] += t1 - t; spent[key] += t2 - t1; count[key] += 1
tot = collections.Counter()
for key in sorted(count, key=lambda k: -(render[k] + spent[k])):
    arch = key[0] not in ("site", "category", "entry")
    tot[arch] += render[key] + spent[key]
    print(f"{key[0]:18} {key[1]:12} {count[key]:6} render {render[key]:.3f} put {spent[key]:.3f}")
print("archive", round(tot[True], 2), "other", round(tot[False], 2))
