"""The one cutting policy for every format (budget.plan): what it keeps of a feed that
would be too large, and that it weighs no more items than it must to know it."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import example, given, settings
from hypothesis import strategies as st

from medfeed.budget import Cut, plan


@dataclass
class Sized:
    """Sizes of a document's items, newest first, counting which were asked for."""

    feed: int
    whole: list[int]
    short: list[int]
    contents: list[int]
    asked: set[tuple[int, bool]] = field(default_factory=set)

    def item(self, index: int, short: bool) -> int:
        self.asked.add((index, short))
        return (self.short if short else self.whole)[index]

    def content(self, index: int) -> int:
        return self.contents[index]


def policy(sizes: Sized, count: int, budget: int, keep: int) -> Cut:
    """The policy, step by step: content goes from the oldest items first, then the
    oldest are shortened, then the oldest left out, the newest ``keep`` never."""
    total = sizes.feed + sum(sizes.whole[:count])
    with_content = 0
    while with_content < count and total + sizes.contents[with_content] <= budget:
        total += sizes.contents[with_content]
        with_content += 1
    shortened_from = count
    while total > budget and shortened_from > 0:
        shortened_from -= 1
        total -= sizes.whole[shortened_from] - sizes.short[shortened_from]
    while total > budget and count > keep:
        count -= 1
        total -= sizes.short[count]
    return Cut(count, with_content, shortened_from)


@st.composite
def documents(draw: st.DrawFn) -> tuple[Sized, int, int]:
    count = draw(st.integers(0, 60))
    whole = draw(st.lists(st.integers(0, 400), min_size=count, max_size=count))
    # Shortened: mostly smaller, sometimes a byte or two larger (an ellipsis).
    short = [max(0, size - draw(st.integers(-2, 300))) for size in whole]
    contents = draw(st.lists(st.integers(0, 300), min_size=count, max_size=count))
    budget = draw(st.integers(0, 10_000))
    return Sized(draw(st.integers(0, 300)), whole, short, contents), budget, draw(st.integers(0, 5))


# The newest five fit whole, and not shortened (each shortened two bytes larger); the
# fifteen oldest shrink to nothing shortened: shortening them is what makes it fit.
SHORTENED_LARGER = (Sized(0, [199] * 5 + [1_000] * 15, [201] * 5 + [0] * 15, [0] * 20), 1_000, 1)


@settings(max_examples=500)
@given(documents())
@example(SHORTENED_LARGER)
def test_the_plan_is_the_policy(document: tuple[Sized, int, int]) -> None:
    sizes, budget, keep = document
    count = len(sizes.whole)
    assert plan(sizes, count, budget, keep) == policy(sizes, count, budget, keep)


def test_a_document_of_many_items_weighs_only_the_newest() -> None:
    count = 100_000
    sizes = Sized(1_000, [600] * count, [400] * count, [2_000] * count)
    budget = 4 * 1024 * 1024
    cut = plan(sizes, count, budget, keep=3)
    assert cut == policy(sizes, count, budget, keep=3)
    assert cut.count == (budget - 1_000) // 400
    assert len(sizes.asked) < 3 * cut.count  # not the 200,000 sizes of every item


@settings(max_examples=500)
@given(documents())
@example(SHORTENED_LARGER)
def test_a_plan_that_keeps_any_content_keeps_every_item_whole_else(
    document: tuple[Sized, int, int],
) -> None:
    # What feedparts relies on to tell a document cut to fit from a whole one.
    sizes, budget, keep = document
    count = len(sizes.whole)
    cut = plan(sizes, count, budget, keep)
    assert cut.with_content == 0 or cut.shortened_from == cut.count == count
