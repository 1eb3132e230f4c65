"""Run-time settings: where the entries are and which public origin links use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from medfeed.errors import ConfigError

ENV_PREFIX = "MEDFEED_"
DEFAULT_ENTRIES = "entries"


@dataclass(frozen=True)
class Settings:
    """What the operator chose; site.toml holds what the editors chose."""

    entries_dir: Path
    base_url: str | None = None
    watch: bool = True

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> Settings:
        """Build from ``ENTRIES_DIR`` and ``BASE_URL`` keys.

        Raises:
            ConfigError: a value is unusable.
        """
        entries = Path(str(config.get("ENTRIES_DIR") or DEFAULT_ENTRIES))
        base_url = config.get("BASE_URL") or None
        if base_url is not None:
            base_url = check_base_url(str(base_url))
        watch = config.get("WATCH", True)
        if isinstance(watch, str):
            if watch.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ConfigError(f"WATCH {watch!r} should be true or false")
            watch = watch.lower() in ("1", "true", "yes", "on")
        return cls(entries_dir=entries, base_url=base_url, watch=bool(watch))


def env_config(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings ``MEDFEED_ENTRIES``, ``_BASE_URL`` and ``_WATCH`` give, for ``from_mapping``."""
    names = {"ENTRIES": "ENTRIES_DIR", "BASE_URL": "BASE_URL", "WATCH": "WATCH"}
    return {
        key: environ[ENV_PREFIX + var]
        for var, key in names.items()
        if environ.get(ENV_PREFIX + var)
    }


def check_base_url(value: str) -> str:
    """Accept an absolute http(s) URL with no query or fragment; end it with a slash.

    Raises:
        ConfigError: the value is not such a URL.
    """
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as e:
        raise ConfigError(f"base URL {value!r} is not a URL ({e})") from e
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base URL {value!r} should be an absolute http or https URL")
    if parts.query or parts.fragment:
        raise ConfigError(f"base URL {value!r} should have no query or fragment")
    return value if value.endswith("/") else value + "/"
