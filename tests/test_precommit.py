"""The editors' pre-commit hook, tried with `pre-commit try-repo` on a throwaway repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
GIT = shutil.which("git")

pytestmark = pytest.mark.skipif(
    GIT is None or not (PROJECT / ".git").exists(),
    reason="needs git and this project as a git checkout",
)


def git(repo: Path, *args: str) -> None:
    assert GIT is not None
    subprocess.run([GIT, *args], cwd=repo, check=True, capture_output=True, timeout=60)


def try_hook(repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(PROJECT), "medfeed-validate",
         "--all-files"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_the_hook_refuses_a_commit_that_breaks_an_entry(tmp_path: Path) -> None:
    repo = tmp_path / "editors"
    (repo / "entries").mkdir(parents=True)
    for path in (PROJECT / "entries").iterdir():
        shutil.copy(path, repo / "entries" / path.name)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    home = tmp_path / "pre-commit-home"

    passed = try_hook(repo, home)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "medfeed validate" in passed.stdout and "Passed" in passed.stdout

    broken = repo / "entries" / "vershbow-visits-israel.json"
    broken.write_text(broken.read_text(encoding="utf-8").replace('"title"', '"titel"'))
    git(repo, "add", "-A")
    failed = try_hook(repo, home)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout
    assert (
        "entries/vershbow-visits-israel.json: titel: unknown field; did you mean 'title'?"
        in failed.stdout
    )
