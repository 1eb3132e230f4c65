"""The medfeed command: validate entry folders, explain itself, refuse a broken site."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import medfeed.loading
from conftest import SEED_ENTRIES
from medfeed.cli import main, program
from medfeed.site import utc_now

WriteEntry = Callable[..., Path]


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_validate_accepts_the_bundled_entries(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", str(SEED_ENTRIES)])
    assert result.exit_code == 0, result.output
    count = len(list(SEED_ENTRIES.glob("*.json")))
    assert count > 0
    assert f"{count} entries valid" in result.stdout
    no_traceback(result)


@pytest.fixture
def broken_folder(entries_dir: Path, write_entry: WriteEntry) -> Path:
    write_entry("fine")
    (entries_dir / "bad-json.json").write_text('{\n  "title": "x",\n  oops\n}', encoding="utf-8")
    write_entry("no-offset", published="2015-10-12T09:00:00")
    write_entry("unknown-category", categories=["nope"])
    write_entry("control-character", title="Bell\u0007here")
    write_entry("script-link", link="javascript:alert(1)")
    return entries_dir


def test_validate_reports_each_problem_on_its_own_line(
    runner: CliRunner, broken_folder: Path
) -> None:
    result = runner.invoke(main, ["validate", str(broken_folder)])
    assert result.exit_code == 1
    no_traceback(result)
    reported = lines(result.stdout)
    assert len(reported) == 5, reported
    by_file = {line.split(":", 1)[0]: line for line in reported}
    assert set(by_file) == {
        "entries/bad-json.json",
        "entries/no-offset.json",
        "entries/unknown-category.json",
        "entries/control-character.json",
        "entries/script-link.json",
    }
    assert by_file["entries/bad-json.json"].startswith("entries/bad-json.json: is not valid JSON")
    assert "line 3, column 3" in by_file["entries/bad-json.json"]
    assert by_file["entries/no-offset.json"].startswith("entries/no-offset.json: published: ")
    assert "offset" in by_file["entries/no-offset.json"]
    assert by_file["entries/unknown-category.json"].startswith(
        "entries/unknown-category.json: categories.0: "
    )
    assert "'nope'" in by_file["entries/unknown-category.json"]
    assert by_file["entries/control-character.json"].startswith(
        "entries/control-character.json: title: "
    )
    assert "U+0007" in by_file["entries/control-character.json"]
    assert by_file["entries/script-link.json"].startswith("entries/script-link.json: link: ")
    assert "fine" not in result.stdout


def test_validate_reports_a_broken_site_toml(runner: CliRunner, entries_dir: Path) -> None:
    (entries_dir / "site.toml").write_text("title = [\n", encoding="utf-8")
    result = runner.invoke(main, ["validate", str(entries_dir)])
    assert result.exit_code == 1
    no_traceback(result)
    assert any(line.startswith("entries/site.toml: ") for line in lines(result.output))


def test_validate_reports_an_invalid_site_toml(runner: CliRunner, entries_dir: Path) -> None:
    text = (entries_dir / "site.toml").read_text(encoding="utf-8")
    (entries_dir / "site.toml").write_text(text.replace("example.org", "not a domain"))
    result = runner.invoke(main, ["validate", str(entries_dir)])
    assert result.exit_code == 1
    no_traceback(result)
    assert any(line.startswith("entries/site.toml: authority: ") for line in lines(result.output))


def test_validate_on_a_missing_folder_says_so_in_one_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"
    result = runner.invoke(main, ["validate", str(missing)])
    assert result.exit_code != 0
    no_traceback(result)
    output = lines(result.output)
    assert len(output) == 1, output
    assert str(missing) in output[0]


def test_validate_json_field_names_match_the_files(runner: CliRunner, entries_dir: Path) -> None:
    # A wrongly typed nested field is located by its dotted path.
    data = {
        "title": "x",
        "summary": "y",
        "published": "2015-10-12T09:00:00Z",
        "categories": ["visits"],
        "event": {"start": "2015-13"},
    }
    (entries_dir / "bad-event.json").write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(main, ["validate", str(entries_dir)])
    assert result.exit_code == 1
    assert lines(result.stdout)[0].startswith("entries/bad-event.json: event.start: ")


def commands() -> Iterator[str]:
    yield from sorted(main.commands)


@pytest.mark.parametrize("name", list(commands()))
def test_every_command_explains_itself_with_an_example(runner: CliRunner, name: str) -> None:
    command = main.commands[name]
    assert command.help
    assert "Example" in command.help
    assert f"medfeed {name}" in command.help
    result = runner.invoke(main, [name, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output


def test_the_group_has_help(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in main.commands:
        assert name in result.output


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port already in use."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def no_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    """serve must stop before it serves: reaching the server fails the test, never hangs."""

    def refuse(*args: object) -> None:
        raise AssertionError("serve went on to serve")

    monkeypatch.setattr("medfeed.servecli.run_server", refuse)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_refuses_a_broken_site_toml(
    runner: CliRunner, entries_dir: Path, no_serving: None
) -> None:
    (entries_dir / "site.toml").write_text("title = [\n", encoding="utf-8")
    args = ["serve", "--port", str(free_port()), "--entries", str(entries_dir)]
    result = runner.invoke(main, args)
    assert result.exit_code != 0
    no_traceback(result)
    output = lines(result.output)
    assert len(output) == 1, output
    assert "entries/site.toml" in output[0]
    assert "TOML" in output[0]


def test_serve_on_a_busy_port_says_so_in_one_line_before_announcing(
    runner: CliRunner, entries_dir: Path, busy_port: int, no_serving: None
) -> None:
    result = runner.invoke(main, ["serve", "--port", str(busy_port), "--entries", str(entries_dir)])
    assert result.exit_code == 1
    no_traceback(result)
    assert lines(result.output) == [
        f"Error: --port: {busy_port} is in use on 127.0.0.1 by another program; stop it or "
        "choose another"
    ]
    # Reported with every other bad setting, at once.
    env = {"MEDFEED_WATCH": "maybe"}
    args = ["serve", "--port", str(busy_port), "--entries", str(entries_dir)]
    result = runner.invoke(main, args, env=env)
    assert [line.split(":")[0] for line in lines(result.output)] == ["Error", "MEDFEED_WATCH"]
    assert "--port" in lines(result.output)[0]


def test_serve_serves_on_the_socket_it_checked(entries_dir: Path) -> None:
    port = free_port()
    medfeed = Path(sys.executable).with_name("medfeed")
    args = [str(medfeed), "serve", "--port", str(port), "--entries", str(entries_dir)]
    env = {**os.environ, "MEDFEED_WATCH": "0"}
    with subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True) as server:
        try:
            assert server.stderr is not None
            announced = server.stderr.readline()
            assert announced.startswith("medfeed: serving "), announced
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as reply:
                assert json.load(reply)["status"] == "ok"
        finally:
            server.terminate()
            server.wait(timeout=10)


# --- every command that reads the entries folder takes --entries ---------------------------

NOT_READING_THE_FOLDER = {"schema"}


@pytest.mark.parametrize("name", sorted(set(main.commands) - NOT_READING_THE_FOLDER))
def test_every_command_that_reads_the_folder_takes_entries(name: str) -> None:
    options = [opt for param in main.commands[name].params for opt in param.opts]
    assert "--entries" in options


def test_validate_takes_the_folder_as_an_argument_or_entries(
    runner: CliRunner, entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    write_entry("fine")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args, env in [
        (["--entries", str(entries_dir)], {}),
        ([str(entries_dir)], {}),
        ([], {"MEDFEED_ENTRIES": str(entries_dir)}),
        ([str(entries_dir)], {"MEDFEED_ENTRIES": str(elsewhere)}),  # the argument wins
        ([str(entries_dir), "--entries", f"{entries_dir}/"], {}),  # the same folder twice
    ]:
        result = runner.invoke(main, ["validate", *args], env=env)
        assert result.exit_code == 0, (args, result.output)
        assert "1 entries valid" in result.stdout


def test_validate_refuses_two_different_folders_in_one_line(
    runner: CliRunner, entries_dir: Path, tmp_path: Path
) -> None:
    result = runner.invoke(main, ["validate", str(entries_dir), "--entries", str(tmp_path)])
    assert result.exit_code == 1
    no_traceback(result)
    assert lines(result.output) == [
        f"Error: two entries folders given: {str(entries_dir)!r} and --entries "
        f"{str(tmp_path)!r}; give one"
    ]


# --- the medfeed program ends a build at once ---------------------------------------------


@pytest.mark.parametrize("how", [["medfeed"], ["python", "-m", "medfeed"]])
def test_the_program_ends_a_build_at_once_with_everything_written(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path, how: list[str]
) -> None:
    write_entry("a-visit")
    out, state = tmp_path / "site", tmp_path / "state"
    program = [str(Path(sys.executable).with_name("medfeed"))] if how == ["medfeed"] else [
        sys.executable, "-m", "medfeed"]  # fmt: skip
    env = {**os.environ, "MEDFEED_STATE_DIR": str(state)}
    args = [*program, "build", str(out), "--entries", str(entries_dir)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert lines(done.stderr)[-1].endswith("0 re-dated, 0 unchanged, 0 deleted")
    manifest = json.loads((out / ".medfeed-build").read_text(encoding="utf-8"))
    assert "entries/a-visit/index.html" in json.dumps(manifest)
    assert (out / "entries" / "a-visit" / "index.html.gz").is_file()
    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert "0 documents written" in again.stderr


def test_the_program_ends_a_failed_build_as_any_command(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    write_entry("a-visit", categories=["nope"])
    medfeed = str(Path(sys.executable).with_name("medfeed"))
    args = [medfeed, "build", str(tmp_path / "site"), "--entries", str(entries_dir)]
    env = {**os.environ, "MEDFEED_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "nothing built" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("command", "at_once"), [("build", True), ("validate", True), ("schema", False)]
)
def test_only_commands_that_read_the_whole_folder_skip_the_interpreters_ending(
    entries_dir: Path,
    write_entry: WriteEntry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    at_once: bool,
) -> None:
    write_entry("a-visit")
    # Files written just now count as settled, so that the build writes the entry cache.
    monkeypatch.setattr(medfeed.loading, "_utc_now", lambda: utc_now() + timedelta(seconds=10))
    ended: list[int] = []
    monkeypatch.setattr(os, "_exit", ended.append)
    monkeypatch.setenv("MEDFEED_STATE_DIR", str(tmp_path / "state"))
    arguments = {"build": [str(tmp_path / "site"), "--entries", str(entries_dir)],
                 "validate": [str(entries_dir)], "schema": []}  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["medfeed", command, *arguments[command]])
    if at_once:
        program()
        assert ended == [0]
    else:
        with pytest.raises(SystemExit) as stopped:
            program()
        assert stopped.value.code == 0
        assert ended == []
    if command == "build":
        # What the forked writer writes is in place by then: the program waited for it.
        assert (tmp_path / "state" / "entries.cache").is_file()
        assert (tmp_path / "site" / ".medfeed-build").is_file()


def test_a_validation_with_problems_ends_at_once_with_status_1(
    entries_dir: Path, write_entry: WriteEntry, tmp_path: Path
) -> None:
    write_entry("a-visit", categories=["nope"])
    medfeed = str(Path(sys.executable).with_name("medfeed"))
    done = subprocess.run([medfeed, "validate", str(entries_dir)], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1
    said = lines(done.stdout)
    known = "known: conferences, visits"
    assert said == [
        f"{entries_dir.name}/a-visit.json: categories.0: unknown category 'nope'; {known}"
    ]
    assert lines(done.stderr) == ["1 problem in 1 file(s); 0 valid entries"]
