"""The start-up check of the state folder agrees with what the processes then do in it:
a folder the check passes is one where the lock works; any other stops start-up in one
line naming MEDFEED_STATE_DIR."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from medfeed import create_app
from medfeed.coordination import Leader
from medfeed.errors import ConfigError
from medfeed.logs import LOCK_FILE
from medfeed.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def candidates(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    (tmp_path / "fine").mkdir()
    return {
        "fine": tmp_path / "fine",
        "to be made": tmp_path / "new",
        "a file": tmp_path / "a-file",
        "under a file": tmp_path / "a-file" / "state",
        "no parent": tmp_path / "no" / "parent",
        # Permission bits let root write here, yet nothing can be made: the audit's case.
        "in /proc": Path("/proc/x"),
        "/proc itself": Path("/proc"),
        "in /sys": Path("/sys/medfeed"),
    }


@pytest.mark.parametrize(
    "case",
    ["fine", "to be made", "a file", "under a file", "no parent", "in /proc", "/proc itself",
     "in /sys"],
)  # fmt: skip
def test_a_state_folder_passes_the_check_only_if_its_lock_works(
    entries_dir: Path, tmp_path: Path, case: str
) -> None:
    folder = candidates(tmp_path)[case]
    environ = {"MEDFEED_ENTRIES": str(entries_dir), "MEDFEED_STATE_DIR": str(folder)}
    try:
        settings = Settings.load(environ)
    except ConfigError as e:
        assert [p.path for p in e.problems] == ["MEDFEED_STATE_DIR"]
        assert len(str(e).splitlines()) == 1
        return
    leader = Leader(settings.state_folder / LOCK_FILE)
    assert leader.is_leader() and leader.error is None, (case, leader.error)
    leader.resign()


def test_the_check_leaves_nothing_behind_but_the_folder(entries_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "state"
    Settings.load({"MEDFEED_ENTRIES": str(entries_dir), "MEDFEED_STATE_DIR": str(folder)})
    assert list(folder.iterdir()) == []
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    Settings.load({"MEDFEED_ENTRIES": str(entries_dir), "MEDFEED_STATE_DIR": str(folder)})
    assert list(folder.iterdir()) == []


def test_an_unusable_state_folder_stops_the_app(entries_dir: Path) -> None:
    with pytest.raises(ConfigError) as info:
        create_app({"ENTRIES_DIR": str(entries_dir), "STATE_DIR": "/proc/x", "WATCH": False})
    assert [p.path for p in info.value.problems] == ["STATE_DIR"]


def test_gunicorns_app_refuses_it_in_one_line_naming_the_variable(entries_dir: Path) -> None:
    env = {
        **os.environ,
        "MEDFEED_ENTRIES": str(entries_dir),
        "MEDFEED_STATE_DIR": "/proc/x",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        env=env, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    problems = [line for line in done.stderr.splitlines() if "MEDFEED_STATE_DIR" in line]
    assert len(problems) == 1, done.stderr
    assert "'/proc/x'" in problems[0]


def test_a_state_folder_made_by_another_process_meanwhile_is_fine(
    entries_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # gunicorn's workers start at once: each may find the folder missing, one makes it.
    real_mkdir = Path.mkdir

    def made_meanwhile(self: Path, *args: object, **kwargs: object) -> None:
        real_mkdir(self)
        raise FileExistsError(17, "File exists")

    monkeypatch.setattr(Path, "mkdir", made_meanwhile)
    folder = tmp_path / "state"
    settings = Settings.load(
        {"MEDFEED_ENTRIES": str(entries_dir), "MEDFEED_STATE_DIR": str(folder)}
    )
    assert settings.state_folder == folder and folder.is_dir()
