"""A rebuild deletes only files medfeed wrote and that are still as it wrote them, only
inside OUTDIR, whatever the manifest says; and every refused OUTDIR says why in one line."""

from __future__ import annotations

import json
import os
import posixpath
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from conftest import BASE_URL, WriteEntry
from medfeed.cli import main
from medfeed.manifest import MARKER, inside, read_manifest
from medfeed.outdir import delete_written

PAGE = Path("entries") / "gone" / "index.html"


def run_build(runner: CliRunner, entries: Path, out: Path | str) -> Result:
    return runner.invoke(
        main, ["build", str(out), "--entries", str(entries)], env={"MEDFEED_BASE_URL": BASE_URL}
    )


def build(runner: CliRunner, entries: Path, out: Path) -> str:
    result = run_build(runner, entries, out)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def built(runner: CliRunner, entries_dir: Path, write_entry: WriteEntry, tmp_path: Path) -> Path:
    """A build of two entries, ``kept`` and ``gone``; the latter's file then removed."""
    write_entry("kept")
    write_entry("gone", title="Gone soon")
    out = tmp_path / "site"
    build(runner, entries_dir, out)
    (entries_dir / "gone.json").unlink()
    return out


def manifest_of(out: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((out / MARKER).read_bytes())
    return data


def record_of(path: Path) -> list[object]:
    """A manifest record that matches the file and its .gz exactly, as if medfeed's."""
    main_file, gz = path.lstat(), Path(f"{path}.gz").lstat()
    assert main_file.st_mtime_ns == gz.st_mtime_ns
    return ["0" * 32, main_file.st_mtime_ns, main_file.st_size, main_file.st_ino,
            gz.st_size, gz.st_ino]  # fmt: skip


# --- a file put in place of one medfeed wrote ---------------------------------------------


def replace_by_rename(page: Path) -> None:
    mine = page.with_name("mine.tmp")
    mine.write_text("<p>my own page</p>", encoding="utf-8")
    mine.replace(page)


def overwrite_in_place(page: Path) -> None:
    page.write_text("<p>my own page</p>", encoding="utf-8")  # same inode


def append(page: Path) -> None:
    with page.open("ab") as f:
        f.write(b"<!-- mine -->")


def touch(page: Path) -> None:
    os.utime(page, ns=(page.stat().st_mtime_ns + 10**9,) * 2)


@pytest.mark.parametrize("change", [replace_by_rename, overwrite_in_place, append, touch])
def test_a_file_changed_since_the_build_is_kept_when_its_entry_goes(
    runner: CliRunner, entries_dir: Path, built: Path, change: object
) -> None:
    page = built / PAGE
    assert callable(change)
    change(page)
    before = page.read_bytes()
    output = build(runner, entries_dir, built)
    assert page.read_bytes() == before, "the user's file is kept"
    # Its .gz was medfeed's, and would be sent instead of the user's file: it goes.
    assert not Path(f"{page}.gz").exists()
    assert "0 deleted" in output
    assert str(PAGE) not in manifest_of(built)["documents"]  # type: ignore[operator]
    # It is the user's from now on: a rebuild leaves it alone, ...
    build(runner, entries_dir, built)
    assert page.read_bytes() == before


def test_a_file_put_in_place_is_refused_if_the_entry_comes_back(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry, built: Path
) -> None:
    replace_by_rename(built / PAGE)
    build(runner, entries_dir, built)
    write_entry("gone", title="Back again")
    result = run_build(runner, entries_dir, built)
    assert result.exit_code == 1
    assert str(PAGE) in result.output
    assert (built / PAGE).read_text(encoding="utf-8") == "<p>my own page</p>"


def test_an_intact_document_still_goes_with_its_folder(
    runner: CliRunner, entries_dir: Path, built: Path
) -> None:
    assert "1 deleted" in build(runner, entries_dir, built)
    assert not (built / PAGE).parent.exists()
    assert (built / "entries" / "kept" / "index.html").is_file()


def test_a_gz_put_in_place_is_kept_and_the_intact_file_goes(
    runner: CliRunner, entries_dir: Path, built: Path
) -> None:
    gz = Path(f"{built / PAGE}.gz")
    gz.unlink()
    gz.write_bytes(b"mine")
    assert "1 deleted" in build(runner, entries_dir, built)
    assert not (built / PAGE).exists() and gz.read_bytes() == b"mine"


def test_a_file_listed_without_a_record_goes_only_as_a_build_writes_it(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry, built: Path
) -> None:
    # An interrupted build lists its files before writing them: such a file is medfeed's
    # only while it and its .gz are as a build writes them.
    write_entry("gone", title="Gone soon")
    write_entry("other", title="Other")
    build(runner, entries_dir, built)
    data = manifest_of(built)
    documents = data["documents"]
    assert isinstance(documents, dict)
    documents[str(PAGE)] = None
    documents["entries/other/index.html"] = None
    (built / MARKER).write_text(json.dumps(data), encoding="utf-8")
    append(built / PAGE)
    (entries_dir / "other.json").unlink()
    (entries_dir / "gone.json").unlink()
    assert "1 deleted" in build(runner, entries_dir, built)
    assert not (built / "entries" / "other").exists()
    assert (built / PAGE).read_bytes().endswith(b"<!-- mine -->")


# --- manifest paths that leave OUTDIR ------------------------------------------------------


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file (with a .gz) outside OUTDIR that a hostile manifest names."""
    outside = tmp_path / "outside"
    outside.mkdir()
    path = outside / "victim.txt"
    path.write_text("not medfeed's", encoding="utf-8")
    Path(f"{path}.gz").write_text("nor this", encoding="utf-8")
    os.utime(Path(f"{path}.gz"), ns=(path.stat().st_mtime_ns,) * 2)
    return path


ESCAPES = [
    "../outside/victim.txt",
    "{abs}",
    "entries/../../outside/victim.txt",
    "./../outside/victim.txt",
    "/{abs}",
    "entries//../../outside/victim.txt",
    "../site/../outside/victim.txt",
]


@pytest.mark.parametrize("escape", ESCAPES)
def test_a_manifest_path_out_of_outdir_deletes_nothing_outside(
    runner: CliRunner, entries_dir: Path, built: Path, victim: Path, escape: str
) -> None:
    data = manifest_of(built)
    documents, folders = data["documents"], data["folders"]
    assert isinstance(documents, dict) and isinstance(folders, list)
    documents[escape.format(abs=victim)] = record_of(victim)
    folders.append(escape.format(abs=victim.parent))
    (built / MARKER).write_text(json.dumps(data), encoding="utf-8")
    manifest = read_manifest(built)
    assert manifest is not None and manifest.legacy, "read as a damaged manifest"
    output = build(runner, entries_dir, built)
    assert victim.read_text(encoding="utf-8") == "not medfeed's"
    assert Path(f"{victim}.gz").exists() and victim.parent.is_dir()
    # As for any damaged manifest: nothing deleted, and the new one lists no such path.
    assert "0 deleted" in output
    assert (built / PAGE).exists()
    assert escape.format(abs=victim) not in manifest_of(built)["documents"]  # type: ignore[operator]
    rewritten = read_manifest(built)
    assert rewritten is not None and not rewritten.legacy


def test_a_symlinked_folder_inside_outdir_is_not_followed(
    runner: CliRunner, entries_dir: Path, built: Path, tmp_path: Path
) -> None:
    # The gone entry's folder moved out of OUTDIR (inodes, sizes and times kept, so the
    # records still match) and linked back in: deleting through the link would reach out.
    moved = tmp_path / "elsewhere"
    (built / PAGE).parent.rename(moved)
    (built / PAGE).parent.symlink_to(moved, target_is_directory=True)
    build(runner, entries_dir, built)
    assert (moved / "index.html").is_file() and (moved / "index.html.gz").is_file()
    assert (built / PAGE).parent.is_symlink()


def test_delete_written_reaches_nothing_through_a_link(tmp_path: Path, victim: Path) -> None:
    out = tmp_path / "site"
    (out / "a").mkdir(parents=True)
    (out / "a" / "b").symlink_to(victim.parent, target_is_directory=True)
    record = record_of(victim)
    manifest = {"medfeed-build": 1, "documents": {"a/b/victim.txt": record}, "folders": ["a"]}
    (out / MARKER).write_text(json.dumps(manifest), encoding="utf-8")
    folders = {"a", "a/b"}
    assert delete_written(str(out), ["a/b/victim.txt"], folders) == 0
    assert victim.exists() and Path(f"{victim}.gz").exists()
    assert (out / "a" / "b").is_symlink() and folders == {"a", "a/b"}
    # Hostile folder names are never removed, nor anything above OUTDIR.
    empty = tmp_path / "empty"
    empty.mkdir()
    hostile = {"..", "../empty", "a/../../empty", str(empty), ""}
    gone = [f"{folder}/x" for folder in hostile]
    assert delete_written(str(out), gone, set(hostile)) == 0
    assert empty.is_dir() and (out / "a").is_dir()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        ".",
        "..",
        "../x",
        "/etc/passwd",
        "a/../b",
        "a/./b",
        "./a",
        "a/",
        "a//b",
        "a\0b",
        "a\\..\\b",
        "\ud800",
        7,
        None,
        ["a"],
    ],  # fmt: skip
)
def test_any_bad_path_makes_the_manifest_damaged(tmp_path: Path, bad: object) -> None:
    cases: list[tuple[dict[object, None], list[object]]] = [({"ok": None}, [bad])]
    if isinstance(bad, str):
        cases.append(({"ok": None, bad: None}, []))
    for documents, folders in cases:
        data = {"medfeed-build": 1, "documents": documents, "folders": folders}
        (tmp_path / MARKER).write_text(json.dumps(data), encoding="utf-8")
        manifest = read_manifest(tmp_path)
        assert manifest is not None and manifest.legacy and manifest.documents == {}


@pytest.mark.parametrize(
    "record",
    [
        [1, 2, 3, 4, 5, 6],
        ["e", 1, 2, 3, 4],
        ["e", 1, 2, 3, 4, "5"],
        ["e", 1, True, 3, 4, 5],
        {},
        ["e", 10**400, 2, 3, 4, 5],
        ["e", 1, 2, 3, 4, -(2**64)],
    ],
)
def test_a_bad_record_makes_the_manifest_damaged(tmp_path: Path, record: object) -> None:
    data = {"medfeed-build": 1, "documents": {"index.html": record}, "folders": []}
    (tmp_path / MARKER).write_text(json.dumps(data), encoding="utf-8")
    manifest = read_manifest(tmp_path)
    assert manifest is not None and manifest.legacy


def test_a_good_manifest_reads_back(tmp_path: Path) -> None:
    documents = {"index.html": ["e", 1, 2, 3, 4, 5], "entries/a-b/index.html": None}
    data = {"medfeed-build": 1, "documents": documents, "folders": ["entries", "entries/a-b"]}
    (tmp_path / MARKER).write_text(json.dumps(data), encoding="utf-8")
    manifest = read_manifest(tmp_path)
    assert manifest is not None and not manifest.legacy
    assert manifest.documents == {
        "index.html": ("e", 1, 2, 3, 4, 5),
        "entries/a-b/index.html": None,
    }
    assert manifest.folders == {"entries", "entries/a-b"}


@given(st.text(st.sampled_from("ab./\\\0"), max_size=12) | st.text(max_size=12))
def test_every_path_accepted_stays_inside(rel: str) -> None:
    try:
        accepted = inside(rel)
    except ValueError:
        return
    joined = posixpath.normpath(posixpath.join("/out", accepted))
    assert joined.startswith("/out/") and joined == f"/out/{accepted}"


def test_a_marker_that_is_no_regular_file_is_damaged_and_never_waited_on(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text('{"medfeed-build": 1, "documents": {}, "folders": []}', encoding="utf-8")
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / MARKER).symlink_to(outside)
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / MARKER)  # a read of it would wait for a writer forever
    for folder in ("link", "fifo"):
        manifest = read_manifest(tmp_path / folder)
        assert manifest is not None and manifest.legacy, folder


# --- OUTDIR that can never be a folder -----------------------------------------------------


@pytest.mark.parametrize("shape", ["self", "pair", "under"])
def test_a_symlink_loop_is_refused_as_one(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry, tmp_path: Path, shape: str
) -> None:
    write_entry("kept")
    (tmp_path / "loop").symlink_to(tmp_path / ("loop" if shape != "pair" else "other"))
    if shape == "pair":
        (tmp_path / "other").symlink_to(tmp_path / "loop")
    out = tmp_path / "loop" / "site" if shape == "under" else tmp_path / "loop"
    result = run_build(runner, entries_dir, out)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert "symbolic link loop" in lines[0] and "is a file" not in lines[0], lines[0]
