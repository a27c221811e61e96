"""Every file rowrnn reads or writes goes through here: defensive reads, atomic writes, one-line errors.

Reads accept regular files only (a FIFO would block for ever, a device or a huge sparse file would
be read whole into memory), capped in size before a byte is read. Writes go to a temporary sibling
that is renamed into place, so a reader sees the old file or the new one, never half of one.

    raw = read_file(path, limit=50 * 2**20, what="weights file")
    atomic_write(run_dir / "history.json", data)
    obj = read_json(path)                    # bounded size, depth and numbers; no NaN
"""
from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import stat
from contextlib import suppress
from pathlib import Path

from .errors import RowrnnError

MAX_JSON_BYTES = 16 * 2**20
MAX_JSON_DEPTH = 32
MAX_JSON_DIGITS = 40     # an integer or float literal longer than this is not something rowrnn wrote

_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENAMETOOLONG: "a name in the path is too long (the limit is 255 bytes per name)",
    errno.ELOOP: "too many levels of symbolic links",
    errno.ENOTDIR: "a part of the path is not a directory",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file is too large for this file system or process",
    errno.EIO: "input/output error",
    errno.EISDIR: "it is a directory",
    errno.ENOENT: "no such file or directory",
    errno.EEXIST: "it exists already",
}


_FIXES = {
    errno.EACCES: "check its permissions (and its directory's)",
    errno.EPERM: "check its permissions (and its directory's)",
    errno.ENAMETOOLONG: "use a shorter name",
    errno.ELOOP: "fix or remove the symbolic link",
    errno.ENOTDIR: "check the path",
    errno.EROFS: "choose a place on a writable file system",
    errno.ENOSPC: "free some space or choose another place",
    errno.EDQUOT: "free some space or choose another place",
    errno.EFBIG: "choose another place",
    errno.EIO: "check the disk",
}


def describe(error: OSError) -> str:
    """A short, stable phrase for an OSError (not its repr, which names the errno and the path twice)."""
    return _REASONS.get(error.errno, error.strerror or type(error).__name__)


def problem(error: OSError, default_fix: str = "check the path") -> str:
    """'what went wrong: what to do' for an OSError."""
    return f"{describe(error)}: {_FIXES.get(error.errno, default_fix)}"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _a(what: str) -> str:
    return f"{'an' if what[:1].lower() in 'aeiou' else 'a'} {what}"


def human_bytes(n: int) -> str:
    """1576 -> '1.58 kB', 1335336 -> '1.34 MB' (decimal units, three significant digits)."""
    return _human(n)


def _human(n: int) -> str:
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def read_file(path, *, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most `limit` bytes; anything else is a one-line RowrnnError."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))  # O_NONBLOCK: a FIFO opens
    except FileNotFoundError:
        raise RowrnnError(f"{path}: no such file") from None
    except PermissionError:
        raise RowrnnError(f"{path}: permission denied: make it readable (chmod a+r) or choose another file") from None
    except OSError as e:
        raise RowrnnError(f"{path}: cannot open the {what}: {problem(e)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RowrnnError(f"{path}: is {_kind(info.st_mode)}, not {_a(what)}: name a regular file")
        if info.st_size > limit:
            raise RowrnnError(f"{path}: {_human(info.st_size)} is over the limit of {_human(limit)} for {_a(what)}: "
                              "is it the right file?")
        os.set_blocking(fd, True)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew after fstat
                raise RowrnnError(f"{path}: over the limit of {_human(limit)} for {_a(what)}: is it the right file?")
        return b"".join(chunks)
    except OSError as e:
        raise RowrnnError(f"{path}: cannot read the {what}: {problem(e)}") from None
    finally:
        os.close(fd)


def check_readable_dir(path) -> Path:
    """The directory at path, or a one-line RowrnnError saying why it cannot be listed."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise RowrnnError(f"{path}: no such directory") from None
    except OSError as e:
        raise RowrnnError(f"{path}: cannot use it: {problem(e)}") from None
    if not stat.S_ISDIR(info.st_mode):
        kind = "a regular file" if stat.S_ISREG(info.st_mode) else _kind(info.st_mode)
        raise RowrnnError(f"{path}: is {kind}, not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise RowrnnError(f"{path}: permission denied: make the directory readable (chmod a+rx)")
    return path


def exists(path) -> bool:
    """Is there something at path? False when nothing is (or a part of the path is not a directory);
    a one-line RowrnnError when the path cannot be looked at (a name too long, a symlink loop, no permission)."""
    try:
        os.stat(path)
        return True
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as e:
        raise RowrnnError(f"{path}: cannot look at it: {problem(e)}") from None
    except ValueError:  # an embedded NUL byte
        raise RowrnnError(f"{path!r}: not a valid path") from None


def is_dir(path) -> bool:
    """Is path a directory (following links)? False for anything that cannot be looked at; never raises."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def kind_of(path) -> str | None:
    """'a directory', 'a FIFO (named pipe)', ... for what is at path; None when nothing is reachable there."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return "a regular file" if stat.S_ISREG(mode) else _kind(mode)


def is_regular_file(path) -> bool:
    """Is path a regular file (following links; not a FIFO, device or directory)? False when it cannot be looked
    at; never raises."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def temporary_name(path: Path) -> Path:
    """The temporary sibling atomic_write uses: derived from the name and this process, so it is known exactly."""
    name = f".{path.name}.tmp-{os.getpid()}"
    if len(os.fsencode(name)) > 255:  # fsencode: a non-UTF-8 name's bytes, as the file system holds them
        name = f".{hashlib.sha1(os.fsencode(path.name)).hexdigest()[:16]}.tmp-{os.getpid()}"
    return path.parent / name


def atomic_write(path, data: bytes) -> None:
    """Write to a temporary sibling, fsync, rename: readers see the old file or the new one. Raises RowrnnError
    (one line: the path, the reason, the fix) when the file cannot be written: permissions, a full disk, a
    read-only file system, a directory or a non-regular file in the way.

    The temporary file is created exclusively (never through a planted link) and removed on any
    failure, without letting that removal hide the error that caused it.
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        except FileExistsError:  # our own name, left by a killed process that had our pid
            os.unlink(tmp)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as e:
        with suppress(OSError):
            os.unlink(tmp)
        raise RowrnnError(f"{path}: cannot write ({describe(e)}): "
                          f"{_FIXES.get(e.errno, 'check that the directory exists, is writable and has space')}") from None
    except BaseException:  # interrupted mid-write: leave nothing behind
        with suppress(OSError):
            os.unlink(tmp)
        raise


def _bounded_number(literal: str):
    if len(literal) > MAX_JSON_DIGITS:
        raise ValueError(f"a number with {len(literal)} digits")
    return literal


def _parse_int(literal: str) -> int:
    return int(_bounded_number(literal))


def _parse_float(literal: str) -> float:
    value = float(_bounded_number(literal))
    if not math.isfinite(value):
        raise ValueError(f"the number {literal} overflows")
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _depth(obj) -> int:
    depth, level = 0, [obj]
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            break
        level = [child for node in level if isinstance(node, (dict, list))
                 for child in (node.values() if isinstance(node, dict) else node)]
    return depth


def parse_json(text: str | bytes, source: str):
    """JSON with bounded nesting and numbers, and none of Python's NaN/Infinity extensions. Raises RowrnnError
    naming source for text that is not such JSON (damaged, too deep, a number too long, NaN or Infinity)."""
    try:
        obj = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)
    except RecursionError:
        raise RowrnnError(f"{source}: nested too deeply to be a file rowrnn wrote: restore it or re-create it") from None
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as e:
        raise RowrnnError(f"{source}: not valid JSON ({e}): restore it or re-create the run") from None
    if _depth(obj) > MAX_JSON_DEPTH:
        raise RowrnnError(f"{source}: nested deeper than {MAX_JSON_DEPTH} levels: restore it or re-create it")
    return obj


def read_json(path, limit: int = MAX_JSON_BYTES):
    """The JSON file at path, read as read_file does (a regular file of at most limit bytes, default 16 MiB) and
    parsed as parse_json does. Raises RowrnnError (one line, naming path) for either failure."""
    path = Path(path)
    return parse_json(read_file(path, limit=limit, what="JSON file"), str(path))


def _first_non_finite(obj, where: str = "") -> str | None:
    """Where the first NaN or infinity in obj is, as a JSON path ('$.loss', '$.rows[3].x'); None if nowhere."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return where or "$"
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    for key, value in items:
        found = _first_non_finite(value, f"{where or '$'}{f'[{key}]' if isinstance(key, int) else f'.{key}'}")
        if found:
            return found
    return None


def to_json(obj, what: str = "the result") -> bytes:
    """Strict JSON, never NaN or Infinity (which JSON has no words for and strict readers refuse).

    A non-finite number is a one-line RowrnnError naming where it is, e.g. "$.loss", before a byte is
    written: outputs of damaged weights are refused, not recorded.
    """
    where = _first_non_finite(obj)
    if where is not None:
        raise RowrnnError(f"{what}: {where} is NaN or infinite, which JSON cannot hold, so nothing was written: "
                          "the model that produced it gives non-finite outputs; retrain it or restore its weights")
    return (json.dumps(obj, indent=2, allow_nan=False) + "\n").encode()


def save_figure(path, fig, dpi: int = 110) -> None:
    """Write a matplotlib Figure as a PNG at path (atomically, as every write here), then close it so that
    pyplot lets it go. Raises RowrnnError (one line) when path cannot be written."""
    import io

    import matplotlib.pyplot as plt
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    atomic_write(Path(path), buffer.getvalue())


def write_json(path, obj) -> None:
    """obj as strict JSON at path, atomically (to_json, then atomic_write). Raises RowrnnError for a
    NaN or infinity in obj (naming where) or a failed write."""
    atomic_write(path, to_json(obj, what=str(path)))


def sha256(data: bytes) -> str:
    """The SHA-256 digest of data, as 64 lowercase hexadecimal characters."""
    return hashlib.sha256(data).hexdigest()


def display_name(source) -> str:
    """A file name or label safe to print on one line: bytes that are not UTF-8 as \\xNN, controls escaped.

    os.fsdecode turns undecodable bytes into lone surrogates, which a UTF-8 stream cannot write; they are
    turned back into their bytes and shown as backslash escapes, and newlines, tabs and other control
    characters are shown as \\n, \\t, \\x1b, so an error about the file stays one line.
    """
    text = os.fsencode(os.fsdecode(source)).decode("utf-8", "backslashreplace") if isinstance(
        source, (bytes, os.PathLike)) else str(source).encode("utf-8", "surrogateescape").decode(
        "utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
