"""A rebuild makes only the documents whose content changed: what each document shows is
kept as a digest in the build's manifest, and a document showing the same, whose file is
as written, is left as it is. Skipping must never change what a build leaves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import BASE_URL, SITE_TOML, entry_data
from medfeed import buildtexts, documentkeys, ical
from medfeed.build import build_over, dates_of, file_for
from medfeed.cachecodec import content_tag, decode_entry, entry_bytes
from medfeed.documentkeys import DocumentKeys
from medfeed.documents import KINDS, Kind
from medfeed.loading import load_catalog
from medfeed.manifest import MARKER, Manifest, read_manifest
from medfeed.outdir import write_manifest
from medfeed.reading import read_entry
from medfeed.snapshot import Snapshot

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


class Counting(Snapshot):
    """A snapshot that lists the documents it renders."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.made: list[str] = []
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def _render(self, kind: Kind, subject: str | None, path: str) -> bytes:
        self.made.append(path)
        return super()._render(kind, subject, path)


def rebuild(
    entries: Path,
    out: Path,
    *,
    keys: bool = True,
    now: datetime = NOW,
    state: Path | None = None,
) -> Counting:
    """Build as ``medfeed build`` does; without ``keys``, as if no document's content
    were known (every document made); with ``state``, keeping the entries' texts there
    for the next build."""
    manifest = read_manifest(out) if out.is_dir() else None
    if manifest is not None and not keys:
        manifest = Manifest(manifest.documents, manifest.folders, manifest.legacy)
    catalog = load_catalog(entries, now)
    assert not catalog.problems, catalog.problems  # every test builds what it wrote
    snapshot = Counting(catalog, BASE_URL, now, prepare=False, ledger=dates_of(manifest))
    build_over(snapshot, out, manifest, state)
    return snapshot


def whole_site(snapshot: Snapshot) -> set[str]:
    """The documents that show the whole site: made by every build."""
    keys = DocumentKeys(snapshot)
    return {
        kind.path(subject)
        for kind in KINDS
        for subject in snapshot.subjects(kind)
        if keys.of(kind, subject) is None
    }


def write(entries: Path, slug: str, **fields: object) -> None:
    (entries / f"{slug}.json").write_text(json.dumps(entry_data(**fields)), encoding="utf-8")


def later(path: Path) -> None:
    # Each write its own mtime, however coarse the file system's clock.
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def four(entries_dir: Path) -> Path:
    for day, slug in enumerate(("a-visit", "b-visit", "c-visit", "d-visit"), start=10):
        write(entries_dir, slug, title=slug, published=f"2015-10-{day}T09:00:00+02:00")
    write(entries_dir, "e-talk", title="A talk", categories=["conferences"],
          published="2016-02-01T09:00:00+02:00")  # fmt: skip
    return entries_dir


def test_a_rebuild_of_the_same_content_makes_only_what_shows_the_whole_site(
    four: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    first = rebuild(four, out)
    assert "/entries/a-visit/" in first.made
    again = rebuild(four, out)
    assert again.made, "the sitemap dates every page: made each time"
    assert set(again.made) == whole_site(again)
    assert "/sitemap.xml" in again.made and "/entries/a-visit/" not in again.made


def test_an_edit_makes_the_documents_that_show_the_entry_and_no_other(
    four: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    rebuild(four, out)
    write(four, "a-visit", title="A visit, edited", published="2015-10-10T09:00:00+02:00")
    later(four / "a-visit.json")
    again = rebuild(four, out)
    made = set(again.made) - whole_site(again)
    assert {"/entries/a-visit/", "/feed.atom", "/categories/visits/feed.rss"} <= made
    assert "/entries/b-visit/" in made, "its neighbour links to it by its title"
    assert "/entries/c-visit/" not in made and "/entries/e-talk/" not in made
    assert "/categories/conferences/feed.atom" not in made
    assert b"A visit, edited" in (out / "entries/a-visit/index.html").read_bytes()


def test_new_code_or_settings_make_every_document_again(
    four: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    first = rebuild(four, out)
    monkeypatch.setattr(documentkeys, "render_fingerprint", lambda: "another release")
    assert set(rebuild(four, out).made) == set(first.made)
    monkeypatch.undo()
    (four / "site.toml").write_text(SITE_TOML.replace("Test News", "Other News"), "utf-8")
    later(four / "site.toml")
    assert set(rebuild(four, out).made) == set(first.made)


@pytest.mark.parametrize("keys", ['"keys": []', '"keys": {"index.html": 5}', '"keys": 1'])
def test_a_manifest_with_damaged_keys_has_every_document_made(
    four: Path, tmp_path: Path, keys: str
) -> None:
    out = tmp_path / "site"
    first = rebuild(four, out)
    marker = out / MARKER
    data = marker.read_text("utf-8")
    marker.write_text(data[:-1] + "," + keys + "}", "utf-8")
    assert set(rebuild(four, out).made) == set(first.made)
    assert read_manifest(out).keys, "written again whole"  # type: ignore[union-attr]


def test_a_file_edited_by_hand_is_made_again_though_its_content_is_the_same(
    four: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    rebuild(four, out)
    page = out / file_for("/entries/c-visit/")
    original = page.read_bytes()
    page.write_bytes(b"defaced")
    assert "/entries/c-visit/" in rebuild(four, out).made
    assert page.read_bytes() == original


def test_items_digested_on_every_core_have_the_digests_worked_out_one_by_one(
    four: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documentkeys, "FILES_FROM", 2)
    monkeypatch.setattr(documentkeys, "FILE_SHARE", 2)  # several shares, several processes
    catalog = load_catalog(four, NOW)
    snapshot = Snapshot(catalog, BASE_URL, NOW, prepare=False)
    one_by_one = DocumentKeys(snapshot)
    expected = [one_by_one.item_digest(item) for item in snapshot.items]
    primed = DocumentKeys(snapshot)
    primed.prime(snapshot.items)
    pickled: list[object] = []
    monkeypatch.setattr(documentkeys, "content_tag", lambda entry: pickled.append(entry))
    assert [primed.item_digest(item) for item in snapshot.items] == expected
    assert pickled == [], "each was worked out by the processes the prime shared them out to"
    assert len(set(expected)) == len(expected)


def test_an_entry_pickles_to_the_same_bytes_in_every_process(four: Path) -> None:
    # What tells two versions of a file apart in a build's keys must not depend on the
    # process (string hashes differ from one to the next).
    script = (
        "import sys; from pathlib import Path; from medfeed.reading import read_entry; "
        "from medfeed.cachecodec import content_tag; f = Path(sys.argv[1]); "
        "print(content_tag(read_entry(f / 'e-talk.json', f)[0]))"
    )
    tags = {
        subprocess.run(
            [sys.executable, "-c", script, str(four)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3", "4")
    }
    entry, _ = read_entry(four / "e-talk.json", four)
    assert tags == {f"{content_tag(entry)}\n"}
    again = decode_entry(entry_bytes(entry))
    assert again == entry and again.model_fields_set == entry.model_fields_set
    assert content_tag(again) == content_tag(entry)


SLUGS = ("a-visit", "b-visit", "c-visit", "d-visit")
Step = tuple[str, int, int]
steps = st.lists(
    st.tuples(
        st.sampled_from(["title", "date", "category", "draft", "delete", "touch", "site", "quiet"]),
        st.integers(0, len(SLUGS) - 1),
        st.integers(1, 28),
    ),
    min_size=1,
    max_size=4,
)


def _apply(entries: Path, step: Step) -> None:
    what, n, day = step
    path = entries / f"{SLUGS[n]}.json"
    if what == "site":
        path = entries / "site.toml"
        path.write_text(SITE_TOML.replace("Test News", f"News {day}"), "utf-8")
    elif what == "delete":
        path.unlink(missing_ok=True)
        return
    elif what == "touch" and path.exists():
        pass
    elif what == "quiet" and path.exists():
        # Another title at the same mtime (two writes within one tick of the clock): the
        # entry's content tells the versions apart.
        before = path.stat()
        data = json.loads(path.read_text("utf-8"))
        path.write_text(json.dumps({**data, "title": f"Quiet {day}"}), "utf-8")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        return
    else:
        data = json.loads(path.read_text("utf-8")) if path.exists() else entry_data()
        if what == "title":
            data["title"] = f"Title {day}"
        elif what == "date":
            data["published"] = f"2015-{1 + day % 12:02}-{day:02}T09:00:00+02:00"
        elif what == "category":
            data["categories"] = [["visits"], ["conferences"], ["visits", "conferences"]][day % 3]
        elif what == "draft":
            data["draft"] = not data.get("draft", False)
        elif what == "event":
            data["event"] = {"start": f"2014-{1 + day % 12:02}", "end": f"2015-01-{day:02}"}
        path.write_text(json.dumps(data), "utf-8")
    if path.exists():
        later(path)


def _left(out: Path) -> dict[str, tuple[bytes, int]]:
    found = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.name != MARKER:
            found[str(path.relative_to(out))] = (path.read_bytes(), path.stat().st_mtime_ns)
    return found


def _copy(out: Path, to: Path) -> None:
    """A copy of a build that is the copy's own: its manifest names the copy's files."""
    shutil.copytree(out, to, symlinks=True)
    manifest = read_manifest(out)
    assert manifest is not None
    documents = {}
    for rel, record in manifest.documents.items():
        if record is not None:
            main, gz = (to / rel).stat().st_ino, (to / f"{rel}.gz").stat().st_ino
            record = (*record[:3], main, record[4], gz)
        documents[rel] = record
    write_manifest(str(to), documents, set(manifest.folders), manifest.keys)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_a_rebuild_leaves_what_making_every_document_leaves(edits: list[Step]) -> None:
    # With the texts of the last build and the documents it made: both must be what
    # writing every text and making every document gives.
    with tempfile.TemporaryDirectory() as tmp:
        entries, out, full = Path(tmp, "entries"), Path(tmp, "site"), Path(tmp, "full")
        entries.mkdir()
        (entries / "site.toml").write_text(SITE_TOML, "utf-8")
        for day, slug in enumerate(SLUGS, start=10):
            event = {
                "start": f"2015-10-{day}",
                "location": {"place": "Jerusalem", "country": "Israel"},
            }
            write(entries, slug, title=slug, published=f"2015-10-{day}T09:00:00+02:00", event=event)
        state = Path(tmp, "state")
        rebuild(entries, out, state=state)
        for n, step in enumerate(edits, start=1):
            _apply(entries, step)
            moment = NOW + timedelta(minutes=n)
            _copy(out, full)
            rebuild(entries, out, now=moment, state=state)
            rebuild(entries, full, keys=False, now=moment)
            assert _left(out) == _left(full), step
            kept, made = read_manifest(out), read_manifest(full)
            assert kept is not None and made is not None
            assert {rel: r[:3] for rel, r in kept.documents.items()} == {
                rel: r[:3] for rel, r in made.documents.items()
            }
            shutil.rmtree(full)


def test_a_rebuild_writes_the_vevents_of_the_changed_entries_only(
    four: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for slug in ("a-visit", "b-visit", "c-visit"):
        write(four, slug, title=slug, event={"start": "2015-10-12"})
    out, state = tmp_path / "site", tmp_path / "state"
    rebuild(four, out, state=state)
    written: list[str] = []
    lines = ical._event_text
    monkeypatch.setattr(
        ical, "_event_text", lambda item, *a: written.append(item.slug) or lines(item, *a)
    )
    write(four, "b-visit", title="B, edited", event={"start": "2015-10-13"})
    later(four / "b-visit.json")
    rebuild(four, out, state=state)
    assert set(written) == {"b-visit"}, "the others' are the last build's"
    calendar = (out / "events.ics").read_bytes()
    assert rb"B\, edited" in calendar
    assert calendar.count(b"BEGIN:VEVENT") == 3


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_damaged_kept_texts_are_written_again(four: Path, tmp_path: Path, damage: str) -> None:
    for slug in ("a-visit", "b-visit"):
        write(four, slug, title=slug, event={"start": "2015-10-12"})
    out, state = tmp_path / "site", tmp_path / "state"
    rebuild(four, out, state=state)
    kept = state / buildtexts.FILE
    data = bytearray(kept.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
    kept.write_bytes(
        bytes(
            data[: len(data) // 2] if damage == "truncate" else b"" if damage == "empty" else data
        )
    )
    write(four, "a-visit", title="A, edited", event={"start": "2015-10-12"})
    later(four / "a-visit.json")
    rebuild(four, out, state=state)
    made = tmp_path / "made"
    rebuild(four, made)
    assert (out / "events.ics").read_bytes() == (made / "events.ics").read_bytes()


def test_kept_texts_are_read_only_when_a_document_showing_entries_is_made(
    four: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(four, "a-visit", title="a-visit", event={"start": "2015-10-12"})
    out, state = tmp_path / "site", tmp_path / "state"
    rebuild(four, out, state=state)
    kept = (state / buildtexts.FILE).read_bytes()
    reads: list[Path] = []
    load = buildtexts.BuildTexts.load
    monkeypatch.setattr(
        buildtexts.BuildTexts, "load", lambda self: reads.append(self._path) or load(self)
    )
    rebuild(four, out, state=state)
    assert reads == [], "nothing but the sitemaps was made"
    assert (state / buildtexts.FILE).read_bytes() == kept
    write(four, "a-visit", title="A, edited", event={"start": "2015-10-12"})
    later(four / "a-visit.json")
    rebuild(four, out, state=state)
    assert reads == [state / buildtexts.FILE]
    assert (state / buildtexts.FILE).read_bytes() != kept


def test_the_kept_texts_of_a_deleted_entry_are_dropped(four: Path, tmp_path: Path) -> None:
    for slug in ("a-visit", "b-visit"):
        write(four, slug, title=f"Title of {slug}", event={"start": "2015-10-12"})
    out, state = tmp_path / "site", tmp_path / "state"
    rebuild(four, out, state=state)
    assert b"Title of b-visit" in (state / buildtexts.FILE).read_bytes()
    (four / "b-visit.json").unlink()
    rebuild(four, out, state=state)
    kept = (state / buildtexts.FILE).read_bytes()
    assert b"Title of b-visit" not in kept, "the file does not grow with every entry ever"
    assert b"Title of a-visit" in kept
