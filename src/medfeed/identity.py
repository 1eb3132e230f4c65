"""Who each entry file says it is, valid or not (its slug, its id, its aliases), and the
rules across files on them: an id claimed twice, an alias that is a slug or is claimed
twice. Checked over every file whose parts can be read, so that a file with other
problems still has these reported at once; what is published is decided in ``store``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from medfeed.errors import Problem
from medfeed.fields import SLUG_RE
from medfeed.models import SiteConfig, entry_id
from medfeed.salvage import Salvage


@dataclass(frozen=True)
class Claim:
    """Who one entry file says it is, valid or not: its slug, its id if that can be read
    (or computed), and its aliases that are slugs, each with its place in the list."""

    source: str
    slug: str
    id: str | None
    aliases: tuple[tuple[int, str], ...]


def claim_of_file(
    name: str, label: str, salvaged: Salvage, site: SiteConfig | None
) -> Claim | None:
    """Who an entry file says it is, so far as it can be read; None for a file whose name
    is no slug (it names no entry). Without ``site``, an id not written in the file is
    not known."""
    slug = name.removesuffix(".json")
    if not SLUG_RE.fullmatch(slug):
        return None
    computed = None
    if not salvaged.id_written and salvaged.published is not None and site is not None:
        computed = entry_id(site.authority, salvaged.published, slug)
    return Claim(label, slug, salvaged.id or computed, salvaged.aliases)


def alias_rules(
    claims: list[Claim], slugs: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[Problem]]:
    """Each alias and the slug it redirects to; the problems of those that cannot.

    ``slugs`` maps every file's slug to the file, where it is not that of ``claims``.
    """
    if slugs is None:
        slugs = {claim.slug: claim.source for claim in claims}
    owners: dict[str, list[tuple[Claim, int]]] = {}
    problems = []
    for claim in claims:
        for index, alias in claim.aliases:
            if alias in slugs:
                whose = "this entry's own slug" if alias == claim.slug else slugs[alias]
                message = f"{alias!r} is the slug of {whose}; an alias names an earlier slug"
                problems.append(Problem(claim.source, f"aliases.{index}", message))
            else:
                owners.setdefault(alias, []).append((claim, index))
    aliases = {}
    for alias, claimants in owners.items():
        if len(claimants) == 1:
            aliases[alias] = claimants[0][0].slug
            continue
        # One line per other claimant: the same lines whichever files can be published.
        for claim, index in claimants:
            for other, _ in claimants:
                if other is not claim:
                    message = f"{alias!r} is also an alias of {other.source}"
                    problems.append(Problem(claim.source, f"aliases.{index}", message))
    return aliases, problems


def identity_problems(claims: Iterable[Claim]) -> list[Problem]:
    """The rules across files, over what every file says (valid or not): an id claimed
    twice, an alias that is a slug or is claimed twice. Publishes nothing."""
    ids: dict[str, list[str]] = {}
    slugs: dict[str, str] = {}
    renamed: list[Claim] = []
    gather(claims, ids, slugs, renamed)
    return identity_rules(ids, slugs, renamed)


def gather(
    claims: Iterable[Claim],
    ids: dict[str, list[str]],
    slugs: dict[str, str],
    renamed: list[Claim],
) -> None:
    """Add what these files say to the maps ``identity_rules`` reads: the files naming
    each id, the file of each slug, and the files that name aliases."""
    for claim in claims:
        slugs[claim.slug] = claim.source
        if claim.id is not None:
            ids.setdefault(claim.id, []).append(claim.source)
        if claim.aliases:
            renamed.append(claim)


def identity_rules(
    ids: Mapping[str, list[str]], slugs: Mapping[str, str], renamed: list[Claim]
) -> list[Problem]:
    """The problems of each id claimed by more than one file (``ids``: the files that
    claim each), and of the aliases of ``renamed`` against ``slugs`` (every file's)."""
    problems = []
    for claimed, sources in ids.items():
        if len(sources) > 1:
            problems += twice(claimed, sources)
    return problems + alias_rules(renamed, slugs)[1]


def twice(claimed: str, sources: list[str]) -> list[Problem]:
    """The problems of an id that these files all claim."""
    # One line per other file: the same lines whichever of them published the id first.
    message = "the id {!r} is also used by {}"
    return [
        Problem(source, "id", message.format(claimed, other))
        for source in sources
        for other in sources
        if other != source
    ]
