"""medfeed: publish a folder of JSON news entries as RSS and Atom feeds."""

from __future__ import annotations

from medfeed.web import create_app

__version__ = "0.1.0"

__all__ = ["__version__", "create_app"]
