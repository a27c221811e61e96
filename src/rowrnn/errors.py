"""The one exception type for mistakes a user can make (bad paths, flags, files) and for the world
failing around rowrnn (full disks, signals).

The CLI turns a RowrnnError into one line on stderr and exit code 2 (Interrupted: 128 + the
signal's number); anything else is a programming error and keeps its traceback.

    raise RowrnnError("--hidden-size must be a positive integer, got 0")
"""
import contextlib
import contextvars
import functools
import re
import signal


class RowrnnError(Exception):
    """A user-facing error whose message names the problem and the fix."""

    exit_code = 2


class RowrnnNote(UserWarning):
    """Something rowrnn says while it goes on (files of an image folder skipped, a run continued without
    --amp): a warning in Python, one `rowrnn: note:` line on the command line."""


class Interrupted(RowrnnError):
    """Stopped by SIGINT or SIGTERM; a run directory keeps its last completed epoch."""

    def __init__(self, signum: int = signal.SIGINT, message: str | None = None):
        self.signum = int(signum)
        self.exit_code = 128 + self.signum          # 130 for SIGINT, 143 for SIGTERM, as shells report
        super().__init__(message or f"interrupted by {signal.Signals(self.signum).name}")


class Signalled(BaseException):
    """SIGINT or SIGTERM outside training, raised by the CLI's handler. A BaseException, as KeyboardInterrupt
    is, so that no `except Exception` in a library on the way (an import, say) swallows it."""

    def __init__(self, signum: int):
        self.signum = int(signum)
        super().__init__(signal.Signals(self.signum).name)


def one_line(message: str, limit: int | None = None) -> str:
    """message as exactly one printable line: newlines, other control characters (C0, DEL, C1, the Unicode line
    and paragraph separators) and undecodable bytes of file names (surrogate escapes) written as backslash
    escapes, as `ls -b` and git's quoted paths do; with limit (characters), cut to at most that many, ending in
    "...". The CLI prints every error through it, and the server puts it in every JSON error."""
    out = []
    for ch in str(message):
        code = ord(ch)
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0 or ch in "\u2028\u2029":
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        elif 0xDC80 <= code <= 0xDCFF:  # a byte of a non-UTF-8 name, as os.fsdecode keeps it
            out.append(f"\\x{code - 0xDC00:02x}")
        else:
            out.append(ch)
    text = "".join(out)
    return text if limit is None or len(text) <= limit else text[:limit - 3] + "..."


# ----------------------------------------------------------------------------- flags or Python arguments

_FROM_CLI = contextvars.ContextVar("rowrnn_from_cli", default=False)


@contextlib.contextmanager
def cli_context():
    """Inside the `rowrnn` command: messages keep naming its flags (--hidden-size, --data-dir)."""
    token = _FROM_CLI.set(True)
    try:
        yield
    finally:
        _FROM_CLI.reset(token)


def python_names(message: str, names: dict | None = None) -> str:
    """message with each config flag named as the Python argument it is: --hidden-size -> hidden_size,
    --no-verify -> verify=False, and any flag in `names` as given there (e.g. {"--out": "run_dir"}).
    Flags inside `backquoted commands` are left as they are: those are commands to run."""
    from .config import config_fields
    fields = {f.name.replace("_", "-"): f for _, f in config_fields()}

    def python(match):
        flag = match.group(0)
        if names and flag in names:
            return names[flag]
        body = flag[2:]
        if body.startswith("no-") and body[3:] in fields and isinstance(fields[body[3:]].default, bool):
            return f"{fields[body[3:]].name}=False"
        return fields[body].name if body in fields else flag

    parts = message.split("`")
    return "`".join(part if i % 2 else re.sub(r"(?<![\w-])--[a-z][a-z0-9-]*", python, part)
                    for i, part in enumerate(parts))


def python_api(function=None, *, names: dict | None = None):
    """Decorator for library functions people call from Python (notebooks, scripts): a RowrnnError raised
    inside names the call's arguments instead of the CLI's flags, unless the `rowrnn` command is the caller."""
    def decorate(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            try:
                return f(*args, **kwargs)
            except RowrnnError as e:
                if not _FROM_CLI.get() and e.args and isinstance(e.args[0], str):
                    e.args = (python_names(e.args[0], names), *e.args[1:])
                raise
        return wrapper
    return decorate(function) if function is not None else decorate
