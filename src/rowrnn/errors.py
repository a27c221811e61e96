"""The one exception type for mistakes a user can make (bad paths, flags, files) and for the world
failing around rowrnn (full disks, signals).

The CLI turns a RowrnnError into one line on stderr and exit code 2 (Interrupted: 128 + the
signal's number); anything else is a programming error and keeps its traceback.

    raise RowrnnError("--hidden-size must be a positive integer, got 0")
"""
import signal


class RowrnnError(Exception):
    """A user-facing error whose message names the problem and the fix."""

    exit_code = 2


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
