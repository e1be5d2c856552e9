"""The one way the suite writes a file: confined, atomic, never through a symlink.

Every file the suite writes into an output directory (records, ``suite.json``,
``summary.csv``, ``claims.json``, the report pages, worker specs) goes through
:func:`write_text`; worker logs through :func:`open_log`. The rules (issue 19):

* the temporary file has a unique name made with ``O_CREAT | O_EXCL``
  (:func:`tempfile.mkstemp`) in the target's directory, so a symlink or any
  other file planted at a predictable temporary name is never opened;
* the final path is replaced by ``os.replace``, which replaces a symlink
  there instead of writing through it;
* with ``root`` given, a target whose directory resolves outside ``root``
  (through ``..`` or a symlinked directory) is refused with :class:`SuiteError`;
* an ``OSError`` (a full disk, a read-only file system) leaves no temporary
  file behind and always names the file (``err.filename``), so the command
  line's handler can print one line.

TF-free, standard library only (bottom layer).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO

from suite.api import SuiteError


def check_inside(root: Path | str, path: Path | str) -> None:
    """Raises SuiteError if ``path``'s directory does not resolve inside ``root``."""
    base = os.path.realpath(root)
    where = os.path.realpath(Path(path).parent)
    if where != base and not where.startswith(base + os.sep):
        raise SuiteError(f"{path}: refusing to write outside {root} (resolves to {where})")


def _named(err: OSError, path: Path) -> OSError:
    """``err`` with ``path`` as its file name where it has none (write, fsync)."""
    if err.filename is None:
        return type(err)(err.errno, err.strerror or str(err), str(path))
    return err


def write_text(path: Path | str, text: str, *, root: Path | str | None = None,
               durable: bool = True) -> None:
    """Writes ``text`` to ``path`` atomically via a unique temporary file and a rename.

    Args:
        path: The target file; its missing parent directories are created.
        text: The content (UTF-8).
        root: The output directory the target must resolve inside; default
            None: not checked (a file the user named, e.g. ``compare --out``).
        durable: Default True: the data are synced to disk before the rename
            (records, manifests). False for derived pages that ``report``
            rebuilds (10,000 run pages would wait on 10,000 syncs).

    Raises:
        SuiteError: If ``path`` resolves outside ``root``.
        OSError: Naming ``path`` (the temporary file is removed).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _named(err, path.parent) from None
    if root is not None:
        check_inside(root, path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise _named(err, path) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except OSError as err:
        _remove(tmp)
        raise _named(err, path) from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def open_log(path: Path | str) -> IO[str]:
    """A new, empty log file at ``path`` opened for writing, never through a symlink.

    Whatever is at ``path`` (an old log, a symlink) is removed first -- a
    symlink's target is left alone -- and the file is created with ``O_EXCL``
    and ``O_NOFOLLOW``.
    """
    path = Path(path)
    try:
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        raise _named(err, path) from None
    return os.fdopen(fd, "w")
