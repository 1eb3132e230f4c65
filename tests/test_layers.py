"""The import direction of the package: core modules never import the edges."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "medfeed"

# Which medfeed modules each module may import; anything else is a reversed layer.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "negotiation": set(),
    "delivery": {"negotiation"},
    "urls": set(),
    "coordination": set(),
    "logs": {"coordination", "errors"},
    "settings": {"errors"},
    "fields": set(),
    "models": {"fields"},
    "markup": set(),
    "safefile": set(),
    "salvage": {"errors", "fields", "models"},
    "identity": {"errors", "fields", "models", "salvage"},
    "reading": {"safefile", "salvage", "errors", "fields", "models"},
    # An entry held in memory or in the entry cache's file.
    # CRC-32 of the entry cache's bytes, in libdeflate where it is installed.
    "crc": set(),
    "storedentry": {"crc", "errors", "models"},
    "item": {"markup", "models", "storedentry"},
    "store": {"errors", "identity", "item", "models", "reading", "storedentry"},
    "parallel": set(),
    # Where two sequences of mostly the same objects differ.
    "stretch": set(),
    # Tasks run in order by a thread beside the caller's (a round's writes).
    "inorder": set(),
    "loading": {
        "cachecodec",
        "cachewriter",
        "entrycache",
        "errors",
        "filestate",
        "identity",
        "models",
        "parallel",
        "reading",
        "salvage",
        "sitefile",
        "siterecord",
        "store",
        "storedentry",
    },  # fmt: skip
    "filestate": {"errors", "store"},
    # The entry cache in the state folder: its records and bytes, its file, and the live
    # folder's use of it.
    "cachecodec": {"crc", "errors", "filestate", "models", "storedentry"},
    "cachefile": {"cachecodec", "crc", "storedentry"},
    "entrycache": {"cachecodec", "cachefile", "coordination"},
    "cachewriter": {"cachecodec", "entrycache"},
    "foldercache": {
        "cachecodec",
        "cachewriter",
        "entrycache",
        "filestate",
        "models",
        "store",
        "storedentry",
        "survey",
    },  # fmt: skip
    # A restart's look at the files the cache knows, from a forked child.
    "survey": {"cachecodec", "cachewriter", "parallel"},
    # The last valid site settings in the state folder, and the site.toml in force.
    "siterecord": {"coordination", "fields", "models"},
    "sitefile": {"errors", "filestate", "models", "reading", "safefile", "siterecord", "store"},
    # The live folder: its files' bookkeeping, what it publishes of them, and the whole.
    "folderfiles": {"errors", "filestate", "reading"},
    "folderitems": {
        "errors",
        "filestate",
        "identity",
        "models",
        "salvage",
        "store",
        "storedentry",
    },  # fmt: skip
    "claimcounts": set(),
    "itemchoice": {
        "cachecodec",
        "claimcounts",
        "errors",
        "filestate",
        "folderitems",
        "identity",
        "models",
        "store",
        "storedentry",
    },  # fmt: skip
    "readahead": {
        "cachecodec",
        "cachefile",
        "errors",
        "filestate",
        "parallel",
        "reading",
        "storedentry",
    },  # fmt: skip
    "folder": {
        "cachecodec",
        "errors",
        "filestate",
        "foldercache",
        "folderfiles",
        "folderitems",
        "itemchoice",
        "models",
        "readahead",
        "reading",
        "salvage",
        "sitefile",
        "siterecord",
        "store",
        "storedentry",
    },  # fmt: skip
    "editing": {"errors", "fields", "models", "reading", "salvage", "store"},
    "watch": set(),
    "meta": {"models", "store"},
    "wording": {"fields", "models"},
    "georss": {"models"},
    "itemtexts": {"store"},
    "feeditems": {"budget", "georss", "meta", "models", "store", "urls", "wording"},
    "feedsizes": {"feeditems", "georss", "meta", "models", "store", "urls", "wording"},
    "feeds": {
        "budget",
        "errors",
        "feeditems",
        "feedsizes",
        "georss",
        "itemtexts",
        "meta",
        "models",
        "store",
        "urls",
        "wording",
    },  # fmt: skip
    "budget": set(),
    "jsonitems": {"budget", "meta", "models", "store", "urls", "wording"},
    "jsonfeed": {"budget", "errors", "itemtexts", "jsonitems", "meta", "models", "store", "urls"},
    "feedparts": {"feeditems", "feeds", "itemtexts", "jsonfeed", "jsonitems", "meta", "store"},
    "opml": {"errors"},
    "sitemap": {"errors", "urls"},
    "icalsize": {"budget", "meta", "stretch"},
    "ical": {"budget", "fields", "icalsize", "itemtexts", "models", "store", "urls", "wording"},
    "pageparts": {"models", "wording"},
    "entrypage": {"models", "pageparts", "store", "urls", "wording"},
    "pages": {"entrypage", "itemtexts", "models", "pageparts", "store", "urls", "wording"},
    # Composition: the one table of documents, one content version, the live publisher.
    "renderers": {
        "feedparts",
        "ical",
        "itemtexts",
        "meta",
        "models",
        "pages",
        "sitemap",
        "store",
        "urls",
    },  # fmt: skip
    "links": set(),
    "documents": {"feeds", "jsonfeed", "links", "opml", "pages", "renderers", "urls"},
    "history": {"store"},
    "indexes": {"store", "stretch"},
    "sitepages": {"documents", "sitemap", "urls"},
    "ledger": {"coordination"},
    "version": {
        "documents",
        "errors",
        "history",
        "indexes",
        "itemtexts",
        "meta",
        "models",
        "pages",
        "renderers",
        "sitemap",
        "sitepages",
        "store",
        "urls",
    },  # fmt: skip
    # Entries no renderer takes, found by writing each alone.
    "refusals": {"documents", "errors", "renderers", "store"},
    "snapshot": {
        "delivery",
        "documents",
        "errors",
        "ledger",
        "refusals",
        "renderers",
        "store",
        "version",
    },  # fmt: skip
    "site": {
        "errors",
        "folder",
        "ledger",
        "logs",
        "settings",
        "snapshot",
        "store",
        "watch",
    },  # fmt: skip
    # WebSub: topics and the record of what hubs were told; its files; one ping; the
    # background pinger of the app.
    "websub": {"delivery", "documents", "links", "snapshot", "store", "urls"},
    "pingstate": {"coordination", "websub"},
    "pings": set(),
    "pinger": {"coordination", "logs", "pings", "pingstate", "site", "snapshot", "websub"},
    "clioptions": {"errors", "settings", "store"},
    "editcli": {"clioptions", "editing", "errors"},
    "servecli": {"clioptions", "errors", "logs", "settings", "web"},
    "pingcli": {
        "clioptions",
        "coordination",
        "errors",
        "loading",
        "pings",
        "pingstate",
        "settings",
        "site",
        "snapshot",
        "websub",
    },  # fmt: skip
    "health": {"pingstate", "site", "websub"},
    "web": {
        "delivery",
        "errors",
        "health",
        "logs",
        "pinger",
        "settings",
        "site",
        "snapshot",
        "urls",
        "websub",
    },  # fmt: skip
    "manifest": set(),
    "outdir": {"manifest"},
    # What each document shows, as a digest a static build keeps in its manifest.
    "documentkeys": {"cachecodec", "documents", "parallel", "store", "storedentry", "version"},
    # The entries' texts a build keeps in the state folder for the next.
    "buildtexts": {"coordination", "crc", "documentkeys", "itemtexts", "store"},
    # Which documents a build makes, in which rounds, and which it need not make.
    "buildplan": {"documents", "manifest", "parallel", "snapshot", "urls"},
    "build": {
        "parallel",
        "buildplan",
        "buildtexts",
        "delivery",
        "documentkeys",
        "documents",
        "itemtexts",
        "ledger",
        "outdir",
        "pages",
        "snapshot",
        "urls",
    },  # fmt: skip,
    # A build kept up to date by a process that stays, and the command that runs it.
    "rebuild": {
        "build",
        "buildplan",
        "buildtexts",
        "documentkeys",
        "documents",
        "inorder",
        "manifest",
        "outdir",
        "snapshot",
        "store",
        "version",
    },  # fmt: skip
    "buildwatch": {
        "build",
        "buildtexts",
        "clioptions",
        "coordination",
        "documentkeys",
        "errors",
        "folder",
        "logs",
        "outdir",
        "pingcli",
        "rebuild",
        "settings",
        "site",
        "snapshot",
        "store",
    },  # fmt: skip
    "cli": {
        "build",
        "buildwatch",
        "cachewriter",
        "clioptions",
        "editcli",
        "servecli",
        "errors",
        "loading",
        "logs",
        "outdir",
        "pingcli",
        "reading",
        "settings",
        "store",
        "site",
        "siterecord",
        "snapshot",
        "web",
        "models",
        "urls",
    },  # fmt: skip
    "__init__": {"web"},
    "__main__": {"cli"},
}
FEEDGEN_ONLY_IN = {"feeds"}
FLASK_ONLY_IN = {"web", "__init__"}


def medfeed_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            top, _, rest = name.partition(".")
            if top == "medfeed" and rest:
                found.add(rest.split(".")[0])
            elif top in ("feedgen", "flask"):
                found.add(f"third-party:{top}")
    return found


MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))


def test_every_module_has_a_layer() -> None:
    assert set(MODULES) == set(ALLOWED)


@pytest.mark.parametrize("module", MODULES)
def test_imports_follow_the_layers(module: str) -> None:
    imports = medfeed_imports(PACKAGE / f"{module}.py")
    own = {name for name in imports if not name.startswith("third-party:")}
    assert own <= ALLOWED[module], f"{module} imports {sorted(own - ALLOWED[module])}"
    if "third-party:feedgen" in imports:
        assert module in FEEDGEN_ONLY_IN
    if "third-party:flask" in imports:
        assert module in FLASK_ONLY_IN
