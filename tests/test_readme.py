"""The README says what the code does: its example output is what the command prints, its
nginx step names every line that must follow the build folder, its module map every
module."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SEED_ENTRIES
from medfeed.cli import main

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
AMMAN = """\
{
  "titel": "Conference in Amman",
  "summary": "A conference in Amman.",
  "published": "2014-12-01T10:00:00",
  "categories": ["conference"],
  "draft": true
}
"""
OLD = """\
{
  "title": "An old entry",
  "summary": "From before.",
  "published": "2014-01-01T00:00:00Z",
  "categories": ["israel-at-nato"],
  "link": "https://www.example.org/old"
  "draft": true
}
"""


def block_after(marker: str) -> list[str]:
    """The lines of the first fenced block after ``marker`` in the README."""
    rest = README[README.index(marker) :]
    match = re.search(r"^( *)```[a-z]*\n(.*?)^\1```", rest, re.MULTILINE | re.DOTALL)
    assert match, f"no code block after {marker!r}"
    return textwrap.dedent(match[2]).splitlines()


def test_the_validate_example_is_what_validate_prints(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(SEED_ENTRIES, tmp_path / "entries")
    (tmp_path / "entries" / "amman.json").write_text(AMMAN, encoding="utf-8")
    (tmp_path / "entries" / "old.json").write_text(OLD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["validate"])
    assert result.exit_code == 1
    printed = result.stdout.splitlines() + result.stderr.splitlines()
    assert block_after("3. Check the folder: `.venv/bin/medfeed validate`") == printed


def test_the_nginx_step_names_every_line_that_follows_the_build_folder() -> None:
    config = (REPO / "deploy" / "nginx-static.conf").read_text(encoding="utf-8")
    root = re.search(r"^\s*root\s+(\S+);", config, re.MULTILINE)
    assert root
    lines = [
        line.strip()
        for line in config.splitlines()
        if root[1] in line and not line.strip().startswith("#")
    ]
    assert len(lines) >= 3, lines  # root, and the two map includes
    step = README[README.index("- **`deploy/nginx-static.conf`**") :]
    step = step[: step.index("\n- **")]
    for line in lines:
        assert f"`{line}`" in step, f"the README's nginx step does not name {line!r}"


def test_the_module_map_names_every_module() -> None:
    table = README[README.index("| module | job |") :]
    table = table[: table.index("\n\n")]
    named = set(re.findall(r"`([a-z_]+)`", table))
    modules = {p.stem for p in (REPO / "src" / "medfeed").glob("*.py")}
    assert modules - {"__init__", "__main__"} <= named
