"""Write every feed and page of a site as static files, byte-identical to what the app
serves, each with a precompressed ``.gz`` sibling for nginx's gzip_static or any CDN.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from medfeed.delivery import Document
from medfeed.site import FAVICON_PATH, Snapshot
from medfeed.urls import entry_path, page_path

MARKER = ".medfeed-build"
"""Marks a folder medfeed built, so that a rebuild may replace it."""


def file_for(path: str) -> str:
    """The file that holds a site path: pages are ``index.html`` in their folder."""
    relative = path.lstrip("/")
    return relative + "index.html" if relative.endswith("/") or not relative else relative


FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)


def _write_file(target: str, data: bytes) -> None:
    # Plain descriptors: a buffered file object per file costs more than the write.
    fd = os.open(target, FILE_FLAGS, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _write(root: Path, path: str, doc: Document) -> None:
    target = os.path.join(root, file_for(path))
    folder = os.path.dirname(target)
    try:
        os.mkdir(folder)  # one call for the common case: a new page's own folder
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
    _write_file(target, doc.body)
    _write_file(target + ".gz", doc.gzip)


def _write_entry_pages(root: Path, snapshot: Snapshot, slugs: Iterable[str]) -> int:
    count = 0
    for slug in slugs:
        _write(root, entry_path(slug), snapshot.entry_page(slug))
        count += 1
    return count


def _in_two_processes(root: Path, snapshot: Snapshot, slugs: list[str]) -> int:
    # Rendering pages is CPU-bound: a forked child takes every other entry. fork()
    # shares the snapshot without pickling it.
    if not hasattr(os, "fork") or len(slugs) < 200 or (os.cpu_count() or 1) < 2:
        return _write_entry_pages(root, snapshot, slugs)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 0
        try:
            _write_entry_pages(root, snapshot, slugs[1::2])
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    count = _write_entry_pages(root, snapshot, slugs[0::2])
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise OSError(f"writing entry pages failed in a child process (status {status})")
    return count + len(slugs[1::2])


def build_site(snapshot: Snapshot, outdir: Path) -> int:
    """Write the whole site into ``outdir``, replacing an earlier build; returns files written.

    Raises:
        FileExistsError: ``outdir`` exists, is not empty, and is not an earlier build.
    """
    if outdir.exists() and any(outdir.iterdir()) and not (outdir / MARKER).exists():
        raise FileExistsError(f"{outdir} is not empty and was not built by medfeed")
    outdir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}-", dir=outdir.parent))
    try:
        (staging / MARKER).write_text("medfeed build\n", encoding="utf-8")
        count = 0
        for path, doc in snapshot.feeds():
            _write(staging, path, doc)
            count += 1
        _write(staging, page_path(), snapshot.index_page())
        for category in snapshot.site.categories:
            _write(staging, page_path(category.slug), snapshot.category_page(category.slug))
        _write(staging, FAVICON_PATH, snapshot.favicon())
        count += 2 + len(snapshot.site.categories)
        count += _in_two_processes(staging, snapshot, [i.slug for i in snapshot.items])
        staging.chmod(0o755)
        # Swap the finished build in, so a server never sees half a site.
        old = None
        if outdir.exists():
            old = outdir.with_name(f".{outdir.name}-old-{os.getpid()}")
            outdir.rename(old)
        staging.rename(outdir)
        if old is not None:
            shutil.rmtree(old)
        return count
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
