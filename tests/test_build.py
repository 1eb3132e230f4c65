"""medfeed build: a static copy of the site, byte for byte what the app serves, that never
loses a file it did not write and rewrites only what changed."""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from conftest import BASE_URL, SMALL_SITE_DOCUMENTS, WriteEntry
from helpers import age_folder
from medfeed.build import build_site, file_for
from medfeed.cli import main
from medfeed.delivery import Document
from medfeed.documents import Kind
from medfeed.loading import load_catalog
from medfeed.outdir import MARKER
from medfeed.site import utc_now
from medfeed.snapshot import Snapshot
from medfeed.version import Key

State = dict[str, tuple[bytes, int, int]]


@pytest.fixture
def site(write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    write_entry("a-conference", categories=["conferences"], title="A conference")
    write_entry("a-draft", draft=True)


def run_build(runner: CliRunner, entries: Path, *args: str) -> Result:
    return runner.invoke(
        main, ["build", *args, "--entries", str(entries)], env={"MEDFEED_BASE_URL": BASE_URL}
    )


def build(runner: CliRunner, entries: Path, out: Path, *args: str) -> str:
    result = run_build(runner, entries, str(out), *args)
    assert result.exit_code == 0, result.output
    return result.output


def state(folder: Path) -> State:
    """Every file and folder under ``folder``, itself too: bytes, mtime (ns) and inode."""
    found = {}
    for path in [folder, *sorted(folder.rglob("*"))]:
        info = path.lstat()
        data = path.read_bytes() if path.is_file() else b""
        found[str(path.relative_to(folder))] = (data, info.st_mtime_ns, info.st_ino)
    return found


def identities(out: Path) -> dict[str, tuple[int, int, int, int]]:
    """Each document's file and .gz sibling as (inode, mtime) pairs: a write changes both."""
    found = {}
    for path in SMALL_SITE_DOCUMENTS:
        main_file, gz = (out / file_for(path)).stat(), (out / (file_for(path) + ".gz")).stat()
        found[path] = (main_file.st_ino, main_file.st_mtime_ns, gz.st_ino, gz.st_mtime_ns)
    return found


def served(app: Flask) -> dict[str, bytes]:
    # The sitemap last: it gives each page the date the page is served with once the page
    # is made (the folder's date for one not made yet), as a build, which makes them all.
    client = app.test_client()
    ordered = sorted(SMALL_SITE_DOCUMENTS, key=lambda path: path.endswith("sitemap.xml"))
    return {path: client.get(path).data for path in ordered}


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.usefixtures("site")
def test_every_document_is_the_apps_bytes(
    runner: CliRunner, entries_dir: Path, tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    out = tmp_path / "site"
    build(runner, entries_dir, out)
    client = make_app().test_client()
    written = {
        "/" + str(p.relative_to(out)).replace("index.html", "")
        for p in out.rglob("*")
        if p.is_file() and p.suffix != ".gz" and p.name != MARKER
    }
    # Every document of the app, and what static hosts read: redirects, Link headers.
    assert written == {*SMALL_SITE_DOCUMENTS, "/_redirects", "/.redirects.map", "/.links.map"}
    for path in SMALL_SITE_DOCUMENTS:
        served = client.get(path).data
        on_disk = (out / file_for(path)).read_bytes()
        assert on_disk == served, path
        assert gzip.decompress((out / (file_for(path) + ".gz")).read_bytes()) == served
        gzipped = client.get(path, headers={"Accept-Encoding": "gzip"}).data
        assert (out / (file_for(path) + ".gz")).read_bytes() == gzipped


@pytest.mark.usefixtures("site")
def test_drafts_are_not_built(runner: CliRunner, entries_dir: Path, tmp_path: Path) -> None:
    build(runner, entries_dir, tmp_path / "site")
    assert not (tmp_path / "site" / "entries" / "a-draft").exists()


@pytest.mark.usefixtures("site")
def test_each_files_mtime_is_its_documents_last_modified(
    runner: CliRunner, entries_dir: Path, tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    out = tmp_path / "site"
    build(runner, entries_dir, out)
    client = make_app().test_client()
    for path in SMALL_SITE_DOCUMENTS:
        last_modified = parsedate_to_datetime(client.get(path).headers["Last-Modified"])
        for name in (file_for(path), file_for(path) + ".gz"):
            mtime = datetime.fromtimestamp((out / name).stat().st_mtime, UTC)
            assert mtime == last_modified, name


# --- problems -----------------------------------------------------------------------------


@pytest.mark.usefixtures("site")
def test_problems_stop_the_build_and_change_nothing(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    build(runner, entries_dir, out)
    before = state(out)
    write_entry("a-conference", categories=["conferencs"], title="A conference")
    (entries_dir / "broken.json").write_text("{", encoding="utf-8")

    result = run_build(runner, entries_dir, str(out))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    problems = load_catalog(entries_dir).problems
    assert {p.path for p in problems} == {"entries/a-conference.json", "entries/broken.json"}
    lines = result.output.splitlines()
    for problem in problems:
        assert lines.count(str(problem)) == 1
    assert "--allow-problems" in lines[-1]
    assert state(out) == before, "not one byte, not one mtime"


def test_a_first_build_with_problems_makes_no_folder(
    runner: CliRunner, write_entry: WriteEntry, entries_dir: Path, tmp_path: Path
) -> None:
    write_entry("a-visit", published="2015-10-12T09:00:00")
    result = run_build(runner, entries_dir, str(tmp_path / "site"))
    assert result.exit_code == 1
    assert "entries/a-visit.json: published:" in result.output
    assert not (tmp_path / "site").exists()


@pytest.mark.usefixtures("site")
def test_allow_problems_builds_the_rest_and_says_what_was_left_out(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    build(runner, entries_dir, out)
    write_entry("a-conference", categories=["conferencs"], title="A conference")
    (entries_dir / "broken.json").write_text("{", encoding="utf-8")

    output = build(runner, entries_dir, out, "--allow-problems")
    left_out = [line for line in output.splitlines() if line.startswith("left out:")]
    assert left_out == [
        "left out: entries/a-conference.json (it has problems)",
        "left out: entries/broken.json (it has problems)",
    ]
    assert not (out / "entries" / "a-conference").exists()
    assert (out / "entries" / "a-visit" / "index.html").is_file()
    assert b"A conference" not in (out / "feed.atom").read_bytes()


# --- what a rebuild keeps and deletes -----------------------------------------------------


@pytest.mark.usefixtures("site")
def test_a_rebuild_deletes_only_what_an_earlier_build_wrote(
    runner: CliRunner, entries_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    build(runner, entries_dir, out)
    theirs = {
        "humans.txt": "Team: the desk\n",
        ".well-known/security.txt": "Contact: mailto:desk@example.org\n",
        "notes/todo.txt": "keep me",
        "entries/README.txt": "the entry pages",
        "entries/a-conference/photo.jpg": "not really a photo",
    }
    for name, text in theirs.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text, encoding="utf-8")
    (out / "empty-folder").mkdir()
    (entries_dir / "a-conference.json").unlink()
    (entries_dir / "a-visit.json").unlink()

    output = build(runner, entries_dir, out)
    # Their two pages, and the archive pages of their year and month, now empty, for
    # the site and each of the two categories.
    assert "8 deleted" in output
    for name, text in theirs.items():
        assert (out / name).read_text(encoding="utf-8") == text, name
    assert (out / "empty-folder").is_dir()
    assert not (out / "entries" / "a-conference" / "index.html").exists()
    assert not (out / "entries" / "a-conference" / "index.html.gz").exists()
    assert not (out / "entries" / "a-visit").exists(), "a folder medfeed made and emptied"
    assert (out / "categories" / "conferences" / "index.html").is_file()
    assert [p.name for p in out.rglob("*.medfeed-tmp")] == [], "no temporary files are left"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []


@pytest.mark.usefixtures("site")
def test_a_folder_without_a_manifest_is_built_into_and_its_files_kept(
    runner: CliRunner, entries_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "public"
    (out / "css").mkdir(parents=True)
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    (out / "css" / "site.css").write_text("body {}", encoding="utf-8")
    build(runner, entries_dir, out)
    build(runner, entries_dir, out)
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert (out / "css" / "site.css").read_text(encoding="utf-8") == "body {}"
    assert (out / "feed.atom").is_file()
    manifest = json.loads((out / MARKER).read_text(encoding="utf-8"))
    assert "notes.txt" not in manifest["documents"]
    assert "css" not in manifest["folders"]


@pytest.mark.parametrize(
    ("theirs", "listed"),
    [
        (["index.html", "feed.atom.gz"], ["feed.atom.gz", "index.html"]),
        (["entries"], ["entries"]),
        (["categories/visits/feed.rss/x"], ["categories/visits/feed.rss"]),
    ],
)
@pytest.mark.usefixtures("site")
def test_files_in_the_builds_way_are_listed_and_nothing_is_changed(
    runner: CliRunner, entries_dir: Path, tmp_path: Path, theirs: list[str], listed: list[str]
) -> None:
    out = tmp_path / "site"
    for name in theirs:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("the user's own", encoding="utf-8")
    before = state(out)
    result = run_build(runner, entries_dir, str(out))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert "did not write" in lines[0]
    assert [line.strip() for line in lines[1:]] == listed
    assert state(out) == before


@pytest.mark.usefixtures("site")
def test_a_build_from_before_manifests_is_rebuilt(
    runner: CliRunner, entries_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / MARKER).write_text("medfeed build\n", encoding="utf-8")
    (out / "index.html").write_text("an old home page", encoding="utf-8")
    build(runner, entries_dir, out)
    assert b"A conference" in (out / "index.html").read_bytes()
    assert "index.html" in json.loads((out / MARKER).read_text("utf-8"))["documents"]


# --- only what changed is written ---------------------------------------------------------


@pytest.mark.usefixtures("site")
def test_a_rebuild_of_the_same_content_changes_nothing(
    runner: CliRunner, entries_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    build(runner, entries_dir, out)
    before = state(out)
    output = build(runner, entries_dir, out)
    assert "0 documents written" in output
    assert state(out) == before


@pytest.mark.usefixtures("site")
def test_a_rebuild_writes_only_the_documents_that_changed(
    runner: CliRunner,
    entries_dir: Path,
    write_entry: WriteEntry,
    tmp_path: Path,
    make_app: Callable[..., Flask],
) -> None:
    out = tmp_path / "site"
    age_folder(entries_dir)  # the edit comes later than every file: its own second
    build(runner, entries_dir, out)
    old_bytes, before = served(make_app()), identities(out)
    write_entry("a-conference", categories=["conferences"], title="A conference, renamed")
    build(runner, entries_dir, out)
    app = make_app()
    new_bytes, after = served(app), identities(out)

    changed = {path for path in SMALL_SITE_DOCUMENTS if old_bytes[path] != new_bytes[path]}
    # Its page, the feeds and lists that show it, and the page of the entry next to it
    # (which names it); never a feed or page of another category.
    assert {"/entries/a-conference/", "/feed.atom", "/entries/a-visit/"} <= changed
    assert not {"/categories/visits/feed.atom", "/categories/visits/", "/favicon.svg"} & changed
    for path in SMALL_SITE_DOCUMENTS:
        (ino, mtime, gz_ino, gz_mtime), (old_ino, _, old_gz_ino, _) = after[path], before[path]
        if path in changed:
            # A new inode: the file was replaced by a rename, never rewritten in place.
            assert ino != old_ino and gz_ino != old_gz_ino, path
            assert (out / file_for(path)).read_bytes() == new_bytes[path]
        else:
            # Neither written nor re-dated: a static host's validators stay as they were.
            assert after[path] == before[path], path
        header = app.test_client().get(path).headers["Last-Modified"]
        assert mtime == gz_mtime == parsedate_to_datetime(header).timestamp() * 10**9, path


@pytest.mark.usefixtures("site")
def test_a_new_last_modified_alone_only_sets_the_mtime(
    runner: CliRunner, entries_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    build(runner, entries_dir, out)
    before = identities(out)
    moment = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)

    class Redated(Snapshot):
        def last_modified(
            self, kind: Kind, subject: str | None, key: Key | None = None
        ) -> datetime:
            if kind.name == "favicon.svg":
                return moment
            return super().last_modified(kind, subject, key)

    snapshot = Redated(load_catalog(entries_dir), BASE_URL, utc_now(), prepare=False)

    report = build_site(snapshot, out)
    assert (report.written, report.redated) == (0, 1)
    after = identities(out)
    for name in ("favicon.svg", "favicon.svg.gz"):
        assert (out / name).stat().st_mtime == moment.timestamp()
    assert after["/favicon.svg"][0::2] == before["/favicon.svg"][0::2], "same inodes"
    assert {p for p in SMALL_SITE_DOCUMENTS if after[p] != before[p]} == {"/favicon.svg"}


@pytest.mark.usefixtures("site")
def test_a_file_changed_by_hand_is_written_again(
    runner: CliRunner, entries_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    build(runner, entries_dir, out)
    original = (out / "feed.atom").read_bytes()
    with (out / "feed.atom").open("r+b") as f:
        f.write(b"X")
    (out / "feed.rss.gz").unlink()
    output = build(runner, entries_dir, out)
    assert "2 documents written" in output
    assert (out / "feed.atom").read_bytes() == original
    assert (out / "feed.rss.gz").is_file()


class FailingHomePage(Snapshot):
    """A snapshot whose home page cannot be written, as when the disk fills up."""

    def document_of(self, kind: Kind, subject: str | None) -> Document:
        if kind.path(subject) == "/":
            raise OSError(28, "No space left on device")
        return super().document_of(kind, subject)


@pytest.mark.usefixtures("site")
def test_an_interrupted_build_leaves_nothing_a_rebuild_cannot_handle(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    build(runner, entries_dir, out)
    write_entry("a-new-one", title="A new one")
    failing = FailingHomePage(load_catalog(entries_dir), BASE_URL, utc_now(), prepare=False)
    with pytest.raises(OSError, match="No space"):
        build_site(failing, out)
    assert (out / "entries" / "a-new-one" / "index.html").is_file(), "written before the failure"

    (entries_dir / "a-new-one.json").unlink()
    output = build(runner, entries_dir, out)
    assert "1 deleted" in output, "the interrupted build's page counts as medfeed's"
    assert not (out / "entries" / "a-new-one").exists()
    assert [p.name for p in out.rglob("*.medfeed-tmp")] == []


def test_many_entries_are_written_by_every_core(
    runner: CliRunner, write_entry: WriteEntry, entries_dir: Path, tmp_path: Path
) -> None:
    for n in range(300):
        write_entry(f"entry-{n}", title=f"Entry {n}")
    out = tmp_path / "site"
    build(runner, entries_dir, out)
    pages = sorted(p.parent.name for p in (out / "entries").glob("*/index.html"))
    assert pages == sorted(f"entry-{n}" for n in range(300))
    assert all((out / "entries" / name / "index.html.gz").is_file() for name in pages)
    # Entry pages, then the pages linking to them, then feeds: a feed never links ahead.
    entry_times = [p.stat().st_ctime_ns for p in (out / "entries").glob("*/index.html")]
    home, feed = (out / "index.html").stat(), (out / "feed.atom").stat()
    assert max(entry_times) <= home.st_ctime_ns <= feed.st_ctime_ns

    documents = [p for p in out.rglob("*") if p.is_file() and p.suffix != ".gz"]
    inodes = {p: p.stat().st_ino for p in documents if p.name != MARKER}
    write_entry("entry-7", title="Entry seven")
    write_entry("entry-8", title="Entry eight")
    output = build(runner, entries_dir, out)
    rewritten = {p for p, ino in inodes.items() if p.stat().st_ino != ino}
    pages = {p.parent.name for p in rewritten if p.parent.parent.name == "entries"}
    # The two pages, and their neighbours' (same publication time: ordered by slug).
    order = sorted((f"entry-{n}" for n in range(300)), reverse=True)
    neighbours = {order[order.index(s) + d] for s in ("entry-7", "entry-8") for d in (-1, 1)}
    assert pages == {"entry-7", "entry-8"} | neighbours, "both processes skip unchanged pages"
    counts = re.search(r"(\d+) documents written, (\d+) re-dated, (\d+) unchanged", output)
    assert counts is not None, output
    written, redated, unchanged = map(int, counts.groups())
    assert written == len(rewritten)
    assert written + redated + unchanged == len(inodes)
    manifest = json.loads((out / MARKER).read_text("utf-8"))
    assert sum(name.startswith("entries/") for name in manifest["documents"]) == 300


def test_a_broken_site_file_stops_the_build_with_one_line(
    runner: CliRunner, entries_dir: Path, tmp_path: Path
) -> None:
    (entries_dir / "site.toml").write_text("title = ", encoding="utf-8")
    result = runner.invoke(main, ["build", str(tmp_path / "out"), "--entries", str(entries_dir)])
    assert result.exit_code == 1
    assert "site.toml" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


# --- hostile OUTDIR arguments -------------------------------------------------------------


@pytest.mark.usefixtures("site")
def test_an_empty_outdir_is_refused(runner: CliRunner, entries_dir: Path) -> None:
    assert "empty" in one_error_line(run_build(runner, entries_dir, ""))


@pytest.mark.usefixtures("site")
def test_the_current_folder_holding_the_entries_is_refused(
    runner: CliRunner, entries_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = state(tmp_path)
    result = runner.invoke(main, ["build", ".", "--entries", "entries"])
    assert "contains the entries folder" in one_error_line(result)
    assert state(tmp_path) == before


@pytest.mark.parametrize(
    ("outdir", "says"),
    [
        ("/", "root folder"),
        ("{entries}", "is the entries folder"),
        ("{entries}/../entries", "is the entries folder"),
        ("{entries}/site", "inside the entries folder"),
        ("{tmp}", "contains the entries folder"),
        ("{tmp}/a-file", "is a file"),
        ("{tmp}/missing/site", "does not exist"),
        ("{tmp}/a-file/site", "a-file is not a folder"),
    ],
)
@pytest.mark.usefixtures("site")
def test_an_outdir_a_build_must_not_touch_is_refused_with_one_line(
    runner: CliRunner, entries_dir: Path, tmp_path: Path, outdir: str, says: str
) -> None:
    (tmp_path / "a-file").write_text("mine", encoding="utf-8")
    before = state(tmp_path)
    result = run_build(runner, entries_dir, outdir.format(entries=entries_dir, tmp=tmp_path))
    assert says in one_error_line(result)
    assert state(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
@pytest.mark.usefixtures("site")
def test_an_unwritable_outdir_is_refused_with_one_line(
    runner: CliRunner, entries_dir: Path, tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for outdir in (locked, locked / "site"):
            assert "permission" in one_error_line(run_build(runner, entries_dir, str(outdir)))
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


@pytest.mark.usefixtures("site")
def test_a_symlink_to_an_earlier_build_is_built_through(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    real, link = tmp_path / "releases" / "site", tmp_path / "site"
    real.mkdir(parents=True)
    link.symlink_to(real, target_is_directory=True)
    build(runner, entries_dir, link)
    write_entry("a-visit", title="A visit, renamed")
    build(runner, entries_dir, link)
    assert link.is_symlink() and link.resolve() == real
    assert b"A visit, renamed" in (real / "feed.atom").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entries", "releases", "site"]


@pytest.mark.usefixtures("site")
def test_an_error_while_building_is_one_line(
    runner: CliRunner, entries_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    (out / MARKER).mkdir(parents=True)
    assert MARKER in one_error_line(run_build(runner, entries_dir, str(out)))


@pytest.mark.parametrize("state", ["a file", "inside a file"])
def test_a_state_folder_the_app_would_refuse_is_said_once_and_the_build_goes_on(
    runner: CliRunner, entries_dir: Path, tmp_path: Path, site: None, state: str
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder", encoding="utf-8")
    folder = blocker if state == "a file" else blocker / "state"
    result = runner.invoke(
        main,
        ["build", str(tmp_path / "site"), "--entries", str(entries_dir)],
        env={"MEDFEED_BASE_URL": BASE_URL, "MEDFEED_STATE_DIR": str(folder)},
    )
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "MEDFEED_STATE_DIR" in line]
    assert len(said) == 1 and said[0].startswith("MEDFEED_STATE_DIR: the state folder"), said
    assert said[0].endswith("; building without it")
    assert "Traceback" not in result.output and "cannot be written" not in result.stderr
    made = tmp_path / "made"
    build(runner, entries_dir, made)
    for name in ("feed.atom", "events.ics", "entries/a-visit/index.html"):
        assert (tmp_path / "site" / name).read_bytes() == (made / name).read_bytes(), name
