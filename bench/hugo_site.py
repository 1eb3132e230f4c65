"""Turn a generated entries folder into a Hugo site of the same content, for a side-by-side
build-time comparison (Hugo renders every page, a home page, section and taxonomy pages,
and RSS feeds for each).

Usage: python bench/hugo_site.py ENTRIES OUTDIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

CONFIG = """\
baseURL = "http://127.0.0.1:8000/"
title = "Benchmark News"
disableKinds = []
[outputs]
home = ["HTML", "RSS"]
section = ["HTML", "RSS"]
taxonomy = ["HTML", "RSS"]
term = ["HTML", "RSS"]
[taxonomies]
category = "categories"
[services.rss]
limit = 50
"""

SINGLE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ .Title }}</title></head><body><main><h1>{{ .Title }}</h1>
<p>{{ .Params.summary }}</p>{{ .Content }}</main></body></html>
"""

LIST = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ .Title }}</title>{{ range .AlternativeOutputFormats }}
<link rel="{{ .Rel }}" type="{{ .MediaType.Type }}" href="{{ .Permalink }}">{{ end }}
</head><body><main><h1>{{ .Title }}</h1><ol>
{{ range first 50 .Pages }}<li><a href="{{ .Permalink }}">{{ .Title }}</a>
<p>{{ .Params.summary }}</p></li>{{ end }}</ol></main></body></html>
"""


def convert(entries: Path, outdir: Path) -> Path:
    """Write a Hugo site with one Markdown page per entry."""
    content = outdir / "content" / "entries"
    content.mkdir(parents=True, exist_ok=True)
    layouts = outdir / "layouts" / "_default"
    layouts.mkdir(parents=True, exist_ok=True)
    (outdir / "config.toml").write_text(CONFIG, encoding="utf-8")
    (layouts / "single.html").write_text(SINGLE, encoding="utf-8")
    (layouts / "list.html").write_text(LIST, encoding="utf-8")
    for path in sorted(entries.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        front = {
            "title": data["title"],
            "date": data["published"],
            "summary": data["summary"],
            "categories": data["categories"],
        }
        page = f"{json.dumps(front, indent=2)}\n\n{data.get('content', '')}\n"
        (content / f"{path.stem}.md").write_text(page, encoding="utf-8")
    return outdir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("entries", type=Path)
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args()
    convert(args.entries, args.outdir)


if __name__ == "__main__":
    main()
