"""How much of a feed fits under a byte limit: one cutting policy for every format.

Where everything would be too big, the oldest items lose their content first, then
over-long summaries and author lists are shortened (oldest first), then the oldest items
are left out; the newest item is always there. A format supplies its size estimates
(``Sizes``) and a renderer; ``fit`` plans the cut and renders, retrying with a smaller
budget if the estimates fell short.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

SUMMARY_CHARS = 1000
"""A summary shortened to fit is cut at a word boundary before this many characters."""
SHORT_AUTHORS = 10
"""An author list shortened to fit keeps this many names."""
RETRY_MARGIN = 64 * 1024
"""How much further under the limit a second plan aims when the first came out too big."""
_LAST_WORD = re.compile(r"\s\S*\Z")


@dataclass(frozen=True)
class Cut:
    """How much of its items (newest first) one feed document carries."""

    count: int  # the newest this many are in it
    with_content: int  # the newest this many keep their content, the rest a summary
    shortened_from: int  # items from this index on have short summaries and author lists


class Sizes(Protocol):
    """A format's estimates of its document's bytes, on the large side; no rendering."""

    @property
    def feed(self) -> int:
        """The document without any item."""
        ...

    def item(self, index: int, short: bool) -> int:
        """One item without its content; with short summary and authors if ``short``."""
        ...

    def content(self, index: int) -> int:
        """What keeping its content adds to one item."""
        ...


def shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The text cut at a word boundary before ``limit`` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]  # one character is left for the ellipsis
    if not text[limit - 1].isspace():
        # The cut falls inside a word: go back to the space before it, if there is one.
        partial = _LAST_WORD.search(cut)
        if partial is not None and partial.start() > 0:
            cut = cut[: partial.start()]
    return cut.rstrip().rstrip(",;:.-") + "\u2026"


def plan(sizes: Sizes, count: int, budget: int, keep: int = 1) -> Cut:
    """The most of ``count`` items that fits in ``budget`` bytes, by the estimates; the
    newest ``keep`` items are never left out."""
    fewer = _newest_short(sizes, count, budget, keep)
    if fewer is not None:
        return fewer
    total = sizes.feed + sum(sizes.item(i, False) for i in range(count))
    # Content first goes from the oldest items: the newest keep it while it fits.
    with_content = 0
    while with_content < count:
        extra = sizes.content(with_content)
        if total + extra > budget:
            break
        total += extra
        with_content += 1
    shortened_from = count
    while total > budget and shortened_from > 0:
        shortened_from -= 1
        total -= sizes.item(shortened_from, False) - sizes.item(shortened_from, True)
    while total > budget and count > keep:
        count -= 1
        total -= sizes.item(count, True)
    return Cut(count, with_content, shortened_from)


def fit(
    render: Callable[[Cut], bytes], sizes: Sizes, count: int, limit: int, keep: int = 1
) -> bytes:
    """Render the most of ``count`` items that fits in ``limit`` bytes, by the policy,
    never leaving out the newest ``keep``.

    A document planned to fit is rendered once; should it still be too big, the plan is
    made again for less, until it fits or nothing more can be cut.
    """
    budget = limit
    cut = plan(sizes, count, budget, keep)
    while True:
        body = render(cut)
        if len(body) <= limit:
            return body
        # The estimate fell short: ask for less by what was missing, and then some.
        budget -= len(body) - limit + RETRY_MARGIN
        smaller = plan(sizes, count, budget, keep)
        if smaller == cut:
            return body  # the newest items that must stay, as short as they get
        cut = smaller


def _newest_short(sizes: Sizes, count: int, budget: int, keep: int) -> Cut | None:
    """``plan``'s cut where its newest items alone, each as small as it gets, are over
    the budget: then so is every mix of whole and shortened items, so the policy takes
    every content away, shortens every item and leaves out the oldest until the rest
    fits, which is the newest as many as fit shortened. None where the newest items do
    not show it, or where the items are not many more than fit whole (``plan`` then
    weighs them all, which costs little more).

    A calendar of 100,000 events is so cut from the sizes of the few thousand it keeps,
    not from writing every event twice. (A shortened item can be a byte or two larger
    than its whole self, an ellipsis replacing a character: the smaller counts.)"""
    whole = sizes.feed
    fit_whole = 0
    while fit_whole < count:
        whole += sizes.item(fit_whole, False)
        if whole > budget:
            break
        fit_whole += 1
    if count <= 2 * fit_whole:
        return None
    shortened = least = sizes.feed
    fitting: int | None = None
    for index in range(count):
        short = sizes.item(index, True)
        shortened += short
        if fitting is None and shortened > budget:
            fitting = index
        least += min(short, sizes.item(index, False))
        if least > budget:
            assert fitting is not None  # shortened >= least
            return Cut(max(fitting, min(keep, count)), 0, 0)
    return None
