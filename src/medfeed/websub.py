"""What WebSub hubs are to be told: the topics of a snapshot (every feed document,
current or archive), the version each is at, the record of what each hub was told, and
the Link header each topic is served with.

A topic's version is its ETag. Current feeds are rendered with every snapshot, so their
ETags cost nothing; archive documents are rendered when first asked for, and there can
be hundreds, so each also has a fingerprint: a digest of what it shows (its entries as
parsed, its neighbouring months, the site's settings, the base URL and medfeed's
version), the same in every process. An archive whose fingerprint matches the record is
taken as unchanged without rendering it; one whose fingerprint changed is rendered, in
the pinging process only, and told of only if its ETag changed too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from medfeed import __version__
from medfeed.delivery import Headers
from medfeed.documents import TOPICS, Kind, locate
from medfeed.links import link_value
from medfeed.snapshot import Snapshot
from medfeed.store import Item
from medfeed.urls import absolute

Version = tuple[str, str | None]
"""A topic's fingerprint and ETag; None where it was never rendered (see ``update_record``)."""


@dataclass(frozen=True)
class Topic:
    """One feed document, as hubs name it: its canonical URL."""

    url: str
    path: str
    kind: Kind
    subject: str | None


def hubs_of(snapshot: Snapshot) -> tuple[str, ...]:
    """The hubs site.toml names, as feeds advertise them."""
    return tuple(str(hub) for hub in snapshot.site.hubs)


def topics(snapshot: Snapshot) -> Iterator[Topic]:
    """Every feed document of the snapshot: current feeds first, then the archives."""
    for kind in TOPICS:
        for subject in snapshot.subjects(kind):
            path = kind.path(subject)
            yield Topic(absolute(snapshot.base_url, path), path, kind, subject)


def _context(snapshot: Snapshot) -> bytes:
    # Everything besides its items that a feed document's bytes follow.
    return "\x00".join((__version__, snapshot.base_url, snapshot.site.model_dump_json())).encode()


class ItemDigests:
    """A digest of each item as parsed (not its file's time: a file touched or read
    through another path is the same item), kept while the same item objects are."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[Item, bytes]] = {}
        self._seen: dict[int, tuple[Item, bytes]] = {}

    def of(self, item: Item) -> bytes:
        """The item's digest, computed once per item object."""
        found = self._seen.get(id(item)) or self._known.get(id(item))
        if found is None or found[0] is not item:
            text = "\x00".join((item.slug, item.id, item.entry.model_dump_json()))
            found = (item, hashlib.sha256(text.encode(errors="surrogatepass")).digest())
        self._seen[id(item)] = found
        return found[1]

    def forget_unseen(self) -> None:
        """Keep only the items asked for since the last call: memory follows the site."""
        self._known, self._seen = self._seen, {}


def fingerprint(snapshot: Snapshot, topic: Topic, context: bytes, items: ItemDigests) -> str:
    """A digest of what an archive document shows, the same in every process."""
    digest = hashlib.sha256(context)
    digest.update(topic.path.encode())
    for part in snapshot.key(topic.kind, topic.subject):
        digest.update(items.of(part) if isinstance(part, Item) else repr(part).encode())
    return digest.hexdigest()[:32]


@dataclass
class PingRecord:
    """Every topic's latest version, and per hub the ETag it was last told of."""

    topics: dict[str, Version] = field(default_factory=dict)
    told: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def pending(self, hub: str) -> dict[str, str | None]:
        """The topics this hub has not been told of in their latest version, in order."""
        told = self.told.get(hub, {})
        return {
            url: etag
            for url, (_, etag) in self.topics.items()
            if url not in told or told[url] != etag
        }

    def mark_told(self, hub: str, url: str, etag: str | None) -> None:
        """Note that ``hub`` has been told of this version of ``url``."""
        if url in self.topics:
            self.told.setdefault(hub, {})[url] = etag


def update_record(
    record: PingRecord | None,
    snapshot: Snapshot,
    *,
    changed: Collection[str] = (),
    items: ItemDigests | None = None,
) -> PingRecord:
    """The record brought up to the snapshot: new versions of changed topics, gone
    topics and hubs dropped, hubs new to the record baselined.

    Without a record (a first start, or a lost or unreadable one) the snapshot is the
    baseline: nothing is pending but the topics named in ``changed`` (the documents a
    static build wrote), and archives are not rendered. A hub new to the record is told
    of nothing that happened before it was named: nobody subscribed through it yet.
    ``items`` keeps item digests from one call to the next (a process's pinger).
    """
    fresh = record is None
    old = record or PingRecord()
    context = _context(snapshot)
    digests = items or ItemDigests()
    versions: dict[str, Version] = {}
    for topic in topics(snapshot):
        known = old.topics.get(topic.url)
        versions[topic.url] = _version(snapshot, topic, context, known, fresh, digests)
    digests.forget_unseen()
    hubs = hubs_of(snapshot)
    told: dict[str, dict[str, str | None]] = {}
    for hub in hubs:
        if fresh or hub not in old.told:
            told[hub] = {url: etag for url, (_, etag) in versions.items() if url not in changed}
        else:
            told[hub] = {url: etag for url, etag in old.told[hub].items() if url in versions}
    return PingRecord(versions, told)


def _version(
    snapshot: Snapshot,
    topic: Topic,
    context: bytes,
    known: Version | None,
    fresh: bool,
    items: ItemDigests,
) -> Version:
    if topic.kind.shows == "feed":
        # Rendered with every snapshot: the ETag is its own fingerprint.
        etag = snapshot.document_of(topic.kind, topic.subject).etag
        return etag, etag
    mark = fingerprint(snapshot, topic, context, items)
    if known is not None and known[0] == mark:
        return known
    if fresh:
        return mark, None  # rendered the first time its fingerprint changes
    return mark, snapshot.document_of(topic.kind, topic.subject).etag


class LinkHeaders:
    """The Link header of each feed document, worked out once per path and site
    settings: on the request path it is one dictionary lookup."""

    def __init__(self) -> None:
        self._cache: tuple[object, str, dict[str, Headers]] = (None, "", {})

    def of(self, snapshot: Snapshot, path: str) -> Headers:
        """The headers to add to an answer with the document at ``path``."""
        site = snapshot.site
        if not site.hubs:
            return ()  # nothing is advertised until the operator names a hub
        known, base_url, found = self._cache
        if known is not site or base_url != snapshot.base_url:
            found = {}
            self._cache = (site, snapshot.base_url, found)
        headers = found.get(path)
        if headers is None:
            located = locate(path)
            headers = ()
            if located is not None and located[0] in TOPICS:
                url = absolute(snapshot.base_url, path)
                headers = (("Link", link_value(hubs_of(snapshot), url)),)
            found[path] = headers
        return headers
