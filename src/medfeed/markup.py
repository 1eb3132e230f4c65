"""Entry content: Markdown to HTML, then sanitised to a small allow-list."""

from __future__ import annotations

from functools import cache

import nh3
from markdown_it import MarkdownIt

# Structure and emphasis only. No images or media: pages load nothing from other
# hosts, and a feed item should not either.
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "cite", "code", "dd", "del", "dl", "dt",
        "em", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "ol", "p",
        "pre", "q", "s", "small", "strong", "sub", "sup", "table", "tbody", "td",
        "tfoot", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "q": {"cite"},
    "blockquote": {"cite"},
    "td": {"align"},
    "th": {"align"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


@cache
def _markdown() -> MarkdownIt:
    # CommonMark with raw HTML allowed in, because nh3 decides what comes out.
    return MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


def sanitise_html(html: str) -> str:
    """Keep only allow-listed tags, attributes and URL schemes."""
    return str(
        nh3.clean(
            html,
            tags=set(ALLOWED_TAGS),
            attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
            url_schemes=set(URL_SCHEMES),
            link_rel="noopener noreferrer",
            strip_comments=True,
        )
    )


def render_markdown(text: str) -> str:
    """Markdown source to safe HTML."""
    return sanitise_html(_markdown().render(text)).strip()
