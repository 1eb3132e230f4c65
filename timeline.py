import sys, time, os, tempfile, gc, json
sys.path.insert(0, "src")
from pathlib import Path
from datetime import UTC, datetime
import medfeed.build as B
import medfeed.parallel as P
from medfeed.loading import load_catalog
from medfeed.snapshot import Snapshot
log = "/dev/shm/timeline.log"
open(log, "w").close()
orig = P.shared_out
rounds = [0]
def traced(groups, do, processes=None):
    rounds[0] += 1; r = rounds[0]
    def wrapped(g):
        t = time.perf_counter(); res = do(g)
        with open(log, "a") as f: f.write(json.dumps([r, os.getpid(), t, time.perf_counter(), len(g)]) + "\n")
        return res
    t = time.perf_counter()
    out = orig(groups, wrapped, processes=processes)
    with open(log, "a") as f: f.write(json.dumps([r, "round", t, time.perf_counter(), len(groups)]) + "\n")
    return out
B.shared_out = traced
gc.disable()
T0 = time.perf_counter()
cat = load_catalog(Path("/dev/shm/b10k/entries"))
T1 = time.perf_counter()
gc.freeze()
snap = Snapshot(cat, "http://127.0.0.1:8000/", datetime.now(UTC), prepare=False)
with tempfile.TemporaryDirectory(dir="/dev/shm") as d:
    T2 = time.perf_counter()
    B.build_site(snap, Path(d) / "out")
    T3 = time.perf_counter()
print(f"load {T1-T0:.2f} snapshot {T2-T1:.2f} build {T3-T2:.2f}")
rows = [json.loads(l) for l in open(log)]
for r in sorted({row[0] for row in rows}):
    rr = [row for row in rows if row[0] == r and row[1] != "round"]
    rnd = [row for row in rows if row[0] == r and row[1] == "round"][0]
    print(f"round {r}: {rnd[3]-rnd[2]:.2f} s wall, {rnd[4]} groups")
    for pid in sorted({row[1] for row in rr}):
        mine = [row for row in rr if row[1] == pid]
        print(f"   pid {pid}: busy {sum(x[3]-x[2] for x in mine):.2f} s, {len(mine)} groups, first start +{min(x[2] for x in mine)-rnd[2]:.2f}, last end +{max(x[3] for x in mine)-rnd[2]:.2f}")
print(f"after rounds (feeds etc.): {T3 - max(row[3] for row in rows):.2f}")
