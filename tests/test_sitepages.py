"""Every page with its URL, taken over from one content version to the next while the
pages and the base URL are the same: the sitemap of a version made from the one before
is the sitemap of the same version made alone, whatever changed in between."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import WriteEntry
from medfeed.documents import KINDS, SITEMAP, Kind
from medfeed.loading import load_catalog
from medfeed.sitemap import sitemap_count
from medfeed.sitepages import SitePages, Subjects
from medfeed.version import ContentVersion

BASE = "https://news.example.org/"
LATER = datetime.now(UTC) + timedelta(days=1)
ENTRY_PAGE = next(kind for kind in KINDS if kind.scope == "entry" and kind.page)
HOME = next(kind for kind in KINDS if kind.scope == "site" and kind.page)


def subjects(*slugs: str) -> Subjects:
    return [(HOME, [None]), (ENTRY_PAGE, list(slugs))]


def counting_paths(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The subjects whose paths are worked out from here on."""
    asked: list[str | None] = []
    path = Kind.path

    def counted(kind: Kind, subject: str | None = None) -> str:
        asked.append(subject)
        return path(kind, subject)

    monkeypatch.setattr(Kind, "path", counted)
    return asked


def test_the_same_pages_are_taken_over_without_working_out_a_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = SitePages(BASE)
    pages = first.pages(subjects("a", "b"))
    assert first.count(subjects("a", "b")) == 1
    asked = counting_paths(monkeypatch)
    after = SitePages(BASE, first)
    assert after.pages(subjects("a", "b")) == pages
    assert after.count(subjects("a", "b")) == 1
    assert asked == []


def test_other_pages_are_worked_out_again(monkeypatch: pytest.MonkeyPatch) -> None:
    first = SitePages(BASE)
    first.pages(subjects("a", "b"))
    asked = counting_paths(monkeypatch)
    after = SitePages(BASE, first)
    assert [url for *_, url in after.pages(subjects("a", "c"))] == [
        BASE,
        f"{BASE}entries/a/",
        f"{BASE}entries/c/",
    ]
    assert asked == [None, "a", "c"]


def test_another_base_url_takes_nothing_over() -> None:
    first = SitePages(BASE)
    first.pages(subjects("a"))
    first.lines["x"] = (LATER, b"line")
    moved = SitePages("https://elsewhere.example.org/blog/", first)
    assert moved.lines == {}
    assert [url for *_, url in moved.pages(subjects("a"))] == [
        "https://elsewhere.example.org/blog/",
        "https://elsewhere.example.org/blog/entries/a/",
    ]


def test_a_version_that_never_listed_its_pages_passes_the_last_list_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = SitePages(BASE)
    pages = first.pages(subjects("a"))
    quiet = SitePages(BASE, first)  # a version whose sitemap no one asked for
    asked = counting_paths(monkeypatch)
    assert SitePages(BASE, quiet).pages(subjects("a")) == pages
    assert asked == []


def test_the_count_is_the_sitemaps() -> None:
    slugs = [f"entry-{n}" for n in range(30)]
    pages = SitePages(BASE)
    assert pages.count(subjects(*slugs)) == sitemap_count(
        [url for *_, url in pages.pages(subjects(*slugs))]
    )


Change = Callable[[Path, WriteEntry], None]


def _edit(folder: Path, write: WriteEntry) -> None:
    write("b-visit", title="B, edited")


def _add(folder: Path, write: WriteEntry) -> None:
    write("d-visit", title="D", published="2016-02-01T09:00:00Z")


def _delete(folder: Path, write: WriteEntry) -> None:
    (folder / "a-visit.json").unlink()


def _rename(folder: Path, write: WriteEntry) -> None:
    (folder / "c-visit.json").rename(folder / "c-renamed.json")


def _new_category(folder: Path, write: WriteEntry) -> None:
    write("b-visit", title="B", categories=["conferences"])


@pytest.mark.parametrize("change", [_edit, _add, _delete, _rename, _new_category])
def test_a_version_made_from_the_last_has_the_sitemap_it_would_have_alone(
    entries_dir: Path, write_entry: WriteEntry, change: Change
) -> None:
    for day, slug in enumerate(["a-visit", "b-visit", "c-visit"], start=10):
        write_entry(slug, title=slug, published=f"2015-10-{day}T09:00:00Z")
    before = ContentVersion(load_catalog(entries_dir), BASE, LATER)
    assert before.sitemap(SITEMAP.path())
    change(entries_dir, write_entry)
    catalog = load_catalog(entries_dir)
    after = ContentVersion(catalog, BASE, LATER, previous=before)
    alone = ContentVersion(catalog, BASE, LATER)
    assert after.sitemap(SITEMAP.path()) == alone.sitemap(SITEMAP.path())
    for kind in KINDS:
        assert after.subjects(kind) == alone.subjects(kind)
