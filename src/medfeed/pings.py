"""One WebSub publish ping over HTTP, and the backoff between failed ones."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from urllib.parse import urlencode, urlsplit

from medfeed import __version__

PING_TIMEOUT = 10.0
"""Seconds to wait for a hub's answer (some hubs fetch the topic before answering)."""
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
"""A hub that is down is tried again after 1, 2, 4... seconds, then once a minute."""
MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class Outcome:
    """What came of one ping."""

    ok: bool
    retry: bool
    """A failure worth trying again: 5xx, 408, 429, a timeout, a refused connection."""
    status: str


Send = Callable[[str, str, float], Outcome]


def send_ping(hub: str, topic: str, timeout: float = PING_TIMEOUT) -> Outcome:
    """POST one publish ping: ``hub.mode=publish`` with the topic as ``hub.topic`` and
    ``hub.url`` (hubs disagree on the name), form-encoded."""
    form = urlencode({"hub.mode": "publish", "hub.topic": topic, "hub.url": topic})
    parts = urlsplit(hub)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": f"medfeed/{__version__} (WebSub publisher)",
    }
    connection = HTTPSConnection if parts.scheme == "https" else HTTPConnection
    try:
        conn = connection(parts.hostname or "", parts.port, timeout=timeout)
        try:
            conn.request("POST", target, form.encode(), headers)
            response = conn.getresponse()
            response.read(MAX_ANSWER)
        finally:
            conn.close()
    except (OSError, HTTPException, ValueError) as e:
        return Outcome(False, True, _failure(e, timeout))
    status = f"{response.status} {response.reason}".strip()
    if 200 <= response.status < 300:
        return Outcome(True, False, status)
    retry = response.status >= 500 or response.status in (408, 429)
    return Outcome(False, retry, f"HTTP {status}")


def _failure(error: Exception, timeout: float) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def backoff(failures: int, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> float:
    """Seconds to wait after this many failures in a row, with jitter (80-100%)."""
    return min(cap, base * 2.0 ** max(0, failures - 1)) * random.uniform(0.8, 1.0)
