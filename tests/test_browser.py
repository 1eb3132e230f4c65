"""The pages in a real browser: Debian's headless Chromium, driven by Selenium.

The seed site is served on 127.0.0.1 by a real HTTP server whose own address is the
site's base URL, so every link, feed and autodiscovery URL points back at it. Each page
must load with no console errors and no request to another host, and its layout must
hold at phone and desktop widths.

Needs the Debian packages chromium and chromium-driver and the PyPI package selenium;
without them these tests skip and say why. Selenium Manager never runs: the driver
and browser paths are given.
"""

from __future__ import annotations

import json
import shutil
import threading
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.error import HTTPError
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.serving import make_server

from conftest import SEED_ENTRIES
from medfeed import create_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

pytest.importorskip("selenium", reason="selenium is not installed (pip install selenium)")
for _path, _package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
    if shutil.which(_path) is None:
        pytest.skip(f"{_path} is missing (apt-get install {_package})", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
)
PAGE_LOAD_TIMEOUT = 15
"""Seconds: a page load or script past this fails the test."""
FETCH_TIMEOUT = 10

CATEGORY = "high-level-visits"
ENTRY = "vershbow-visits-israel"
PAGES = {
    "home": "",
    "category": f"categories/{CATEGORY}/",
    "entry": f"entries/{ENTRY}/",
}
"""Pages under test, relative to the base URL; the slugs are from the seed entries/."""

FEED_TYPES = (
    "application/rss+xml", "application/atom+xml", "application/feed+json", "text/calendar",
)  # fmt: skip
ALLOWED_SCHEMES = ("data", "about")
"""Requests that never leave the browser."""


@dataclass(frozen=True)
class Viewport:
    width: int
    height: int
    mobile: bool


VIEWPORTS = {
    "phone": Viewport(375, 812, mobile=True),
    "desktop": Viewport(1280, 900, mobile=False),
}

Driver = webdriver.Chrome


@dataclass
class Visit:
    """What the browser saw while loading one page."""

    url: str
    status: int | None
    """The HTTP status of the page itself; None if no response was logged."""
    console_errors: list[str]
    requests: list[str]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT)
        driver.set_script_timeout(PAGE_LOAD_TIMEOUT)
        # Leave the start page (chrome:// requests of its own) before any log is read.
        driver.get("about:blank")
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def site() -> Iterator[str]:
    """Serve the seed site on 127.0.0.1; returns its base URL, which the site links to.

    The server is bound first (port 0), then the app is built with that address as its
    BASE_URL: no window in which another process could take a port picked in advance.
    """
    apps: list[Flask] = []

    def dispatch(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return apps[0](environ, start_response)

    server = make_server("127.0.0.1", 0, dispatch, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}/"
    apps.append(create_app({"ENTRIES_DIR": str(SEED_ENTRIES), "BASE_URL": base, "WATCH": False}))
    # A short poll interval: shutdown() waits up to one interval.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def emulate(driver: Driver, viewport: Viewport) -> None:
    """Lay pages out as on this device; a mobile one honours <meta name=viewport>."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": viewport.width,
            "height": viewport.height,
            "deviceScaleFactor": 1,
            "mobile": viewport.mobile,
        },
    )


def drain_logs(driver: Driver) -> None:
    """Drop what was logged so far: each read returns what came since the last one."""
    driver.get_log("browser")
    driver.get_log("performance")


def network_events(driver: Driver) -> Iterator[tuple[str, dict[str, Any]]]:
    for record in driver.get_log("performance"):
        message = json.loads(record["message"])["message"]
        yield message["method"], message.get("params", {})


def visit(driver: Driver, base: str, path: str) -> Visit:
    """Load a page; returns its status, console errors and every request it made."""
    url = base + path
    drain_logs(driver)
    driver.get(url)
    status: int | None = None
    requests: list[str] = []
    for method, params in network_events(driver):
        if method == "Network.requestWillBeSent":
            requests.append(params["request"]["url"])
        elif method == "Network.responseReceived" and params["response"]["url"] == url:
            status = params["response"]["status"]
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    return Visit(url, status, errors, requests)


def is_own(url: str, base: str) -> bool:
    """Whether a URL is on the test server (same scheme, host and port)."""
    own, other = urlsplit(base), urlsplit(url)
    return (other.scheme, other.netloc) == (own.scheme, own.netloc)


def fetch(url: str) -> tuple[int, str]:
    """GET a URL: its status and Content-Type; error statuses are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:
            response.read()
            return response.status, response.headers.get("Content-Type", "")
    except HTTPError as e:
        with e:
            return e.code, e.headers.get("Content-Type", "")


def js(driver: Driver, script: str) -> Any:
    return driver.execute_script(script)


@pytest.mark.parametrize("path", PAGES.values(), ids=PAGES.keys())
def test_page_loads_cleanly_from_its_own_host(browser: Driver, site: str, path: str) -> None:
    emulate(browser, VIEWPORTS["desktop"])
    seen = visit(browser, site, path)

    assert seen.status == 200, f"{seen.url} answered {seen.status}"
    assert seen.url in seen.requests
    elsewhere = [
        url
        for url in seen.requests
        if not is_own(url, site) and urlsplit(url).scheme not in ALLOWED_SCHEMES
    ]
    assert elsewhere == [], "requests to other hosts"
    assert seen.console_errors == []

    heading = browser.find_element(By.CSS_SELECTOR, "main h1")
    assert heading.is_displayed() and heading.text.strip()
    assert browser.title.strip()


@pytest.mark.parametrize("path", PAGES.values(), ids=PAGES.keys())
def test_page_announces_its_feeds(browser: Driver, site: str, path: str) -> None:
    emulate(browser, VIEWPORTS["desktop"])
    seen = visit(browser, site, path)
    assert seen.status == 200

    links = browser.find_elements(By.CSS_SELECTOR, "head link[rel='alternate'][type]")
    found = {link.get_attribute("type"): link.get_attribute("href") or "" for link in links}
    assert set(FEED_TYPES) <= found.keys(), f"autodiscovery links: {found}"
    for media_type in FEED_TYPES:
        href = found[media_type]
        assert is_own(href, site), f"{media_type} feed is on another host: {href}"
        status, content_type = fetch(href)
        assert status == 200, f"{href} answered {status}"
        assert content_type.split(";")[0].strip() == media_type, href
    if path.startswith("categories/"):
        assert all(f"/categories/{CATEGORY}/" in href for href in found.values())


@pytest.mark.parametrize("viewport", VIEWPORTS.values(), ids=VIEWPORTS.keys())
@pytest.mark.parametrize("path", PAGES.values(), ids=PAGES.keys())
def test_layout_holds(browser: Driver, site: str, path: str, viewport: Viewport) -> None:
    emulate(browser, viewport)
    seen = visit(browser, site, path)
    assert seen.status == 200

    # A phone lays out wider than its screen, then zooms out, when the page has no
    # <meta name=viewport> (980 px) or content wider than the screen: no scrollbar then.
    inner_width = js(browser, "return window.innerWidth")
    assert inner_width == viewport.width, (
        f"the layout viewport is {inner_width} px wide, not {viewport.width}: "
        "no <meta name=viewport>, or content wider than the screen"
    )
    scroll_width = js(browser, "return document.documentElement.scrollWidth")
    assert scroll_width <= inner_width, "the page scrolls sideways"

    main = browser.find_element(By.TAG_NAME, "main")
    assert main.is_displayed()
    box = js(
        browser,
        "const r = document.querySelector('main').getBoundingClientRect();"
        "return {left: r.left, right: r.right, top: r.top, width: r.width, height: r.height};",
    )
    assert box["width"] > 0 and box["height"] > 0
    assert 0 <= box["left"] and box["right"] <= inner_width, f"main sticks out: {box}"
    assert box["top"] < viewport.height, "main content starts below the first screen"
    heading = main.find_element(By.TAG_NAME, "h1")
    assert heading.is_displayed()
    assert heading.rect["x"] + heading.rect["width"] <= inner_width


def test_links_from_home_page_work(browser: Driver, site: str) -> None:
    emulate(browser, VIEWPORTS["desktop"])
    assert visit(browser, site, "").status == 200

    entry_link = browser.find_element(By.CSS_SELECTOR, "main ol.entries a[href]")
    category_link = browser.find_element(By.CSS_SELECTOR, "header nav a[href]")
    targets = {
        "entry": (entry_link.get_attribute("href") or "", entry_link.text),
        "category": (category_link.get_attribute("href") or "", category_link.text),
    }
    for kind, (href, _) in targets.items():
        assert is_own(href, site), f"{kind} link leaves the site: {href}"
        path = urlsplit(href).path
        assert path.startswith(f"/{'entries' if kind == 'entry' else 'categories'}/"), href
        status, content_type = fetch(href)
        assert status == 200, f"{kind} link {href} answered {status}"
        assert content_type.startswith("text/html")

    # Following the entry link in the browser lands on that entry's page.
    href, title = targets["entry"]
    entry_link.click()
    WebDriverWait(browser, PAGE_LOAD_TIMEOUT).until(expected_conditions.url_to_be(href))
    assert browser.find_element(By.CSS_SELECTOR, "main h1").text == title


def test_site_has_a_favicon(browser: Driver, site: str) -> None:
    visit(browser, site, "")
    declared = browser.find_elements(By.CSS_SELECTOR, "head link[rel~='icon']")
    assert declared, "no <link rel=icon>: browsers would ask for /favicon.ico and log a 404"
    status, _ = fetch(declared[0].get_attribute("href") or "")
    assert status == 200
