"""Run-time settings: where the entries are, which public origin links use, and so on.

Every bad setting is reported at once, each by the name the operator typed:
``MEDFEED_WATCH`` from the environment, ``--entries`` on the command line, ``WATCH`` in
the mapping passed to ``create_app``.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from medfeed.errors import ConfigError, Problem

DEFAULT_ENTRIES = "entries"
ENV_NAMES = {
    "ENTRIES_DIR": "MEDFEED_ENTRIES",
    "BASE_URL": "MEDFEED_BASE_URL",
    "WATCH": "MEDFEED_WATCH",
    "STATE_DIR": "MEDFEED_STATE_DIR",
}
"""Each setting's key, and the environment variable that sets it."""
HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")
STATE_FOLDER_MODE = 0o700
"""The mode a state folder is made with (``coordination.FOLDER_MODE``): this user's only."""
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    """What the operator chose; site.toml holds what the editors chose."""

    entries_dir: Path
    base_url: str | None = None
    watch: bool = True
    state_dir: Path | None = None
    """Where the processes serving the folder coordinate; None: ``default_state_dir``."""

    @property
    def state_folder(self) -> Path:
        """The state folder in use: the one set, or the default for the entries folder."""
        return self.state_dir or default_state_dir(self.entries_dir)

    @classmethod
    def from_mapping(
        cls, config: Mapping[str, Any], names: Mapping[str, str] | None = None
    ) -> Settings:
        """Build from the keys ``ENTRIES_DIR``, ``BASE_URL``, ``WATCH`` and ``STATE_DIR``.

        ``names`` gives, per key, the name the operator typed (the key itself otherwise).

        Raises:
            ConfigError: one problem per unusable value.
        """
        settings, problems = _parse(config, names or {})
        if problems:
            raise ConfigError(problems)
        return settings

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str],
        config: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> Settings:
        """The ``MEDFEED_*`` variables overridden by ``config``; the folders checked too.

        Raises:
            ConfigError: one problem per unusable value or folder.
        """
        values: dict[str, Any] = env_config(environ)
        labels = {key: ENV_NAMES[key] for key in values}
        for key, value in (config or {}).items():
            values[key] = value
            labels[key] = (names or {}).get(key, key)
        settings, problems = _parse(values, labels)
        problems += check_folders(settings, labels)
        if problems:
            raise ConfigError(sorted(problems))
        return settings


def env_config(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings the non-empty ``MEDFEED_*`` variables give, by key, for ``from_mapping``."""
    return {key: environ[name] for key, name in ENV_NAMES.items() if environ.get(name)}


def _parse(config: Mapping[str, Any], names: Mapping[str, str]) -> tuple[Settings, list[Problem]]:
    problems = []

    def bad(key: str, message: str) -> None:
        problems.append(Problem(names.get(key, key), "", message))

    entries = Path(str(config.get("ENTRIES_DIR") or DEFAULT_ENTRIES))
    base_url = config.get("BASE_URL") or None
    if base_url is not None:
        trouble = base_url_problem(base_url)
        if trouble:
            bad("BASE_URL", trouble)
            base_url = None
        else:
            base_url = base_url if base_url.endswith("/") else base_url + "/"
    watch = config.get("WATCH")
    if watch is None:
        watch = True
    elif isinstance(watch, str) and watch.strip().lower() in TRUE + FALSE:
        watch = watch.strip().lower() in TRUE
    elif not isinstance(watch, bool) and watch not in (0, 1):
        bad("WATCH", f"{watch!r} should be true or false (1, yes, on or 0, no, off)")
        watch = True
    state = config.get("STATE_DIR") or None
    settings = Settings(
        entries_dir=entries,
        base_url=base_url,
        watch=bool(watch),
        state_dir=None if state is None else Path(str(state)),
    )
    return settings, problems


def base_url_problem(value: object) -> str | None:
    """What is wrong with ``value`` as the public base URL, if anything."""
    if not isinstance(value, str):
        return f"{value!r} should be an http or https URL"
    if any(c.isspace() or not c.isprintable() for c in value):
        return f"{value!r} contains spaces or control characters"
    try:
        parts = urlsplit(value)
    except ValueError as e:
        return f"{value!r} is not a URL ({e})"
    if parts.scheme not in ("http", "https"):
        return f"{value!r} should start with http:// or https://"
    if not parts.hostname:
        return f"{value!r} has no host name"
    try:
        port = parts.port
    except ValueError as e:
        return f"{value!r} has a bad port ({e})"
    if port == 0:
        return f"{value!r} has a bad port (0)"
    if parts.username is not None or parts.password is not None:
        return f"{value!r} should have no user name or password"
    # Links are made by appending paths: a "?" or "#" anywhere would swallow them.
    if "?" in value or "#" in value:
        return f"{value!r} should have no query or fragment"
    return None


def default_state_dir(entries: Path) -> Path:
    """A folder of this user's under the system temp folder, one per entries folder."""
    # The absolute path, symlinks not followed: with MEDFEED_ENTRIES naming a `current`
    # link that deployments swap, every process still meets in the same folder.
    absolute = os.path.abspath(os.fsdecode(entries))
    digest = hashlib.sha256(os.fsencode(absolute)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"medfeed-{os.getuid()}-{digest}"


def check_folders(settings: Settings, names: Mapping[str, str]) -> list[Problem]:
    """Problems with the entries folder (it must be listable) and the state folder."""
    problems = []
    entries = settings.entries_dir
    label = names.get("ENTRIES_DIR", "ENTRIES_DIR")
    try:
        mode = os.stat(entries).st_mode
        if stat.S_ISDIR(mode):
            with os.scandir(entries):
                pass
    except FileNotFoundError:
        problems.append(Problem(label, "", f"the entries folder {str(entries)!r} does not exist"))
    except (OSError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        message = f"the entries folder {str(entries)!r} cannot be read ({reason})"
        problems.append(Problem(label, "", message))
    else:
        if not stat.S_ISDIR(mode):
            kind = "a file" if stat.S_ISREG(mode) else "something else"
            message = f"the entries folder {str(entries)!r} is {kind}, not a folder"
            problems.append(Problem(label, "", message))
    trouble = state_folder_problem(settings)
    if trouble:
        problems.append(Problem(names.get("STATE_DIR", ENV_NAMES["STATE_DIR"]), "", trouble))
    return problems


def state_folder_problem(settings: Settings) -> str | None:
    """Why the state folder in use cannot be used, or None (one missing is made)."""
    return _state_folder_problem(settings.state_folder, chosen=settings.state_dir is not None)


def _state_folder_problem(folder: Path, *, chosen: bool) -> str | None:
    what = f"the state folder {str(folder)!r}"
    made = False
    try:
        # The default sits in a folder every user can write to: a link or someone else's
        # folder there could be a trap, so it must be a real folder of this user's.
        info = os.stat(folder) if chosen else os.lstat(folder)
    except FileNotFoundError:
        # Made now, as the processes would make it, so that making it is tried for real.
        try:
            try:
                folder.mkdir(mode=STATE_FOLDER_MODE)
                made = True
            except FileExistsError:
                pass  # another process starting at the same moment made it
            info = os.stat(folder) if chosen else os.lstat(folder)
        except (OSError, ValueError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            return f"{what} does not exist and cannot be made in {str(folder.parent)!r} ({reason})"
    except (OSError, ValueError) as e:
        return f"{what} cannot be used ({e})"
    if not stat.S_ISDIR(info.st_mode):
        return f"{what} is not a folder"
    if not chosen and info.st_uid != os.getuid():
        return f"{what} belongs to another user; set {ENV_NAMES['STATE_DIR']} to a folder of yours"
    trouble = _write_problem(folder)
    if trouble and made:
        with suppress(OSError):
            folder.rmdir()
    return f"{what} cannot be written to ({trouble})" if trouble else None


def _write_problem(folder: Path) -> str | None:
    # Permission bits say little (root passes them everywhere, /proc and read-only
    # mounts refuse anyway): make, lock and remove a file as the lock files will be.
    try:
        fd, name = tempfile.mkstemp(prefix=".medfeed-check-", dir=folder)
    except OSError as e:
        return e.strerror or str(e)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError as e:
        return f"cannot lock a file there: {e.strerror or e}"
    finally:
        os.close(fd)
        with suppress(OSError):
            os.unlink(name)
    return None


def host_problem(host: str) -> str | None:
    """What is wrong with ``host`` as an address to listen on, if anything."""
    if host == "" or HOST_NAME.fullmatch(host):
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return f"{host!r} is not a host name or an IP address"
    return None


def port_number(port: str) -> int | None:
    """``port`` as a TCP port number, or None if it is not one."""
    try:
        number = int(port.strip(), 10)
    except ValueError:
        return None
    return number if 1 <= number <= 65535 else None


def local_base_url(host: str, port: int) -> str:
    """The base URL of a server listening on ``host`` and ``port``, as a browser names it."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/"
