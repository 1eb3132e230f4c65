"""Where two sequences of mostly the same objects differ: an edit leaves every item of a
content version's lists the same object but the few it changed, so what changed is
found by comparing identities from each end, in C loops, not by looking at items."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from itertools import compress, count


def alike_ends(old: Sequence[object], new: Sequence[object]) -> tuple[int, int]:
    """How many items lead both sequences alike, and how many then trail both alike
    (the same objects, not overlapping the leading ones): what lies between changed."""
    shorter = min(len(old), len(new))
    start = next(compress(count(), map(operator.is_not, old, new)), shorter)
    tail = next(compress(count(), map(operator.is_not, reversed(old), reversed(new))), shorter)
    return start, min(tail, shorter - start)
