"""SIGINT and SIGTERM, handled one way everywhere: the CLI (unwind in one line), the training loop (stop at the
next step) and `rowrnn compare` (pass them on to its trainings) install their handlers through here.

    with on_signals(lambda signum, frame: ...):     # the previous handlers come back on the way out
        ...
    with stop_on_signals() as stopped:              # the loop asks stopped() between steps: None or the signal
        ...
"""
from __future__ import annotations

import contextlib
import signal
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)   # what a user (Ctrl-C) or a scheduler (kill, SLURM) sends to stop


def in_main_thread() -> bool:
    """Python runs signal handlers in the main thread only, and only it may install them."""
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def on_signals(handler, signals=STOP_SIGNALS):
    """Install handler(signum, frame) for signals (default SIGINT and SIGTERM) inside the block and put the
    previous handlers back after it, even when the block raises. Yields True when installed; outside the main
    thread (a notebook's worker, a server thread) nothing is installed and it yields False."""
    if not in_main_thread():
        yield False
        return
    previous = {}
    try:
        for sig in signals:
            previous[sig] = signal.signal(sig, handler)
        yield True
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def stop_on_signals():
    """SIGINT/SIGTERM are noted, not raised, so the current step finishes; yields a callable that says which
    signal came (an int), or None. The training loop polls it between steps and raises errors.Interrupted."""
    received = {"signal": None}

    def note(signum, frame):
        received["signal"] = signum

    with on_signals(note):
        yield lambda: received["signal"]
