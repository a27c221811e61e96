"""Every `rowrnn ...` command line the READMEs and the documentation pages show runs (issue 26, family 5:
documented calls work).

What counts as a command line, read from README.md, README.es.md and every page of docs/en and docs/es (SOURCES):
- in ```bash, ```console (after "$ ") and ```sh blocks, every line that starts with `rowrnn ` (backslash
  continuations joined, trailing "# comments" dropped); ```text blocks are synopses with placeholders
  ([--preset NAME], IMAGE...), not commands, and ```python blocks are Python;
- in the prose, inline code that starts with `rowrnn <subcommand>` and gives it at least one argument (a bare
  `rowrnn train` in a sentence names the command; `rowrnn loads weights ...` is a sentence).
Lines deliberately not run are in NOT_RUN, each with its reason; a test checks that each is still shown somewhere.

Each line runs in SOURCES order (a file's lines in order) in one working directory with a tiny synthetic dataset (conftest's IDX files),
after these substitutions, which keep the command and change only its scale and its data (SUBSTITUTIONS):
the run paths a page uses (runs/demo, runs/h16, runs/<time>-notebook, runs/leaderboard/..., RUN) are the run the
first command,
`rowrnn train --out runs/demo`, made; every training gets `--epochs 1` and every command that takes them
`--data-dir data --no-verify` (the synthetic files fail Fashion-MNIST's checksums); IMAGE and shirt.jpg are a
real JPEG (so are IMAGEN and cropped.png), NAME/NOMBRE is `notebook`; `serve` listens on port 0, is asked /api/runs and stopped with SIGINT. Marked slow (about a minute).
"""
import json
import re
import signal
import subprocess
import os
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import write_dataset
from rowrnn.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
# the READMEs first, then each language's pages in file order (a page's later lines may use its earlier ones' runs)
SOURCES = ("README.md", "README.es.md") + tuple(
    p.relative_to(ROOT).as_posix() for lang in ("en", "es") for p in sorted((ROOT / "docs" / lang).rglob("*.md")))

# Lines deliberately not run: (the line as extracted, why)
NOT_RUN = {
    # the published leaderboard: 27 trainings, hours on a CPU (tests/test_compare.py covers compare)
    "rowrnn compare --presets notebook,stacked,tiny,fast,mingru,bilstm,cnn@0,pixels@0,permuted-pixels@0 --seeds 0,1,2 "
    "--parallel 1 --out runs/leaderboard": "the full leaderboard: 27 trainings",
    # fragments: a flag named in a sentence, without the run it needs
    "rowrnn predict --explain": "a flag named in prose, not a command line",
    "rowrnn evaluate --tta flip": "a flag named in prose, not a command line",
}

SUBCOMMANDS = set(next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices)
                  .choices)


def readme_commands(path: Path) -> list[tuple[int, str]]:
    """(line number, command) for every `rowrnn ...` command line of a Markdown file, in order (see the module
    docstring)."""
    found = []
    fence, block, block_start, prose = None, [], 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        opening = re.match(r"^\s*```(\w*)", line)
        if opening:
            if fence is None:
                fence, block, block_start = opening.group(1), [], number
            else:
                if fence in ("bash", "console", "sh", "shell"):
                    found += _block_commands(block, block_start)
                fence = None
            prose.append((number, ""))
            continue
        if fence is None:
            prose.append((number, line))
        else:
            block.append(line)
            prose.append((number, ""))
    text = "\n".join(line for _, line in prose)
    for match in re.finditer(r"`([^`\n]+(?:\n[^`\n]+)?)`", text):
        command = " ".join(match.group(1).split())
        words = command.split("|")[0].split()
        if len(words) >= 3 and words[0] == "rowrnn" and words[1] in SUBCOMMANDS:
            found.append((prose[text.count("\n", 0, match.start())][0], " ".join(words)))
    return sorted(found)


def _block_commands(block: list[str], start: int) -> list[tuple[int, str]]:
    found, pending, first = [], "", 0
    for offset, line in enumerate(block, start + 1):
        if not pending:
            first = offset
        pending += " " + line.strip()
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        command = re.sub(r"\s+#.*$", "", pending.strip())
        command = command[2:] if command.startswith("$ ") else command
        if command.startswith("rowrnn "):
            found.append((first, " ".join(command.split())))
        pending = ""
    return found


def substitute(command: str) -> list[str]:
    """A documented line -> the argv run here (the module docstring's SUBSTITUTIONS)."""
    words = command.split()[1:]
    run_paths = {"RUN": "runs/demo", "runs/h16": "runs/demo", "...": "runs/demo", "runs/<time>-notebook": "runs/demo",
                 "IMAGE": "shirt.jpg", "IMAGEN": "shirt.jpg", "cropped.png": "shirt.jpg", "NOMBRE": "notebook",
                 "runs/leaderboard/notebook-seed0": "runs/demo", "runs/leaderboard/bilstm-seed0": "runs/demo2",
                 "/tmp/photos-fast": "runs/photos-fast", "runs/sS": "runs/s0", "S": "0", "NAME": "notebook"}
    argv = []
    for word in words:
        for prefix in ("RUN/", "runs/leaderboard/notebook-seed0/"):
            if word.startswith(prefix):
                word = "runs/demo/" + word[len(prefix):]
        argv.append(run_paths.get(word, word))
    sub = argv[0]
    options = {o for a in _subparser(sub)._actions for o in a.option_strings}
    if sub in ("train", "compare") and "--help" not in argv:
        if "--epochs" in argv:
            argv[argv.index("--epochs") + 1] = "1"
        elif "--resume" not in argv:
            argv += ["--epochs", "1"]
    if "--data-dir" in argv:
        argv[argv.index("--data-dir") + 1] = "data"
    elif "--data-dir" in options and "--help" not in argv and "--resume" not in argv:
        argv += ["--data-dir", "data"]
    if "--no-verify" in options and "--no-verify" not in argv and "--help" not in argv and "--resume" not in argv:
        argv.append("--no-verify")
    if sub == "serve":
        if "--port" in argv:
            argv[argv.index("--port") + 1] = "0"
        else:
            argv += ["--port", "0"]
    return argv


def _subparser(name: str):
    action = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices)
    return action.choices[name]


def _cases() -> list[tuple[str, int, str]]:
    """(source, line, command) to run: NOT_RUN left out, and a line whose argv an earlier one already ran
    (README.es.md and docs/es repeat the English lines; `rowrnn train --resume RUN` is `--resume runs/demo`) run
    once."""
    cases, seen = [], set()
    for readme in SOURCES:
        for number, command in readme_commands(ROOT / readme):
            argv = tuple(substitute(command))
            if command not in NOT_RUN and argv not in seen:
                seen.add(argv)
                cases.append((readme, number, command))
    return cases


CASES = _cases()


def _case(readme, number, command):
    return pytest.param(readme, number, command, marks=pytest.mark.slow, id=f"{readme}:{number}:{command}")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The working directory every documented line runs in: data/ (synthetic IDX files) and shirt.jpg."""
    home = tmp_path_factory.mktemp("readme")
    write_dataset(home / "data")
    rng = np.random.default_rng(0)
    picture = np.full((120, 90, 3), 235, np.uint8)
    picture[20:100, 25:65] = rng.integers(20, 90, (80, 40, 3))
    Image.fromarray(picture).save(home / "shirt.jpg", quality=90)
    return home


def test_the_readmes_and_pages_show_commands_and_not_run_lists_only_lines_they_show():
    shown = [command for readme in SOURCES for _, command in readme_commands(ROOT / readme)]
    assert "rowrnn train --out runs/demo" in shown and "rowrnn serve RUN/last.safetensors" in shown
    assert {"docs/en/command-line.md", "docs/es/command-line.md", "docs/en/getting-started.md"} <= set(SOURCES)
    walked = {source for source, _, _ in CASES}
    assert {"README.md", "docs/en/command-line.md", "docs/en/better-models.md"} <= walked, walked
    assert len(CASES) >= 25, CASES
    assert sorted(set(NOT_RUN) - set(shown)) == []


def test_extraction_reads_blocks_inline_code_and_continuations(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("Run `rowrnn train --epochs 2` or just `rowrnn serve`; `rowrnn loads files`.\n"
                      "```console\n$ rowrnn plot runs/demo     # figures\n```\n"
                      "```bash\nrowrnn compare --presets a \\\n  --seeds 0\npip install rowrnn\n```\n"
                      "```text\nrowrnn plot RUN\n```\n", encoding="utf-8")
    assert readme_commands(readme) == [(1, "rowrnn train --epochs 2"), (3, "rowrnn plot runs/demo"),
                                       (6, "rowrnn compare --presets a --seeds 0")]
    assert substitute("rowrnn train --preset fast --epochs 3 --out /tmp/photos-fast --data-dir /x --quiet") == [
        "train", "--preset", "fast", "--epochs", "1", "--out", "runs/photos-fast", "--data-dir", "data", "--quiet",
        "--no-verify"]
    assert substitute("rowrnn evaluate RUN/last.safetensors --save") == [
        "evaluate", "runs/demo/last.safetensors", "--save", "--data-dir", "data"]
    assert substitute("rowrnn serve runs/leaderboard/notebook-seed0/last.safetensors") == [
        "serve", "runs/demo/last.safetensors", "--data-dir", "data", "--port", "0"]
    assert substitute("rowrnn predict runs/<time>-notebook IMAGEN --fit none") == [
        "predict", "runs/demo", "shirt.jpg", "--fit", "none", "--data-dir", "data", "--no-verify"]


@pytest.mark.parametrize("readme, number, command", [_case(*c) for c in CASES])
def test_readme_command_runs(readme, number, command, workspace, monkeypatch, capsys):
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("ROWRNN_DATA", str(workspace / "data"))
    demo = workspace / "runs" / "demo"
    if command != "rowrnn train --out runs/demo" and not (demo / "metrics.json").exists():
        assert main(["train", "--out", "runs/demo", "--epochs", "1", "--data-dir", "data", "--no-verify",
                     "--quiet"]) == 0
    if not (workspace / "runs" / "demo2").exists() and (demo / "metrics.json").exists():
        import shutil
        shutil.copytree(demo, workspace / "runs" / "demo2")
    argv = substitute(command)
    if argv[0] == "train" and "--out" in argv:         # a README line that trains into a run made already
        out = argv.index("--out") + 1
        while (workspace / argv[out]).exists():
            argv[out] += "-again"
    if argv[0] == "serve":
        _serve_answers(argv, workspace)
        return
    try:
        code = main(argv)
    except SystemExit as e:                       # --help
        code = e.code
    err = capsys.readouterr().err
    assert code == 0, f"{readme}:{number}: `{command}` (run as rowrnn {' '.join(argv)}) failed: {err}"


def _serve_answers(argv, workspace):
    proc = subprocess.Popen([sys.executable, "-m", "rowrnn", *argv], cwd=workspace, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "ROWRNN_DATA": str(workspace / "data")})
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://[^/\s]+/", line)
        assert match, (argv, line, proc.stderr.read() if proc.poll() is not None else "")
        with urllib.request.urlopen(match.group(0) + "api/runs", timeout=20) as response:
            runs = json.load(response)["runs"]
        assert len(runs) == sum(1 for a in argv[1:] if a.startswith("runs/")), runs
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
