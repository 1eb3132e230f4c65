"""wsgi.py under a real gunicorn: settings from the environment; when they are bad, one
line per problem, once however many workers, and a quick stop with no traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("gunicorn")
ROOT = Path(__file__).resolve().parents[1]
ERROR_LINE = re.compile(
    r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[(\d+)\] \[ERROR\] "
    r"medfeed cannot start: (.*)$",
    re.M,
)


def run_gunicorn(tmp_path: Path, **settings: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDFEED_")}
    # gunicorn's control socket, and the marker that keeps the workers from all saying it.
    env |= {"XDG_RUNTIME_DIR": str(tmp_path), "TMPDIR": str(tmp_path), **settings}
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-w", "3", "-b", "127.0.0.1:0", "wsgi:app"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done, time.monotonic() - began


def test_bad_settings_stop_gunicorn_with_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    done, seconds = run_gunicorn(
        tmp_path,
        MEDFEED_ENTRIES=str(tmp_path / "a-file"),
        MEDFEED_BASE_URL="https://news.example.org:8o/",
        MEDFEED_WATCH="maybe",
        MEDFEED_STATE_DIR=str(tmp_path / "a-file"),
    )
    assert done.returncode == 3, done.stderr
    assert seconds < 20
    assert "Traceback" not in done.stderr
    found = ERROR_LINE.findall(done.stderr)
    assert len({pid for pid, _ in found}) == 1, done.stderr
    assert [line.split(":")[0] for _, line in found] == [
        "MEDFEED_BASE_URL",
        "MEDFEED_ENTRIES",
        "MEDFEED_STATE_DIR",
        "MEDFEED_WATCH",
    ]
    assert f"the entries folder '{tmp_path}/a-file' is a file, not a folder" in found[1][1]


def test_a_missing_entries_folder_is_named_as_such(tmp_path: Path) -> None:
    done, _ = run_gunicorn(tmp_path, MEDFEED_ENTRIES=str(tmp_path / "entries"))
    assert done.returncode == 3
    found = [line for _, line in ERROR_LINE.findall(done.stderr)]
    assert found == [f"MEDFEED_ENTRIES: the entries folder '{tmp_path}/entries' does not exist"]
    assert "site.toml" not in done.stderr


def test_a_broken_site_file_stops_gunicorn_with_one_line(entries_dir: Path, tmp_path: Path) -> None:
    (entries_dir / "site.toml").write_text("title = \n", encoding="utf-8")
    done, _ = run_gunicorn(tmp_path, MEDFEED_ENTRIES=str(entries_dir))
    assert done.returncode == 3
    found = [line for _, line in ERROR_LINE.findall(done.stderr)]
    assert len(found) == 1 and found[0].startswith("entries/site.toml: is not valid TOML")
    assert "Traceback" not in done.stderr
