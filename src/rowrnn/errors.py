"""The one exception type for mistakes a user can make (bad paths, flags, files).

The CLI turns a RowrnnError into one line on stderr and exit code 2; anything
else is a programming error and keeps its traceback.

    raise RowrnnError("--hidden-size must be a positive integer, got 0")
"""


class RowrnnError(Exception):
    """A user-facing error whose message names the problem and the fix."""


class Interrupted(RowrnnError):
    """Training stopped by SIGINT/SIGTERM; the run directory holds the last completed epoch."""

    exit_code = 130
