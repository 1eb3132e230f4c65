"""HTTP Link headers of feed documents (WebSub discovery), as the app sends them and as
nginx's configuration for a static build says them.

Every feed document, current or archive, in every format, carries one
``<hub>; rel="hub"`` per hub of site.toml and one ``<its own URL>; rel="self"``, in one
header line, so that the app's answer and nginx's are the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable

LINK_MAP_HEADER = (
    "# Written by medfeed build: the Link header of every feed document (WebSub),\n"
    "# for deploy/nginx-static.conf's map. Empty where site.toml names no hubs.\n"
)
NGINX_DOLLAR = "${medfeed_dollar}"
"""A literal "$" in an nginx map value: nginx reads "$name" there as a variable, and the
configuration defines $medfeed_dollar as "$" (see deploy/nginx-static.conf)."""


def link_value(hubs: Iterable[str], self_url: str) -> str:
    """The Link header of a feed document: each hub, then the document's own URL.

    Quoted rel values: some hubs match ``rel="hub"`` and ``rel="self"`` literally.
    """
    return ", ".join([*(f'<{hub}>; rel="hub"' for hub in hubs), f'<{self_url}>; rel="self"'])


def _nginx_quoted(text: str) -> str:
    """Text for inside a double-quoted nginx string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _nginx_text(text: str) -> str:
    """Text for inside a double-quoted nginx value, where "$" would start a variable."""
    return _nginx_quoted(text).replace("$", NGINX_DOLLAR)


def nginx_link_map(origin: str, hubs: Iterable[str], path_pattern: str) -> bytes:
    """Lines of nginx's ``map $uri $medfeed_link``: every path matching ``path_pattern``
    (the feed documents) gets ``link_value(hubs, origin + path)``; none without hubs.

    One regular expression rather than one line per document: new archive months need
    no reload of nginx, only a new hub or base URL does.
    """
    hubs = list(hubs)
    if not hubs:
        return LINK_MAP_HEADER.encode()
    # link_value with a marker for the path, which nginx fills in from $uri.
    marker = "\x00"
    value = _nginx_text(link_value(hubs, origin + marker)).replace(marker, "${uri}")
    key = _nginx_quoted(f"~^(?:{path_pattern})$")  # a key is no template: "$" stays
    return f'{LINK_MAP_HEADER}"{key}" "{value}";\n'.encode()
