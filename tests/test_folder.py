"""The live folder state and the publisher on top of it, without threads: one change at a time."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from conftest import BASE_URL, SITE_TOML
from medfeed.folder import Folder
from medfeed.settings import Settings
from medfeed.site import Publisher
from medfeed.store import Catalog, Item

WriteEntry = Callable[..., Path]
FORMATS = ("rss", "atom", "json")

A_ID = "tag:example.org,2015-10-12:a-visit"
OCT_20 = datetime(2015, 10, 20, tzinfo=UTC)


def by_slug(catalog: Catalog) -> dict[str, Item]:
    return {item.slug: item for item in catalog.items}


def problem_paths(catalog: Catalog) -> set[str]:
    return {p.path for p in catalog.problems}


def three_entries(write_entry: WriteEntry) -> None:
    write_entry("a-visit", title="A", published="2015-10-12T09:00:00+02:00")
    write_entry("b-visit", title="B", published="2015-10-13T09:00:00+02:00")
    write_entry("c-visit", title="C", published="2015-10-14T09:00:00+02:00")


def break_file(path: Path) -> None:
    path.write_text('{"title": "half-written', encoding="utf-8")


def publisher(entries_dir: Path, now: Callable[[], datetime] | None = None) -> Publisher:
    settings = Settings(entries_dir=entries_dir, base_url=BASE_URL, watch=False)
    if now is None:
        return Publisher(settings, deletion_grace=0)
    return Publisher(settings, now=now, deletion_grace=0)


def feed_ids(body: bytes) -> list[str]:
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0
    return [e.id for e in parsed.entries]


# --- Folder: only what changed is read again ---------------------------------------------------


def test_update_rereads_only_the_named_file(entries_dir: Path, write_entry: WriteEntry) -> None:
    three_entries(write_entry)
    folder = Folder(entries_dir)
    before = by_slug(folder.catalog())
    assert sorted(before) == ["a-visit", "b-visit", "c-visit"]

    write_entry("a-visit", title="A, corrected", published="2015-10-12T09:00:00+02:00")
    assert folder.update({"a-visit.json"}) is True
    after = by_slug(folder.catalog())

    assert sorted(after) == ["a-visit", "b-visit", "c-visit"]
    assert after["a-visit"].entry.title == "A, corrected"
    assert after["a-visit"] is not before["a-visit"]
    assert after["a-visit"].id == before["a-visit"].id
    assert after["b-visit"] is before["b-visit"]
    assert after["c-visit"] is before["c-visit"]


def test_update_does_not_read_files_it_is_not_told_about(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    three_entries(write_entry)
    folder = Folder(entries_dir)
    before = by_slug(folder.catalog())

    break_file(entries_dir / "b-visit.json")
    write_entry("a-visit", title="A, corrected", published="2015-10-12T09:00:00+02:00")
    assert folder.update({"a-visit.json"}) is True
    catalog = folder.catalog()

    # b-visit.json is broken on disk, but nobody said it changed: not read, not reported.
    assert catalog.problems == ()
    assert by_slug(catalog)["b-visit"] is before["b-visit"]
    # A full pass does read it (so the check above could have failed).
    assert folder.rescan() is True
    assert problem_paths(folder.catalog()) == {"entries/b-visit.json"}


def test_update_and_rescan_say_whether_anything_changed(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    three_entries(write_entry)
    folder = Folder(entries_dir)
    folder.catalog()
    assert folder.rescan() is False
    assert folder.update({"a-visit.json", "site.toml"}) is False
    assert folder.update({"no-such-entry.json"}) is False

    write_entry("b-visit", title="B, again", published="2015-10-13T09:00:00+02:00")
    assert folder.update({"b-visit.json"}) is True
    assert folder.update({"b-visit.json"}) is False
    assert folder.rescan() is False

    write_entry("d-visit")
    assert folder.rescan() is True
    assert folder.rescan() is False


def test_touched_but_unchanged_file_keeps_its_item(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    path = write_entry("a-visit")
    folder = Folder(entries_dir)
    [before] = folder.catalog().items
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert folder.update({"a-visit.json"}) is False
    [after] = folder.catalog().items
    assert after is before


# --- Folder: broken, new, removed and renamed files --------------------------------------------


def test_broken_file_keeps_its_last_valid_version(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    three_entries(write_entry)
    folder = Folder(entries_dir)
    good = by_slug(folder.catalog())["a-visit"]

    break_file(entries_dir / "a-visit.json")
    assert folder.update({"a-visit.json"}) is True
    catalog = folder.catalog()
    assert sorted(by_slug(catalog)) == ["a-visit", "b-visit", "c-visit"]
    assert by_slug(catalog)["a-visit"].entry.title == "A"
    assert by_slug(catalog)["a-visit"].id == good.id
    assert problem_paths(catalog) == {"entries/a-visit.json"}
    [problem] = catalog.problems
    assert "not valid JSON" in problem.message

    write_entry("a-visit", title="A, fixed", published="2015-10-12T09:00:00+02:00")
    assert folder.update({"a-visit.json"}) is True
    catalog = folder.catalog()
    assert by_slug(catalog)["a-visit"].entry.title == "A, fixed"
    assert by_slug(catalog)["a-visit"].id == good.id
    assert catalog.problems == ()


def test_new_invalid_file_is_reported_not_published(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    folder = Folder(entries_dir)
    folder.catalog()

    break_file(entries_dir / "new-visit.json")
    assert folder.update({"new-visit.json"}) is True
    catalog = folder.catalog()
    assert sorted(by_slug(catalog)) == ["a-visit"]
    assert problem_paths(catalog) == {"entries/new-visit.json"}

    write_entry("wrong-field", title=None)
    assert folder.rescan() is True
    catalog = folder.catalog()
    assert sorted(by_slug(catalog)) == ["a-visit"]
    assert problem_paths(catalog) == {"entries/new-visit.json", "entries/wrong-field.json"}


def test_removed_file_is_unpublished(entries_dir: Path, write_entry: WriteEntry) -> None:
    three_entries(write_entry)
    folder = Folder(entries_dir, deletion_grace=0)
    folder.catalog()

    (entries_dir / "a-visit.json").unlink()
    assert folder.update({"a-visit.json"}) is True
    assert sorted(by_slug(folder.catalog())) == ["b-visit", "c-visit"]

    (entries_dir / "b-visit.json").unlink()
    assert folder.rescan() is True
    assert sorted(by_slug(folder.catalog())) == ["c-visit"]


def test_removed_broken_file_takes_its_problem_and_last_version_along(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    folder = Folder(entries_dir, deletion_grace=0)
    folder.catalog()
    break_file(entries_dir / "a-visit.json")
    folder.update({"a-visit.json"})
    assert [i.slug for i in folder.catalog().items] == ["a-visit"]

    (entries_dir / "a-visit.json").unlink()
    assert folder.update({"a-visit.json"}) is True
    catalog = folder.catalog()
    assert catalog.items == ()
    assert catalog.problems == ()


def test_renamed_file_moves_its_item(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    folder = Folder(entries_dir, deletion_grace=0)
    folder.catalog()

    os.rename(entries_dir / "a-visit.json", entries_dir / "b-visit.json")
    assert folder.rescan() is True
    [item] = folder.catalog().items
    assert item.slug == "b-visit"
    assert item.source == "entries/b-visit.json"
    assert item.id == "tag:example.org,2015-10-12:b-visit"


# --- Folder: site.toml ------------------------------------------------------------------------


def test_broken_site_toml_keeps_the_last_valid_site(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    site = entries_dir / "site.toml"
    folder = Folder(entries_dir)
    folder.catalog()

    site.write_text(SITE_TOML.replace('title = "Test News"', 'title = "Broken'), encoding="utf-8")
    assert folder.update({"site.toml"}) is True
    catalog = folder.catalog()
    assert folder.site.title == "Test News"
    assert catalog.site.title == "Test News"
    assert [i.slug for i in catalog.items] == ["a-visit"]
    assert problem_paths(catalog) == {"entries/site.toml"}
    assert folder.rescan() is False

    site.write_text(SITE_TOML.replace("Test News", "Fresh News"), encoding="utf-8")
    assert folder.update({"site.toml"}) is True
    catalog = folder.catalog()
    assert catalog.site.title == "Fresh News"
    assert catalog.problems == ()
    assert [i.slug for i in catalog.items] == ["a-visit"]


def test_site_toml_fixed_back_to_the_same_content_clears_the_problem(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    site = entries_dir / "site.toml"
    folder = Folder(entries_dir)
    folder.catalog()
    site.write_text("title = ", encoding="utf-8")
    assert folder.rescan() is True
    site.write_text(SITE_TOML, encoding="utf-8")
    assert folder.rescan() is True
    assert folder.catalog().problems == ()


def test_authority_change_changes_every_computed_id(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    write_entry("b-visit", published="2016-01-02T00:00:00Z")
    write_entry("imported", id="urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    folder = Folder(entries_dir)
    assert {i.slug: i.id for i in folder.catalog().items} == {
        "a-visit": "tag:example.org,2015-10-12:a-visit",
        "b-visit": "tag:example.org,2016-01-02:b-visit",
        "imported": "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    }

    site = entries_dir / "site.toml"
    site.write_text(SITE_TOML.replace('"example.org"', '"example.com"'), encoding="utf-8")
    assert folder.update({"site.toml"}) is True
    expected = {
        "a-visit": "tag:example.com,2015-10-12:a-visit",
        "b-visit": "tag:example.com,2016-01-02:b-visit",
        "imported": "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    }
    assert {i.slug: i.id for i in folder.catalog().items} == expected

    # The last valid version a broken file falls back on carries the new id too.
    break_file(entries_dir / "a-visit.json")
    assert folder.update({"a-visit.json"}) is True
    catalog = folder.catalog()
    assert {i.slug: i.id for i in catalog.items} == expected
    assert problem_paths(catalog) == {"entries/a-visit.json"}


# --- Folder: rules across files ----------------------------------------------------------------


def test_edit_to_an_unknown_category_keeps_the_last_good_version(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    folder = Folder(entries_dir)
    [good] = folder.catalog().items

    write_entry("a-visit", title="Recategorised", categories=["visist"])
    assert folder.update({"a-visit.json"}) is True
    catalog = folder.catalog()
    [item] = catalog.items
    assert item.entry.title == "A visit"
    assert item.entry.categories == ("visits",)
    assert item.id == good.id
    [problem] = catalog.problems
    assert (problem.path, problem.field) == ("entries/a-visit.json", "categories.0")
    assert "unknown category 'visist'" in problem.message

    # Broken next: the fallback is still the version with a known category.
    break_file(entries_dir / "a-visit.json")
    folder.update({"a-visit.json"})
    [item] = folder.catalog().items
    assert item.entry.title == "A visit"


def test_new_file_with_an_unknown_category_is_not_published(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    folder = Folder(entries_dir)
    folder.catalog()
    write_entry("b-visit", categories=["nope"])
    assert folder.update({"b-visit.json"}) is True
    catalog = folder.catalog()
    assert [i.slug for i in catalog.items] == ["a-visit"]
    assert problem_paths(catalog) == {"entries/b-visit.json"}


def test_new_file_claiming_a_published_id_leaves_it_where_it_was(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    folder = Folder(entries_dir, deletion_grace=0)
    [original] = folder.catalog().items
    assert original.id == A_ID

    write_entry("copy", title="A copy", id=A_ID)
    assert folder.update({"copy.json"}) is True
    catalog = folder.catalog()
    [item] = catalog.items
    assert item is original
    assert {(p.path, p.field) for p in catalog.problems} == {
        ("entries/a-visit.json", "id"),
        ("entries/copy.json", "id"),
    }

    # Once the owner is gone, the id is free for the other file.
    (entries_dir / "a-visit.json").unlink()
    assert folder.rescan() is True
    catalog = folder.catalog()
    [item] = catalog.items
    assert (item.slug, item.id, item.entry.title) == ("copy", A_ID, "A copy")
    assert catalog.problems == ()


def test_edit_claiming_another_files_id_keeps_the_last_valid_version(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    write_entry("b-visit", title="B")
    folder = Folder(entries_dir)
    before = by_slug(folder.catalog())

    write_entry("b-visit", title="B, careless", id=A_ID)
    assert folder.update({"b-visit.json"}) is True
    catalog = folder.catalog()
    assert {(p.path, p.field) for p in catalog.problems} == {
        ("entries/a-visit.json", "id"),
        ("entries/b-visit.json", "id"),
    }
    assert by_slug(catalog)["a-visit"] is before["a-visit"]
    # Readers already have b-visit under its own id: it stays, as last published.
    assert by_slug(catalog)["b-visit"].id == "tag:example.org,2015-10-12:b-visit"
    assert by_slug(catalog)["b-visit"].entry.title == "B"


# --- Publisher.refresh: snapshots and documents ------------------------------------------------


def test_refresh_keeps_the_documents_of_unchanged_feeds(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    write_entry("a-conference", categories=["conferences"], published="2015-09-01T00:00:00Z")
    pub = publisher(entries_dir)
    before = pub.snapshot()

    assert pub.refresh({"a-visit.json"}) is False
    assert pub.refresh(None) is False
    assert pub.snapshot() is before

    write_entry("a-visit", title="A visit, corrected")
    assert pub.refresh({"a-visit.json"}) is True
    after = pub.snapshot()
    assert after is not before
    for fmt in FORMATS:
        old, new = before.feed("conferences", fmt), after.feed("conferences", fmt)
        # Not rendered or compressed again: the same bytes, under the folder's new date.
        assert new.body is old.body
        assert new.variant("gzip").body is old.variant("gzip").body
        assert new.etag == old.etag
        for category in (None, "visits"):
            assert after.feed(category, fmt).etag != before.feed(category, fmt).etag
    assert b"A visit, corrected" in after.feed(None, "atom").body
    assert b"A visit, corrected" not in after.feed("conferences", "atom").body
    assert feed_ids(after.feed(None, "atom").body) == [
        A_ID,
        "tag:example.org,2015-09-01:a-conference",
    ]


def test_a_newer_updated_time_re_renders_only_the_feeds_that_show_the_entry(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    write_entry("a-conference", categories=["conferences"], published="2015-09-01T00:00:00Z")
    pub = publisher(entries_dir)
    before = pub.snapshot()
    write_entry("a-visit", title="A visit, updated", updated="2016-01-01T00:00:00Z")
    assert pub.refresh({"a-visit.json"}) is True
    after = pub.snapshot()
    assert after.updated != before.updated
    for fmt in FORMATS:
        assert after.feed("conferences", fmt).body is before.feed("conferences", fmt).body
        assert after.feed("visits", fmt).etag != before.feed("visits", fmt).etag


def test_an_empty_category_feed_follows_the_sites_updated_time(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    pub = publisher(entries_dir)
    before = pub.snapshot().feed("conferences", "atom")
    write_entry("a-visit", updated="2016-01-01T00:00:00Z")
    pub.refresh({"a-visit.json"})
    after = pub.snapshot().feed("conferences", "atom")
    assert after.etag != before.etag
    assert b"<updated>2016-01-01T00:00:00+00:00</updated>" in after.body


def test_refresh_of_a_broken_file_keeps_every_document(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    pub = publisher(entries_dir)
    before = pub.snapshot()
    break_file(entries_dir / "a-visit.json")
    assert pub.refresh({"a-visit.json"}) is True
    after = pub.snapshot()
    for fmt in FORMATS:
        for category in (None, "visits", "conferences"):
            assert after.feed(category, fmt) is before.feed(category, fmt)
    assert feed_ids(after.feed("visits", "rss").body) == [A_ID]


def test_health(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    write_entry("b-visit", published="2015-10-13T00:00:00Z")
    pub = publisher(entries_dir)
    health = pub.health()
    assert (health.status, health.entries, health.problems) == ("ok", 2, ())
    assert health.watching == "off"
    first_version = health.version

    break_file(entries_dir / "a-visit.json")
    pub.refresh({"a-visit.json"})
    health = pub.health()
    assert health.status == "degraded"
    assert health.entries == 2  # the broken file is still published
    assert [p.path for p in health.problems] == ["entries/a-visit.json"]
    assert health.version == first_version  # what readers get did not change

    write_entry("a-visit", title="Changed")
    pub.refresh({"a-visit.json"})
    health = pub.health()
    assert (health.status, health.entries, health.problems) == ("ok", 2, ())
    assert health.version != first_version

    (entries_dir / "b-visit.json").unlink()
    pub.refresh(None)
    assert pub.health().entries == 1


def test_scheduled_entry_appears_when_its_time_comes(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit")
    write_entry("soon", published="2015-11-01T12:00:00+01:00")
    clock = [OCT_20]
    pub = publisher(entries_dir, now=lambda: clock[0])
    assert [i.slug for i in pub.snapshot().items] == ["a-visit"]
    assert feed_ids(pub.snapshot().feed(None, "atom").body) == [A_ID]
    version = pub.health().version

    clock[0] = datetime(2015, 11, 1, 10, 59, 59, tzinfo=UTC)
    assert [i.slug for i in pub.snapshot().items] == ["a-visit"]

    clock[0] = datetime(2015, 11, 1, 11, 0, tzinfo=UTC)
    snapshot = pub.snapshot()
    assert [i.slug for i in snapshot.items] == ["soon", "a-visit"]
    assert feed_ids(snapshot.feed(None, "atom").body) == [
        "tag:example.org,2015-11-01:soon",
        A_ID,
    ]
    assert pub.health().entries == 2
    assert pub.health().version != version


def test_chained_id_claims_leave_every_file_with_its_own_id(
    entries_dir: Path, write_entry: WriteEntry
) -> None:
    write_entry("a-visit", title="A")
    write_entry("b-visit", title="B")
    write_entry("c-visit", title="C")
    folder = Folder(entries_dir)
    ids = {item.slug: item.id for item in folder.catalog().items}
    write_entry("a-visit", title="A, careless", id=ids["b-visit"])
    folder.update({"a-visit.json"})
    folder.catalog()
    write_entry("b-visit", title="B, careless", id=ids["c-visit"])
    folder.update({"b-visit.json"})
    catalog = folder.catalog()
    assert {item.slug: (item.id, item.entry.title) for item in catalog.items} == {
        "a-visit": (ids["a-visit"], "A"),
        "b-visit": (ids["b-visit"], "B"),
        "c-visit": (ids["c-visit"], "C"),
    }
    assert {p.path for p in catalog.problems if p.field == "id"} >= {
        "entries/a-visit.json",
        "entries/b-visit.json",
    }


def test_a_document_asked_for_again_is_one_lookup(
    entries_dir: Path, write_entry: WriteEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_entry("a-visit")
    snapshot = publisher(entries_dir).snapshot()
    paths = ["/feed.atom", "/", "/entries/a-visit/", "/archive/2015/10/"]
    first = {path: snapshot.document(path) for path in paths}

    def no_more_work(*args: object) -> object:
        raise AssertionError("a request for a known document recomputed it")

    monkeypatch.setattr(snapshot, "_key", no_more_work)
    monkeypatch.setattr(snapshot, "last_modified", no_more_work)
    for path in paths:
        assert first[path] is not None and snapshot.document(path) is first[path]
