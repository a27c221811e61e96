"""rowrnn.signals: the one place SIGINT/SIGTERM handlers are installed (the CLI, the training loop, compare)."""
import os
import signal
import threading

import pytest

from rowrnn import signals


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_on_signals_runs_the_handler_then_restores_the_previous_one(sig):
    seen = []
    before = {s: signal.getsignal(s) for s in signals.STOP_SIGNALS}
    with signals.on_signals(lambda signum, frame: seen.append(signum)) as installed:
        assert installed is True
        os.kill(os.getpid(), sig)
    assert seen == [sig]
    assert {s: signal.getsignal(s) for s in signals.STOP_SIGNALS} == before


def test_on_signals_restores_the_handlers_when_the_block_raises():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(ValueError, match="boom"):
        with signals.on_signals(lambda signum, frame: None):
            raise ValueError("boom")
    assert signal.getsignal(signal.SIGTERM) is before


def test_on_signals_installs_nothing_outside_the_main_thread():
    result = {}

    def worker():
        with signals.on_signals(lambda signum, frame: None) as installed:
            result["installed"] = installed
            result["handler"] = signal.getsignal(signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert result == {"installed": False, "handler": before}


def test_stop_on_signals_notes_the_signal_instead_of_raising():
    with signals.stop_on_signals() as stopped:
        assert stopped() is None
        os.kill(os.getpid(), signal.SIGTERM)      # would end the test process if it were not caught
        assert stopped() == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is not None


def test_the_cli_the_loop_and_compare_install_handlers_only_through_signals():
    import inspect

    from rowrnn import cli, compare, training
    for module in (cli, compare, training):
        source = inspect.getsource(module)
        assert "signal.signal(signal.SIGINT" not in source and "for sig in (signal.SIGINT" not in source, module
