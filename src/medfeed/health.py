"""What /healthz reports: the publisher's state, its problems, and each WebSub hub's last
ping as the pinging process last wrote it."""

from __future__ import annotations

from medfeed.pingstate import HubStatus, read_status
from medfeed.site import Publisher
from medfeed.websub import hubs_of

HEALTH_PROBLEMS = 50
"""At most this many problems in /healthz, so that the body stays small."""


def hub_statuses(publisher: Publisher) -> list[dict[str, object]]:
    """The last ping to each hub site.toml names, as the pinging process last wrote it."""
    hubs = hubs_of(publisher.snapshot())
    known = read_status(publisher.settings.state_folder) if hubs else {}
    return [vars(known.get(hub, HubStatus(hub))) for hub in hubs]


def health_report(publisher: Publisher) -> dict[str, object]:
    """The body of /healthz, as JSON-ready values."""
    health = publisher.health()
    body: dict[str, object] = {
        "status": health.status,
        "entries": health.entries,
        "version": health.version,
        "last_check": health.last_check.isoformat(timespec="seconds"),
        "watching": health.watching,
        "problem_count": len(health.problems),
        "problems": [
            {
                # Relative to the entries folder: never the server's absolute paths.
                "path": p.path.split("/", 1)[-1],
                "field": p.field,
                "message": p.message,
            }
            for p in health.problems[:HEALTH_PROBLEMS]
        ],
    }
    hubs = hub_statuses(publisher)
    if hubs:
        body["hubs"] = hubs
    return body
