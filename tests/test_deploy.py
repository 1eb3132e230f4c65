"""deploy/medfeed.service: a systemd unit an operator installs as is, checked by
``systemd-analyze verify`` where systemd is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "medfeed.service"
PROXY = ROOT / "deploy" / "nginx-proxy.conf"
APP = "/opt/medfeed"
ENV_FILE = "/etc/medfeed/medfeed.env"


def settings(text: str) -> dict[str, list[str]]:
    """Each key of the unit with its values, in order (keys may repeat)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_the_unit_runs_gunicorn_as_a_read_only_service() -> None:
    unit = settings(UNIT.read_text(encoding="utf-8"))
    assert unit["User"] == ["medfeed"] and unit["Group"] == ["medfeed"]
    assert unit["WorkingDirectory"] == [APP]
    assert unit["EnvironmentFile"] == [ENV_FILE]
    (start,) = unit["ExecStart"]
    assert start.startswith(f"{APP}/.venv/bin/gunicorn ") and start.endswith(" wsgi:app")
    assert unit["ExecReload"] == ["/bin/kill -s HUP $MAINPID"]
    assert unit["Restart"] == ["on-failure"]
    # The workers elect their reporter and their pinger in a folder they can write, which
    # keeps the record of what WebSub hubs were told from one start to the next.
    assert unit["RuntimeDirectory"] == ["medfeed"]
    assert unit["StateDirectory"] == ["medfeed"]
    assert "MEDFEED_STATE_DIR=/var/lib/medfeed" in unit["Environment"]
    for key, value in [
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
    ]:
        assert unit[key] == [value], key


def test_the_unit_listens_where_the_nginx_proxy_looks() -> None:
    (start,) = settings(UNIT.read_text(encoding="utf-8"))["ExecStart"]
    bind = re.search(r"--bind (\S+)", start)
    assert bind is not None
    assert f"server {bind.group(1)};" in PROXY.read_text(encoding="utf-8")


def adapted_copy(folder: Path) -> Path:
    """The unit with the paths an operator creates pointed at this checkout instead."""
    text = UNIT.read_text(encoding="utf-8")
    env_file = folder / "medfeed.env"
    env_file.write_text(f"MEDFEED_ENTRIES={ROOT / 'entries'}\n", encoding="utf-8")
    venv_bin = Path(sys.executable).parent
    for old, new in [
        (f"{APP}/.venv/bin/gunicorn", str(venv_bin / "gunicorn")),
        (f"WorkingDirectory={APP}", f"WorkingDirectory={ROOT}"),
        (ENV_FILE, str(env_file)),
    ]:
        assert old in text
        text = text.replace(old, new)
    copy = folder / UNIT.name
    copy.write_text(text, encoding="utf-8")
    return copy


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    verify = shutil.which("systemd-analyze")
    if verify is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    if not (Path(sys.executable).parent / "gunicorn").exists():
        pytest.skip("gunicorn is not installed in this environment (pip install -e '.[serve]')")
    copy = adapted_copy(tmp_path)
    done = subprocess.run(
        [verify, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    # Unknown keys and bad values are only warnings: any output is a failure.
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
