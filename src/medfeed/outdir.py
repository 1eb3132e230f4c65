"""The folder a static build writes into, and what medfeed owns there.

This module decides which folders a build may write to at all, keeps the manifest
(``.medfeed-build``, see ``manifest``) of the files and folders earlier builds wrote,
surveys the folder for anything medfeed did not write before a build changes it, writes
each file atomically, and deletes only what the manifest lists, where it is still as
written, through no symbolic link; ``build`` decides what to write.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path

# Record and read_manifest are build's too, by way of this module.
from medfeed.manifest import MARKER, a_written_pair, as_written, manifest_bytes
from medfeed.manifest import Manifest as Manifest
from medfeed.manifest import Record as Record
from medfeed.manifest import read_manifest as read_manifest

TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
UTIME_FD = os.utime in os.supports_fd


class BuildError(Exception):
    """The build cannot go ahead as asked; nothing in the output folder was changed."""


def check_outdir(outdir: str, entries: Path) -> Path:
    """The real folder to build into, refusing places a build must not write to.

    Raises:
        BuildError: OUTDIR is empty, ``/``, the entries folder, inside it or around it,
            not a folder, on a missing parent, or not writable.
    """
    if not outdir.strip():
        raise BuildError("OUTDIR is empty: name the folder to build into")
    # A symlink to an earlier build is followed: the build goes to its target in place.
    target = Path(os.path.realpath(outdir))
    source = Path(os.path.realpath(entries))
    refuse = f"cannot build into {outdir}"
    if target == Path(target.anchor):
        raise BuildError(f"{refuse}: it is the root folder")
    if target == source:
        raise BuildError(f"{refuse}: it is the entries folder")
    if target in source.parents:
        raise BuildError(f"{refuse}: it contains the entries folder {entries}")
    if source in target.parents:
        raise BuildError(f"{refuse}: it is inside the entries folder {entries}")
    if os.path.lexists(target) and not target.is_dir():
        raise BuildError(f"{refuse}: it {_not_a_folder(target, 'is a file, not a folder')}")
    folder = target if target.is_dir() else target.parent
    if not folder.is_dir():
        exists = os.path.lexists(folder)
        missing = _not_a_folder(folder, "is not a folder") if exists else "does not exist"
        raise BuildError(f"{refuse}: {folder} {missing}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BuildError(f"{refuse}: no permission to write in {folder}")
    return target


def _not_a_folder(path: Path, otherwise: str) -> str:
    """Why something that exists at ``path`` is not a folder, for a one-line refusal."""
    # realpath leaves a link it cannot resolve as it is: a loop, or a path it cannot read.
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "is a symbolic link loop, not a folder"
        return f"cannot be read: {e.strerror}"
    return otherwise


def write_manifest(
    root: str,
    documents: Mapping[str, Record | None],
    folders: set[str],
    keys: Mapping[str, str] | None = None,
) -> None:
    """Replace the manifest in ``root`` with these documents, folders and keys."""
    put_manifest(root, manifest_bytes(documents, folders, keys))


def put_manifest(root: str, text: bytes) -> None:
    """Replace the manifest in ``root`` with ``text`` (see manifest_bytes)."""
    replace_file(os.path.join(root, MARKER), text, None)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _intact(record: Record, main: os.stat_result, gz: os.stat_result) -> bool:
    return as_written(main, record) and as_written(gz, record, gz=True)


def survey(
    root: Path, files: list[str], manifest: Manifest | None
) -> tuple[dict[str, Record], set[str]]:
    """Check the folder before changing it: intact earlier files, and folders to create.

    Raises:
        BuildError: a file or folder medfeed did not write is where the build would write.
    """
    kept: dict[str, Record] = {}
    folders: set[str] = set()
    for rel in files:
        folder = os.path.dirname(rel)
        while folder and folder not in folders:
            folders.add(folder)
            folder = os.path.dirname(folder)
    if not root.exists():
        return kept, folders
    documents = manifest.documents if manifest else {}
    legacy = manifest is not None and manifest.legacy
    collisions = []
    fresh = set()
    for folder in folders:
        found = _stat(os.path.join(root, folder))
        if found is None:
            fresh.add(folder)
        elif not stat.S_ISDIR(found.st_mode):
            collisions.append(folder)
    for rel in files:
        main, gz = _stat(os.path.join(root, rel)), _stat(os.path.join(root, rel + ".gz"))
        ours = legacy or rel in documents
        for name, found in ((rel, main), (rel + ".gz", gz)):
            if found is not None and not (ours and stat.S_ISREG(found.st_mode)):
                collisions.append(name)
        record = documents.get(rel)
        if record is not None and main and gz and _intact(record, main, gz):
            kept[rel] = record
    if collisions:
        listed = "".join(f"\n  {name}" for name in sorted(collisions))
        raise BuildError(f"files medfeed did not write are where the build would write:{listed}")
    return kept, fresh


def replace_file(target: str, data: bytes, mtime: int | None) -> os.stat_result:
    """Write a file under a temporary name beside it, then rename it over the target."""
    folder, name = os.path.split(target)
    # A dotfile (nginx-static.conf hides those) in medfeed's own namespace.
    temp = os.path.join(folder, f".{name}.{os.getpid()}.medfeed-tmp")
    try:
        fd = os.open(temp, TEMP_FLAGS, 0o644)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(temp, TEMP_FLAGS, 0o644)
    try:
        try:
            # Plain descriptors: a buffered file object per file costs more than the write.
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if mtime is not None:
                os.utime(fd if UTIME_FD else temp, ns=(mtime, mtime))
            found = os.fstat(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        raise
    return found


def delete_written(
    root: str,
    gone: Iterable[str],
    folders: set[str],
    records: Mapping[str, Record | None] | None = None,
) -> int:
    """Delete these documents where they are still the files medfeed wrote, and the
    folders medfeed made that they leave empty.

    Each file must be as the manifest in ``root`` records it (mtime, size and inode): a
    file put in its place or edited since is not medfeed's and stays, as does a folder
    that is not empty. Nothing is reached through a symbolic link, so nothing outside
    ``root`` goes. Returns how many documents went; ``folders`` loses those removed.
    ``records``: the manifest's documents, where the caller holds them.
    """
    gone = list(gone)
    if not gone:
        return 0
    if records is None:
        manifest = read_manifest(Path(root))
        records = manifest.documents if manifest else {}
    count = 0
    emptied = set()
    top = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for rel in gone:
            emptied.add(os.path.dirname(rel))
            if rel in records:  # read_manifest checked that its paths stay inside
                count += _at(top, rel, partial(_delete, record=records[rel]))
        for start in emptied:
            folder = start
            while folder in folders and _at(top, folder, _remove_empty):
                folders.discard(folder)
                folder = os.path.dirname(folder)
    finally:
        os.close(top)
    return count


def _at(top: int, rel: str, act: Callable[[int, str], bool]) -> bool:
    """``act`` on a name in its folder under ``top``, the folder reached through no
    symbolic link; False if there is no such folder of its own."""
    *path, name = rel.split("/")
    if {"", ".", ".."} & {*path, name}:
        return False
    fd = os.dup(top)
    try:
        for part in path:
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError:
                return False
            os.close(fd)
            fd = inner
        return act(fd, name)
    finally:
        os.close(fd)


def _remove_empty(fd: int, name: str) -> bool:
    try:
        os.rmdir(name, dir_fd=fd)
    except OSError:
        return False  # not empty, or not a folder
    return True


def _delete(fd: int, name: str, record: Record | None) -> bool:
    """Delete a document's file and .gz where medfeed's; whether the file went."""
    main, gz = _stat_at(fd, name), _stat_at(fd, name + ".gz")
    if record is not None:
        # Each on its own: a .gz left beside a file put in place of the document's would
        # be sent (gzip_static) instead of that file.
        ours = [name] if main and as_written(main, record) else []
        ours += [name + ".gz"] if gz and as_written(gz, record, gz=True) else []
    elif main and gz and stat.S_ISREG(main.st_mode) and stat.S_ISREG(gz.st_mode):
        # Listed by a build that may have stopped before writing it: medfeed's if the
        # pair is as a build writes them.
        try:
            pair = a_written_pair(main, gz, _read_at(fd, name), _read_at(fd, name + ".gz"))
        except OSError:
            pair = False
        ours = [name, name + ".gz"] if pair else []
    else:
        ours = []
    for file in ours:
        os.unlink(file, dir_fd=fd)
    return name in ours


def _stat_at(fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except OSError:
        return None


def _read_at(fd: int, name: str) -> bytes:
    file = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    with os.fdopen(file, "rb") as opened:
        return opened.read()
