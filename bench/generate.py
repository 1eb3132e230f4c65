"""Generate a synthetic entries folder of realistic size for benchmarks.

Usage: python bench/generate.py OUTDIR [--count 10000]
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

CATEGORIES = ["visits", "cooperation", "conferences", "mission", "statements"]
WORDS = (
    "nato israel dialogue mediterranean cooperation security visit ambassador minister "
    "conference partnership political military training exercise defence cyber office "
    "talks consultation programme council summit delegation headquarters brussels"
).split()

SITE_TOML = """\
title = "Benchmark News"
description = "Generated entries for benchmarks."
base_url = "http://127.0.0.1:8000/"
language = "en"
authority = "bench.example.org"

[author]
name = "Bench Desk"
"""


def sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def markdown(rng: random.Random, size: int = 2000) -> str:
    parts: list[str] = []
    while sum(len(p) for p in parts) < size:
        kind = rng.random()
        if kind < 0.1:
            parts.append("## " + sentence(rng, 4))
        elif kind < 0.2:
            parts.append("> " + sentence(rng, 20))
        elif kind < 0.3:
            parts.append("\n".join(f"- {sentence(rng, 6)}" for _ in range(3)))
        else:
            body = " ".join(sentence(rng, 12) for _ in range(3))
            parts.append(body.replace("cooperation", "*cooperation*", 1))
    return "\n\n".join(parts)


def write_site(folder: Path) -> None:
    categories = "".join(
        f'\n[[categories]]\nslug = "{c}"\ntitle = "{c.title()}"\ndescription = "All {c}."\n'
        for c in CATEGORIES
    )
    (folder / "site.toml").write_text(SITE_TOML + categories, encoding="utf-8")


def entry(rng: random.Random, index: int, start: datetime) -> dict[str, object]:
    published = start + timedelta(hours=index)
    return {
        "title": sentence(rng, 8).rstrip("."),
        "summary": " ".join(sentence(rng, 10) for _ in range(4))[:300],
        "content": markdown(rng),
        "published": published.isoformat(),
        "categories": rng.sample(CATEGORIES, rng.choice([1, 1, 2])),
        "event": {
            "start": published.date().isoformat(),
            "location": {"place": "Brussels", "country": "Belgium"},
        },
    }


def generate(folder: Path, count: int, seed: int = 1, start: datetime | None = None) -> Path:
    """Write ``count`` entries (an hour apart from ``start``, by default 2020-01-01) and a
    site.toml into ``folder``; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    write_site(folder)
    rng = random.Random(seed)
    start = start or datetime(2020, 1, 1, tzinfo=UTC)
    for index in range(count):
        data = entry(rng, index, start)
        path = folder / f"entry-{index:05d}.json"
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    generate(args.outdir, args.count)


if __name__ == "__main__":
    main()
