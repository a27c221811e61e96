"""Every `rowrnn ... --help`, pinned: a golden file per command, and no doubled or false defaults (issue 26, family 7).

The goldens are tests/golden/help/rowrnn.txt (the top level) and tests/golden/help/<command>.txt, one per
subcommand, rendered at COLUMNS=100. After changing a flag or a help text, regenerate them and read the diff:

    ROWRNN_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_help.py -q

argparse's layout differs between Python versions ("optional arguments:" before 3.10's "options:", colours in
3.14), so the exact comparison runs on GOLDEN_PYTHON only; the checks on the defaults run everywhere.
"""
import argparse
import contextlib
import io
import os
import re
import sys
from pathlib import Path

import pytest

from rowrnn.cli import HelpFormatter, build_parser

GOLDEN = Path(__file__).parent / "golden" / "help"
GOLDEN_PYTHON = (3, 11)   # the Python the goldens were rendered with
COLUMNS = "100"
REGENERATE = bool(os.environ.get("ROWRNN_REGENERATE_GOLDEN"))


def subcommands() -> list[str]:
    """The subcommands the parser has, in its order."""
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return list(action.choices)


COMMANDS = [None] + subcommands()


def render_help(command: str | None, monkeypatch) -> str:
    """What `rowrnn [command] --help` prints at COLUMNS columns."""
    monkeypatch.setenv("COLUMNS", COLUMNS)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("PYTHON_COLORS", "0")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(([command] if command else []) + ["--help"])
    assert exit_.value.code == 0
    return out.getvalue()


def golden_path(command: str | None) -> Path:
    return GOLDEN / f"{command or 'rowrnn'}.txt"


@pytest.mark.parametrize("command", COMMANDS, ids=[c or "rowrnn" for c in COMMANDS])
def test_help_matches_golden(command, monkeypatch):
    text = render_help(command, monkeypatch)
    path = golden_path(command)
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if sys.version_info[:2] != GOLDEN_PYTHON:
        pytest.skip(f"goldens are rendered with Python {GOLDEN_PYTHON}; argparse's layout differs here")
    assert path.exists(), f"no golden for {command or 'rowrnn'}: regenerate (see this module's docstring)"
    assert text == path.read_text(encoding="utf-8"), (
        f"`rowrnn {command or ''} --help` changed: regenerate and review (see this module's docstring)")


def test_every_golden_is_a_command():
    names = {golden_path(c).name for c in COMMANDS}
    assert sorted(p.name for p in GOLDEN.glob("*.txt")) == sorted(names)


def _option_entries(text: str) -> list[str]:
    """Each option's whole entry (its wrapped help lines joined), from the options: section of a --help."""
    entries, current = [], None
    for line in text.splitlines():
        if re.match(r"^  \S", line):            # a new argument (positional or option)
            if current is not None:
                entries.append(current)
            current = line.strip()
        elif line.startswith("    ") and current is not None:
            current += " " + line.strip()
        else:
            if current is not None:
                entries.append(current)
            current = None
    if current is not None:
        entries.append(current)
    return entries


@pytest.mark.parametrize("command", COMMANDS, ids=[c or "rowrnn" for c in COMMANDS])
def test_no_doubled_or_false_defaults(command, monkeypatch):
    text = render_help(command, monkeypatch)
    entries = _option_entries(text)
    assert entries, text
    for entry in entries:
        assert entry.count("(default:") + entry.count("(notebook:") <= 1, entry
        assert "(default: None)" not in entry and "(notebook: None)" not in entry, entry
        assert "(default: [])" not in entry, entry
    parser = build_parser()
    if command:
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    for action in parser._actions:
        if action.nargs == 0 and action.option_strings and action.help:   # flags that take no value
            entry = next(e for e in entries if e.startswith(action.option_strings[0]))
            assert not re.search(r"\(default: (True|False)\)", entry), entry


@pytest.mark.parametrize("command,flag,expected", [
    ("train", "--no-figures", "--no-figures skip the PNG figures"),
    ("train", "--preset", "starting configuration (default: notebook)"),
    ("train", "--out", "a new or empty run directory (default: runs/<UTC time>-<preset>)"),
    ("train", "--quiet", "--quiet print only the final result"),
    ("compare", "--no-verify", "--no-verify skip checking the presets' dataset files against their published "
                               "checksums (Fashion-MNIST's SHA-256 of each file; MNIST's, KMNIST's and EMNIST's MD5 of "
                               "each downloaded .gz or zip)"),
    ("compare", "--seeds", "comma-separated seeds (default: 0)"),
    ("predict", "--no-verify", "skip checking the run's dataset files against their published checksums "
                               "(Fashion-MNIST's SHA-256 of each file; MNIST's, KMNIST's and EMNIST's MD5 of each "
                               "downloaded .gz or zip; an image folder has none) (default: as the run was trained)"),
    ("compare", "--data-dir", "directory with the presets' dataset files (Fashion-MNIST's by default)"),
    ("predict", "--top", "classes listed per image (default: 3)"),
    ("evaluate", "--weights", "which weights (default: best)"),
    ("evaluate", "--data-dir", "by default), or its image folder's new place"),
    ("serve", "--port", "port (0: any free port) (default: 8000)"),
    ("summary", "run", "a run directory (default: build from flags)"),
])
def test_help_entries(command, flag, expected, monkeypatch):
    entry = next(e for e in _option_entries(render_help(command, monkeypatch))
                 if e.split()[0].rstrip(",") == flag or e.startswith(flag + " "))
    normalized = " ".join(entry.split())
    assert normalized.endswith(expected), normalized


def test_formatter_rules():
    parser = argparse.ArgumentParser(prog="x", formatter_class=HelpFormatter)
    parser.add_argument("--a", default=3, help="a")
    parser.add_argument("--b", default=None, help="b")
    parser.add_argument("--c", action="store_false", help="c")
    parser.add_argument("--d", default="x", help="d (default: y)")
    parser.add_argument("--e", action="append", default=[], help="e")
    parser.add_argument("--f", action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help="f")
    parser.add_argument("--g", default=0.5, help="g (notebook: 0.5)")
    parser.add_argument("pos", nargs="?", default="p", help="pos")
    helps = {a.dest: HelpFormatter("x")._get_help_string(a) for a in parser._actions}
    assert helps == {"help": "show this help message and exit", "a": "a (default: %(default)s)", "b": "b",
                     "c": "c", "d": "d (default: y)", "e": "e", "f": "f", "g": "g (notebook: 0.5)",
                     "pos": "pos (default: %(default)s)"}
