"""Settings: every bad one reported at once, by the name the operator typed, through
``Settings``, ``create_app`` and ``medfeed serve``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import BASE_URL
from medfeed import create_app
from medfeed.cli import main
from medfeed.errors import ConfigError
from medfeed.settings import (
    Settings,
    base_url_problem,
    default_state_dir,
    host_problem,
    local_base_url,
    port_number,
)


def names(error: ConfigError) -> list[str]:
    return [problem.path for problem in error.problems]


def load_fails(environ: dict[str, str], config: dict[str, object] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        Settings.load(environ, config)
    return info.value


# Values


@pytest.mark.parametrize(
    ("value", "wanted"),
    [
        ("ftp://news.example.org/", "should start with http:// or https://"),
        ("news.example.org", "should start with http:// or https://"),
        ("https://news.example.org/?x=1", "should have no query or fragment"),
        ("https://news.example.org/?", "should have no query or fragment"),
        ("https://news.example.org/#top", "should have no query or fragment"),
        ("https://news.example.org:99999/", "has a bad port"),
        ("https://news.example.org:http/", "has a bad port"),
        ("https://news.example.org:0/", "has a bad port"),
        ("https://news.example.org/a b/", "contains spaces or control characters"),
        (" https://news.example.org/", "contains spaces or control characters"),
        ("https://news.example.org/\x1b[2J", "contains spaces or control characters"),
        ("https://news.example.org/\n", "contains spaces or control characters"),
        ("https:///path/", "has no host name"),
        ("https://user:secret@news.example.org/", "should have no user name or password"),
        ("http://[::1/", "is not a URL"),
        (42, "should be an http or https URL"),
    ],
)
def test_a_bad_base_url_says_what_is_wrong(value: object, wanted: str) -> None:
    trouble = base_url_problem(value)
    assert trouble is not None and wanted in trouble
    assert "\x1b" not in trouble and "\n" not in trouble


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("https://news.example.org", "https://news.example.org/"),
        ("http://127.0.0.1:8000/news/", "http://127.0.0.1:8000/news/"),
        ("https://[2001:db8::1]:8443/", "https://[2001:db8::1]:8443/"),
    ],
)
def test_a_good_base_url_ends_with_a_slash(value: str, kept: str) -> None:
    assert base_url_problem(value) is None
    assert Settings.from_mapping({"BASE_URL": value}).base_url == kept


@pytest.mark.parametrize(
    ("value", "watch"),
    [("1", True), ("yes", True), ("On", True), (" true ", True), ("0", False), ("no", False),
     ("OFF", False), ("false", False), (True, True), (False, False), (0, False), (None, True)],
)  # fmt: skip
def test_watch_takes_the_usual_spellings(value: object, watch: bool) -> None:
    assert Settings.from_mapping({"WATCH": value}).watch is watch


@pytest.mark.parametrize("value", ["maybe", "", "2", "tru", 7, ["yes"]])
def test_a_bad_watch_value_is_refused(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_mapping({"WATCH": value})
    assert names(info.value) == ["WATCH"]
    assert "should be true or false" in str(info.value)


def test_every_bad_value_is_reported_at_once_by_the_name_given() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_mapping(
            {"BASE_URL": "ftp://x/", "WATCH": "maybe"}, names={"WATCH": "--watch"}
        )
    assert sorted(names(info.value)) == ["--watch", "BASE_URL"]


# The environment, and the folders


def test_environment_variables_are_named_as_typed(tmp_path: Path) -> None:
    error = load_fails(
        {
            "MEDFEED_ENTRIES": str(tmp_path / "missing"),
            "MEDFEED_BASE_URL": "https://x.org/?q",
            "MEDFEED_WATCH": "sometimes",
            "MEDFEED_STATE_DIR": str(tmp_path / "no" / "such" / "parent"),
            "MEDFEED_OTHER": "ignored",
        }
    )
    assert names(error) == [
        "MEDFEED_BASE_URL",
        "MEDFEED_ENTRIES",
        "MEDFEED_STATE_DIR",
        "MEDFEED_WATCH",
    ]
    lines = [str(problem) for problem in error.problems]
    assert lines[1] == f"MEDFEED_ENTRIES: the entries folder '{tmp_path}/missing' does not exist"
    assert "cannot be made in" in lines[2]
    assert all("\n" not in line for line in lines)


def test_the_mapping_overrides_the_environment_and_names_its_keys(entries_dir: Path) -> None:
    environ = {"MEDFEED_ENTRIES": "/nowhere", "MEDFEED_WATCH": "maybe"}
    error = load_fails(environ, {"ENTRIES_DIR": str(entries_dir), "BASE_URL": "gopher://x/"})
    assert names(error) == ["BASE_URL", "MEDFEED_WATCH"]
    settings = Settings.load(environ, {"ENTRIES_DIR": entries_dir, "WATCH": False})
    assert settings.entries_dir == entries_dir and settings.watch is False


def test_empty_variables_count_as_unset(entries_dir: Path) -> None:
    environ = {"MEDFEED_ENTRIES": str(entries_dir), "MEDFEED_BASE_URL": "", "MEDFEED_WATCH": ""}
    settings = Settings.load(environ)
    assert (settings.base_url, settings.watch, settings.state_dir) == (None, True, None)


def test_an_entries_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "entries").write_text("", encoding="utf-8")
    error = load_fails({"MEDFEED_ENTRIES": str(tmp_path / "entries")})
    assert [str(p) for p in error.problems] == [
        f"MEDFEED_ENTRIES: the entries folder '{tmp_path}/entries' is a file, not a folder"
    ]


def test_an_entries_path_through_a_file_or_with_a_nul_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    error = load_fails({}, {"ENTRIES_DIR": str(tmp_path / "file" / "entries")})
    assert "cannot be read (Not a directory)" in str(error)
    error = load_fails({}, {"ENTRIES_DIR": "entr\x00ies"})
    assert "cannot be read" in str(error) and "\x00" not in str(error.problems[0])


def test_an_unreadable_entries_folder_is_refused(entries_dir: Path) -> None:
    if os.geteuid() == 0:
        lines = load_unreadable_without_override()
    else:
        entries_dir.chmod(0o300)
        try:
            lines = [str(p) for p in load_fails({"MEDFEED_ENTRIES": str(entries_dir)}).problems]
        finally:
            entries_dir.chmod(0o700)
        assert lines[0].startswith(f"MEDFEED_ENTRIES: the entries folder '{entries_dir}'")
    assert len(lines) == 1
    assert lines[0].endswith("' cannot be read (Permission denied)")


def load_unreadable_without_override() -> list[str]:
    # Root reads every folder whatever its mode: ask as root without the capabilities
    # that override permissions. (As another user, the process could not read the
    # checkout and its virtual environment where they lie in root's home.)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root reads every folder, and setpriv (util-linux) is not installed")
    script = (
        "import sys\n"
        "from medfeed.errors import ConfigError\n"
        "from medfeed.settings import Settings\n"
        "try: Settings.load({'MEDFEED_ENTRIES': sys.argv[1], 'MEDFEED_STATE_DIR': sys.argv[2]})\n"
        "except ConfigError as e: print('\\n'.join(str(p) for p in e.problems))\n"
    )
    with tempfile.TemporaryDirectory() as name:
        top = Path(name)
        (top / "entries").mkdir(mode=0o300)
        (top / "state").mkdir()
        argv = [setpriv, "--bounding-set=-dac_override,-dac_read_search", sys.executable]
        done = subprocess.run(
            [*argv, "-c", script, str(top / "entries"), str(top / "state")],
            capture_output=True, text=True, timeout=30, check=False, cwd=top,
        )  # fmt: skip
        (top / "entries").chmod(0o700)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


# The state folder


def test_the_default_state_folder_is_per_user_and_per_entries_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    here = default_state_dir(Path("entries"))
    assert here.parent == Path(tempfile.gettempdir())
    assert here.name.startswith(f"medfeed-{os.getuid()}-")
    assert here == default_state_dir(tmp_path / "entries")
    assert here == default_state_dir(tmp_path / "x" / ".." / "entries")
    assert here != default_state_dir(tmp_path / "other")
    # A link is a folder of its own: a deployment that swaps it keeps the same state.
    (tmp_path / "current").symlink_to(tmp_path / "entries")
    assert default_state_dir(tmp_path / "current") != here
    assert Settings(Path("entries")).state_folder == here
    assert Settings(Path("entries"), state_dir=tmp_path).state_folder == tmp_path


def test_a_state_folder_that_is_a_file_is_refused(entries_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "state").write_text("", encoding="utf-8")
    environ = {"MEDFEED_ENTRIES": str(entries_dir), "MEDFEED_STATE_DIR": str(tmp_path / "state")}
    assert names(load_fails(environ)) == ["MEDFEED_STATE_DIR"]


def test_a_default_state_folder_of_another_user_is_refused(
    entries_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    planted = default_state_dir(entries_dir)
    planted.symlink_to(tmp_path)
    error = load_fails({"MEDFEED_ENTRIES": str(entries_dir)})
    assert [p.path for p in error.problems] == ["MEDFEED_STATE_DIR"]
    assert "is not a folder" in str(error)
    planted.unlink()
    planted.mkdir()
    if os.geteuid() == 0:
        os.chown(planted, 65534, 65534)
        assert "belongs to another user; set MEDFEED_STATE_DIR" in str(
            load_fails({"MEDFEED_ENTRIES": str(entries_dir)})
        )
        os.chown(planted, 0, 0)
    assert Settings.load({"MEDFEED_ENTRIES": str(entries_dir)}).state_folder == planted


# create_app


def test_create_app_reports_every_bad_setting_by_its_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        create_app(
            {"ENTRIES_DIR": str(tmp_path / "gone"), "BASE_URL": "https://x.org/#a", "WATCH": "?"}
        )
    assert names(info.value) == ["BASE_URL", "ENTRIES_DIR", "WATCH"]
    assert "the entries folder" in str(info.value) and "does not exist" in str(info.value)


def test_create_app_names_environment_variables(
    entries_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDFEED_ENTRIES", str(entries_dir))
    monkeypatch.setenv("MEDFEED_BASE_URL", "https://news.example.org:80x/")
    monkeypatch.setenv("MEDFEED_WATCH", "perhaps")
    with pytest.raises(ConfigError) as info:
        create_app()
    assert names(info.value) == ["MEDFEED_BASE_URL", "MEDFEED_WATCH"]
    monkeypatch.setenv("MEDFEED_BASE_URL", BASE_URL)
    monkeypatch.setenv("MEDFEED_WATCH", "off")
    client = create_app().test_client()
    health = client.get("/healthz").json
    assert health is not None and health["status"] == "ok"


def test_create_app_takes_ready_settings(entries_dir: Path) -> None:
    settings = Settings(entries_dir, base_url=BASE_URL, watch=False)
    client = create_app(settings=settings).test_client()
    assert BASE_URL.encode() in client.get("/feed.atom").data
    with pytest.raises(TypeError):
        create_app({"WATCH": False}, settings=settings)


def test_a_broken_site_file_still_stops_create_app(entries_dir: Path) -> None:
    (entries_dir / "site.toml").write_text("title = \n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        create_app({"ENTRIES_DIR": str(entries_dir)})
    assert "site.toml: is not valid TOML" in str(info.value)


# medfeed serve


def serve_output(runner: CliRunner, args: list[str], env: dict[str, str]) -> list[str]:
    result = runner.invoke(main, ["serve", *args], env=env)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "Usage:" not in result.output
    return [line.removeprefix("Error: ") for line in result.output.splitlines() if line]


def test_serve_reports_every_bad_option_and_variable_at_once(
    runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    lines = serve_output(
        runner,
        ["--host", "exa mple", "--port", "99999", "--entries", str(tmp_path / "a-file")],
        {"MEDFEED_WATCH": "maybe", "MEDFEED_BASE_URL": "https://x.org/\x07"},
    )
    assert [line.split(":")[0] for line in lines] == [
        "--host",
        "--port",
        "--entries",
        "MEDFEED_BASE_URL",
        "MEDFEED_WATCH",
    ]
    assert "is a file, not a folder" in lines[2]
    assert "\x07" not in "".join(lines)


def test_serve_names_the_entries_variable_when_it_came_from_there(
    runner: CliRunner, tmp_path: Path
) -> None:
    missing = str(tmp_path / "missing")
    lines = serve_output(runner, ["--port", "abc"], {"MEDFEED_ENTRIES": missing})
    assert lines == [
        "--port: 'abc' is not a port number (1-65535)",
        f"MEDFEED_ENTRIES: the entries folder '{missing}' does not exist",
    ]
    lines = serve_output(runner, ["--entries", missing, "--port", str(free_port())], {})
    assert lines == [f"--entries: the entries folder '{missing}' does not exist"]


def test_serve_says_when_it_cannot_listen(runner: CliRunner, entries_dir: Path) -> None:
    # 192.0.2.1 is for documentation: no machine has it, so nothing can listen on it.
    args = ["--host", "192.0.2.1", "--entries", str(entries_dir)]
    lines = serve_output(runner, args, {})
    assert lines == ["--host: cannot listen on 192.0.2.1:8000 (Cannot assign requested address)"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_listen_options_are_checked() -> None:
    assert host_problem("127.0.0.1") is None
    assert host_problem("::1") is None
    assert host_problem("news.example.org") is None
    assert host_problem("") is None
    assert host_problem("a b") is not None
    assert host_problem("-x") is not None
    assert [port_number(p) for p in ("8000", "1", "65535", "0", "65536", "x", "")] == [
        8000, 1, 65535, None, None, None, None
    ]  # fmt: skip
    assert local_base_url("0.0.0.0", 8080) == "http://127.0.0.1:8080/"
    assert local_base_url("::1", 8080) == "http://[::1]:8080/"
