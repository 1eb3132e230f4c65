"""The pinger's files in the state folder: the record of what each hub was told, which
survives restarts and passes from one pinging process to the next, and the status of
each hub, which every process's /healthz reads.

Both are JSON, replaced whole with a rename, so a reader sees the old file or the new
one, never half of one. A missing, damaged or foreign record reads as no record.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from medfeed.coordination import FILE_MODE, FOLDER_MODE
from medfeed.websub import PingRecord

RECORD_FILE = "websub.json"
STATUS_FILE = "websub-status.json"
LOCK_FILE = "websub.lock"
"""The lock file whose holder, among the processes serving a folder, pings the hubs."""
RECORD_FORMAT = 1


@dataclass(frozen=True)
class HubStatus:
    """The last ping sent to one hub, as /healthz shows it."""

    url: str
    last_ping: str | None = None
    """When the last ping was sent (ISO 8601), whatever came of it."""
    status: str = "no ping yet"
    """Its outcome: "202 Accepted", "HTTP 500 Internal Server Error", "connection refused"."""
    ok: bool | None = None
    last_success: str | None = None
    pending: int = 0
    """Topics this hub is still to be told of."""
    failures: int = 0
    """Failed attempts since the last success."""


def _write(path: Path, data: bytes, *, durable: bool) -> None:
    path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    # One temporary name per process and thread: two writers never share one.
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_record(folder: Path, record: PingRecord) -> None:
    """Replace the record in the state folder.

    Raises:
        OSError: it cannot be written.
    """
    data = {
        "medfeed-websub": RECORD_FORMAT,
        "topics": {url: list(version) for url, version in record.topics.items()},
        "told": record.told,
    }
    _write(folder / RECORD_FILE, json.dumps(data, separators=(",", ":")).encode(), durable=True)


def read_record(folder: Path) -> tuple[PingRecord | None, str | None]:
    """The record in the state folder, or None with why where there is none to use."""
    path = folder / RECORD_FILE
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as e:
        return None, f"{path}: cannot be read ({e})"
    try:
        if data["medfeed-websub"] != RECORD_FORMAT:
            raise ValueError("another format")
        topics = {
            str(url): (_text(mark), _etag(etag)) for url, (mark, etag) in data["topics"].items()
        }
        told = {
            str(hub): {str(url): _etag(etag) for url, etag in urls.items()}
            for hub, urls in data["told"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        return None, f"{path}: is not a record of medfeed's ({e!r})"
    return PingRecord(topics, told), None


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a string")
    return value


def _etag(value: object) -> str | None:
    return None if value is None else _text(value)


def write_status(folder: Path, statuses: list[HubStatus]) -> None:
    """Replace the hubs' status in the state folder.

    Raises:
        OSError: it cannot be written.
    """
    data = [asdict(status) for status in statuses]
    _write(folder / STATUS_FILE, json.dumps(data, separators=(",", ":")).encode(), durable=False)


def read_status(folder: Path) -> dict[str, HubStatus]:
    """Each hub's status by URL, as the pinging process last wrote it; empty if unknown."""
    try:
        data = json.loads((folder / STATUS_FILE).read_bytes())
        return {entry["url"]: HubStatus(**entry) for entry in data}
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def iso(moment: datetime) -> str:
    """A moment as /healthz and the status file write it."""
    return moment.isoformat(timespec="seconds")
