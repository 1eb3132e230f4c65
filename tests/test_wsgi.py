"""wsgi.py under a real gunicorn: settings from the environment, one line when they are bad."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gunicorn")
ROOT = Path(__file__).resolve().parents[1]


def test_a_broken_site_file_stops_gunicorn_with_one_line(entries_dir: Path) -> None:
    (entries_dir / "site.toml").write_text("title = \n", encoding="utf-8")
    env = {**os.environ, "MEDFEED_ENTRIES": str(entries_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", "127.0.0.1:0", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "medfeed: entries/site.toml: is not valid TOML" in done.stderr
    assert "Traceback" not in done.stderr
