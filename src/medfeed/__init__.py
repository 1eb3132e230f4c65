"""medfeed: publish a folder of JSON news entries as RSS and Atom feeds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medfeed.web import create_app

__version__ = "0.1.0"

__all__ = ["__version__", "create_app"]


def __getattr__(name: str) -> Any:
    # Flask and the web app load on first use of create_app (`flask --app medfeed` and
    # wsgi.py still find it), so that `medfeed validate` and `medfeed build` start
    # without them.
    if name == "create_app":
        from medfeed.web import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
