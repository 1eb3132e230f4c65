"""Sanitised content as a browser or feed reader parses it: tags, attributes and URLs."""

from __future__ import annotations

import re
import resource
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from medfeed.markup import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    LINK_REL,
    TEXT_ATTRIBUTES,
    URL_ATTRIBUTES,
    render_markdown,
    sanitise_html,
)

ALLOWED_SCHEMES = {"http", "https", "mailto"}
# Every attribute HTML (or SVG/MathML in HTML) follows as a URL, whether allowed or not.
HTML_URL_ATTRIBUTES = {
    "action", "background", "cite", "classid", "codebase", "data", "formaction", "href",
    "icon", "longdesc", "manifest", "ping", "poster", "profile", "src", "srcset", "usemap",
    "xlink:href",
}  # fmt: skip
VOID = {"br", "hr"}
# Table parts and list items only exist inside their parents: the HTML parser drops them
# anywhere else, before the attribute could be checked.
CONTEXT = {
    "td": "<table><tbody><tr>{}</tr></tbody></table>",
    "th": "<table><tbody><tr>{}</tr></tbody></table>",
    "tr": "<table><tbody>{}</tbody></table>",
    "tbody": "<table>{}</table>",
    "thead": "<table>{}</table>",
    "tfoot": "<table>{}</table>",
    "li": "<ul>{}</ul>",
    "dd": "<dl>{}</dl>",
    "dt": "<dl>{}</dl>",
}
EXTRA_ATTRIBUTES = (
    "id", "class", "style", "dir", "onclick", "src", "name", "target", "datetime", "rel",
    "srcset", "formaction", "xlink:href", "data-x", "hreflang", "start", "value",
)  # fmt: skip

HOSTILE_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "\x01\x02 javascript:alert(1)",
    "&#1;javascript:alert(1)",
    "&#x20;&#x0C;javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "java\rscript:alert(1)",
    "java&#x09;script:alert(1)",
    "java&#10;script:alert(1)",
    "java&Tab;script:alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;&#x61;vascript:alert(1)",
    "javascript&#58;alert(1)",
    "javascript&colon;alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "DATA:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://example.org/",
    "/relative/path",
    "relative/path",
    "#fragment",
    "?query",
    "//evil.example/",
    " //evil.example/",
    "\\\\evil.example\\",
    "http:evil.example",
    "https:/evil.example",
    "https:\\\\evil.example",
    "http://",
    "mailto:",
    "",
    "   ",
]
# (as written, as it must come out)
GOOD_URLS = [
    ("http://example.org/", "http://example.org/"),
    ("https://example.org/a?b=1&amp;c=2#f", "https://example.org/a?b=1&c=2#f"),
    ("HTTPS://EXAMPLE.ORG/", "HTTPS://EXAMPLE.ORG/"),
    ("mailto:desk@example.org", "mailto:desk@example.org"),
    ("  https://example.org/padded \n", "https://example.org/padded"),
]


def allowed_pairs() -> list[tuple[str, str]]:
    """Every (tag, attribute) the allow-list lets through; "*" is every tag."""
    pairs = set()
    for tag, names in ALLOWED_ATTRIBUTES.items():
        for tag_name in sorted(ALLOWED_TAGS) if tag == "*" else [tag]:
            pairs.update((tag_name, name) for name in names)
    return sorted(pairs)


URL_PAIRS = [(tag, name) for tag, name in allowed_pairs() if name in URL_ATTRIBUTES]
TEXT_PAIRS = [(tag, name) for tag, name in allowed_pairs() if name in TEXT_ATTRIBUTES]


class Elements(HTMLParser):
    """Every start tag of a fragment with its attributes (character references decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text += data


def parse(fragment: str) -> Elements:
    parser = Elements()
    parser.feed(fragment)
    parser.close()
    return parser


def element(tag: str, attributes: str) -> str:
    """An element in the context the HTML parser needs to keep it."""
    inner = f"<{tag} {attributes}>" if tag in VOID else f"<{tag} {attributes}>inside</{tag}>"
    return CONTEXT.get(tag, "{}").format(inner)


def attributes_of(fragment: str, tag: str) -> dict[str, str | None]:
    found = [attrs for name, attrs in parse(fragment).elements if name == tag]
    assert len(found) == 1, (tag, fragment)
    return found[0]


def quoted(value: str) -> str:
    # The value is written as HTML source: only the quote itself must not occur in it.
    assert '"' not in value
    return f'"{value}"'


# The allow-list


def test_every_allowed_attribute_is_classified_as_url_or_text() -> None:
    assert not URL_ATTRIBUTES & TEXT_ATTRIBUTES
    unclassified = {
        (tag, name)
        for tag, names in ALLOWED_ATTRIBUTES.items()
        for name in names
        if name not in URL_ATTRIBUTES | TEXT_ATTRIBUTES
    }
    assert not unclassified, "add each to URL_ATTRIBUTES or TEXT_ATTRIBUTES in markup.py"


def test_url_attributes_include_every_allowed_attribute_html_follows() -> None:
    allowed = {name for names in ALLOWED_ATTRIBUTES.values() for name in names}
    assert allowed & HTML_URL_ATTRIBUTES <= URL_ATTRIBUTES
    assert URL_PAIRS, "the tests below would check nothing"


@pytest.mark.parametrize("tag", sorted(ALLOWED_TAGS))
def test_exactly_the_allowed_attributes_come_out(tag: str) -> None:
    candidates = sorted(
        {name for names in ALLOWED_ATTRIBUTES.values() for name in names} | set(EXTRA_ATTRIBUTES)
    )
    written = " ".join(
        f'{name}="{"https://example.org/" if name in HTML_URL_ATTRIBUTES else "left"}"'
        for name in candidates
    )
    out = attributes_of(sanitise_html(element(tag, written)), tag)
    expected = ALLOWED_ATTRIBUTES.get(tag, set()) | ALLOWED_ATTRIBUTES.get("*", set())
    if tag == "a":
        expected = expected | {"rel"}
    assert set(out) == expected
    if tag == "a":
        assert out["rel"] == LINK_REL


# URL-valued attributes, one by one


@pytest.mark.parametrize("url", HOSTILE_URLS)
@pytest.mark.parametrize(("tag", "name"), URL_PAIRS)
def test_url_attribute_drops_every_other_scheme_and_relative_urls(
    tag: str, name: str, url: str
) -> None:
    for render in (sanitise_html, render_markdown):
        out = render(element(tag, f"{name}={quoted(url)}"))
        assert name not in attributes_of(out, tag), (render.__name__, out)
        if tag not in VOID:
            assert "inside" in parse(out).text


@pytest.mark.parametrize(("written", "expected"), GOOD_URLS)
@pytest.mark.parametrize(("tag", "name"), URL_PAIRS)
def test_url_attribute_keeps_absolute_http_https_and_mailto(
    tag: str, name: str, written: str, expected: str
) -> None:
    for render in (sanitise_html, render_markdown):
        out = render(element(tag, f"{name}={quoted(written)}"))
        assert attributes_of(out, tag)[name] == expected, (render.__name__, out)


@pytest.mark.parametrize(("tag", "name"), TEXT_PAIRS)
def test_text_attribute_is_kept_as_written(tag: str, name: str) -> None:
    if name == "rel":
        pytest.skip("rel is written by the sanitiser, whatever the source says")
    value = "javascript:alert(1) & more"
    out = sanitise_html(element(tag, f'{name}="javascript:alert(1) &amp; more"'))
    assert attributes_of(out, tag)[name] == value


@pytest.mark.parametrize(
    ("markdown", "href"),
    [
        ("[x](javascript:alert(1))", None),
        ("[x](JAVASCRIPT:alert(1))", None),
        ("[x](&#106;avascript:alert(1))", None),
        ("[x](java%09script:alert(1))", None),
        ("<javascript:alert(1)>", None),
        ("<data:text/html;base64,PHNjcmlwdD4=>", None),
        ("[x](vbscript:msgbox(1))", None),
        ("[x](/about)", None),
        ("[x](#top)", None),
        ("[x](//evil.example/)", None),
        ("[x]\n\n[x]: javascript:alert(1)", None),
        ("[x](https://example.org/a_b)", "https://example.org/a_b"),
        ("<https://example.org/>", "https://example.org/"),
        ("www.example.org", "http://www.example.org"),
        ("desk@example.org", "mailto:desk@example.org"),
    ],
)
def test_markdown_links_follow_the_same_rule(markdown: str, href: str | None) -> None:
    links = [attrs for tag, attrs in parse(render_markdown(markdown)).elements if tag == "a"]
    assert len(links) == 1, markdown
    assert links[0].get("href") == href


# Text a feed can carry


@pytest.mark.parametrize(
    "markdown",
    ["x&#1;y", "<p>x&#x1F;y</p>", '<q cite="https://a.example/&#2;">q</q>', "a &#xFFFE; b",
     "&#65535;", "<http://a.example/&#xFFFF;>", '[x](https://a.example/ "t&#xFFFE;")'],
)  # fmt: skip
def test_character_references_never_produce_text_xml_cannot_carry(markdown: str) -> None:
    html = render_markdown(markdown)
    # lxml refuses text with characters XML 1.0 cannot carry, as feedgen's does.
    etree.Element("content").text = html
    assert html


# Any input

PIECES = [
    "<a href=", "<q cite=", "<blockquote cite=", "<abbr title=", "<td align=", "<p lang=",
    '"', "'", ">", "</a>", "</q>", "</blockquote>", "<", "&", ";", ":", "/", "\\", "#",
    " ", "\t", "\n", "\x00", "\x01", "javascript", "JaVaScRiPt", "data", "vbscript",
    "text/html;base64,", "http", "https", "mailto", "//", "&#106;", "&#x6A;", "&#x09;",
    "&#10;", "&Tab;", "&colon;", "&#58;", "&#1;", "[x](", ")", "[x]: ", "<", "www.",
    "example.org", "<img src=", "<svg><a xlink:href=", "<form action=", "<iframe src=",
    "<object data=", "<button formaction=", "<!--", "-->", "<![CDATA[", "]]>", "`", "> ",
]  # fmt: skip
content = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=40).map(
    "".join
)


def url_scheme(value: str) -> str:
    """The scheme a browser reads from an attribute value (WHATWG URL parsing, simplified)."""
    url = value.strip("".join(chr(code) for code in range(0x21)))
    url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    found = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):(//([^/?#]*))?", url)
    if found is None:
        return "relative"
    scheme = found.group(1).lower()
    if scheme in ("http", "https") and not found.group(3):
        return f"{scheme} without a host"
    return scheme


@settings(max_examples=400, deadline=None)
@given(content)
def test_no_output_attribute_has_a_scheme_outside_the_allow_list(text: str) -> None:
    for html in (render_markdown(text), sanitise_html(text)):
        for tag, attrs in parse(html).elements:
            allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | ALLOWED_ATTRIBUTES.get("*", set())
            assert set(attrs) <= allowed | ({"rel"} if tag == "a" else set()), html
            for name, value in attrs.items():
                if name in HTML_URL_ATTRIBUTES | URL_ATTRIBUTES:
                    assert url_scheme(value or "") in ALLOWED_SCHEMES, (name, value, html)
        etree.Element("content").text = html


def test_a_code_span_shows_a_noncharacter_reference_as_written() -> None:
    html = render_markdown("`&#xFFFE;` and &#xFFFF;")
    assert parse(html).text == "&#xFFFE; and \ufffd"


# Memory


def resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads Linux's /proc")
def test_rendering_gives_back_what_cmark_allocated() -> None:
    text = "Some *words*, a [link](https://example.org/) and `code`.\n\n" * 18_000  # ~1 MiB
    render_markdown(text)  # from here on the allocator reuses what it has
    before = resident_bytes()
    for _ in range(10):
        render_markdown(text)
    # Kept, the parse tree and the HTML would add about 7 MiB a call.
    assert resident_bytes() - before < 16 * 2**20
