"""medfeed build: a static copy of the site, byte for byte what the app serves."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from conftest import BASE_URL, SMALL_SITE_DOCUMENTS, WriteEntry
from medfeed.build import MARKER, file_for
from medfeed.cli import main


@pytest.fixture
def site(write_entry: WriteEntry) -> None:
    write_entry("a-visit")
    write_entry("a-conference", categories=["conferences"], title="A conference")
    write_entry("a-draft", draft=True)


def build(runner: CliRunner, entries: Path, out: Path) -> str:
    result = runner.invoke(
        main, ["build", str(out), "--entries", str(entries)], env={"MEDFEED_BASE_URL": BASE_URL}
    )
    assert result.exit_code == 0, result.output
    return result.output


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
    assert written == set(SMALL_SITE_DOCUMENTS)
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
def test_a_rebuild_replaces_the_old_build(
    runner: CliRunner, entries_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    build(runner, entries_dir, out)
    (entries_dir / "a-conference.json").unlink()
    build(runner, entries_dir, out)
    assert not (out / "entries" / "a-conference").exists()
    assert (out / "entries" / "a-visit" / "index.html").is_file()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")]
    assert leftovers == [], "no staging or old build folders are left behind"


@pytest.mark.usefixtures("site")
def test_a_folder_of_other_files_is_never_replaced(
    runner: CliRunner, entries_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    result = runner.invoke(main, ["build", str(out), "--entries", str(entries_dir)])
    assert result.exit_code != 0
    assert "not built by medfeed" in result.output
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_a_broken_site_file_stops_the_build_with_one_line(
    runner: CliRunner, entries_dir: Path, tmp_path: Path
) -> None:
    (entries_dir / "site.toml").write_text("title = ", encoding="utf-8")
    result = runner.invoke(main, ["build", str(tmp_path / "out"), "--entries", str(entries_dir)])
    assert result.exit_code == 1
    assert "site.toml" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_many_entries_are_written_by_two_processes(
    runner: CliRunner, write_entry: WriteEntry, entries_dir: Path, tmp_path: Path
) -> None:
    for n in range(300):
        write_entry(f"entry-{n}", title=f"Entry {n}")
    out = tmp_path / "site"
    build(runner, entries_dir, out)
    pages = sorted(p.parent.name for p in (out / "entries").glob("*/index.html"))
    assert pages == sorted(f"entry-{n}" for n in range(300))
    assert all((out / "entries" / name / "index.html.gz").is_file() for name in pages)
