"""Failures of the world around rowrnn, family by family, through the real CLI: one line on stderr, exit
code 2 (130/143 for signals), no traceback, and not one byte of the user's files changed or lost.

Families: (A) every input path x {FIFO, directory, device, loop, unreadable, huge, too-long name, symlink to
elsewhere}; (B) nothing a user owns is lost or mislabelled; (C) full and read-only file systems,
permissions, broken pipes, signals, a half-set torchrun environment; (D) absurd model sizes.
"""
import contextlib
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_dataset
from rowrnn.cli import main

pytestmark = pytest.mark.slow

TRAIN = ["train", "--no-verify", "--epochs", "1", "--batch-size", "64", "--quiet", "--no-figures"]
DROP_CAPS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
HUGE = 300 * 2**30          # a sparse file larger than every limit rowrnn has
LONG = "n" * 300            # a path component longer than the 255 bytes file systems allow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small finished run with its ONNX export, and the data it was trained on."""
    tmp = tmp_path_factory.mktemp("world")
    data = write_dataset(tmp / "data")
    run = tmp / "run"
    assert main([*TRAIN, "--epochs", "2", "--data-dir", str(data), "--out", str(run)]) == 0
    assert main(["export", str(run), "--data-dir", str(data)]) == 0
    return run, data


def _copy_run(trained, tmp):
    run, data = trained
    copy = tmp / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns(".lock"))
    return copy, data


def snapshot(root: Path) -> dict:
    """Everything under root: bytes of regular files, targets of links, the kind of anything else."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            info = os.lstat(p)
            if stat.S_ISLNK(info.st_mode):
                out[str(p)] = ("link", os.readlink(p))
            elif stat.S_ISREG(info.st_mode):
                out[str(p)] = ("file", info.st_size, info.st_mtime_ns,
                               p.read_bytes() if info.st_size < 2**24 and os.access(p, os.R_OK) else None)
            else:
                out[str(p)] = ("other", stat.S_IFMT(info.st_mode))
    return out


@contextlib.contextmanager
def watchdog(seconds=60):
    """A hang (a FIFO read, say) fails the test instead of stopping the suite."""
    def fire(signum, frame):
        raise TimeoutError(f"the command hung for {seconds} s")
    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def in_process(argv, capsys) -> tuple[int, str]:
    capsys.readouterr()
    with watchdog():
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
    return rc, capsys.readouterr().err


def subprocess_cli(argv, *, drop_caps=False, env=None, timeout=120, **kwargs):
    return subprocess.run([*(DROP_CAPS if drop_caps else []), sys.executable, "-m", "rowrnn", *argv],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}, **kwargs)


def assert_one_line(rc, err, code=2, names=None):
    assert rc == code, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("rowrnn"), err
    if names is not None:
        assert names in err, f"the message does not name {names!r}: {err}"


# ----------------------------------------------------------------------------- family A: hostile inputs

def _make(kind: str, path: Path, elsewhere: Path | None = None) -> Path:
    """Put something hostile at path (path's parent exists); returns the path to give the command."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "loop":
        path.symlink_to(path.name)
    elif kind == "unreadable":
        if elsewhere is not None and elsewhere.is_dir():
            shutil.copytree(elsewhere, path)
        else:
            path.write_bytes(elsewhere.read_bytes() if elsewhere else b"secret")
        path.chmod(0)
    elif kind == "huge":
        with open(path, "wb") as f:
            f.truncate(HUGE)
    elif kind == "too-long":
        return path.parent / LONG
    elif kind == "symlink":  # to a valid copy somewhere else: followed for reading, never written through
        target = path.parent.parent / "elsewhere" / path.name
        target.parent.mkdir(exist_ok=True)
        (shutil.copytree if elsewhere.is_dir() else shutil.copy)(elsewhere, target)
        path.symlink_to(target)
    return path


KINDS = ("fifo", "directory", "device", "loop", "unreadable", "huge", "too-long", "symlink")


def _top(command):
    """The hostile thing IS the path argument (a run directory, an image, a model...)."""
    def build(tmp, run, data, kind):
        original = {"run": run, "data": data, "image": Path(__file__).resolve().parents[1] / "src" / "rowrnn"
                    / "examples" / "boot-on-white.png", "onnx": run / "model.onnx"}[command[1]]
        target = _make(kind, tmp / ("given" + ("" if original.is_dir() else original.suffix)), original)
        return command[0](target, run, data), target.name
    return build


def _inside(name, command):
    """The hostile thing replaces one file inside a run or data directory."""
    def build(tmp, run, data, kind):
        folder = data if name.startswith(("train-", "t10k-")) else run
        original = tmp / "original"
        shutil.copy(folder / name, original)
        (folder / name).unlink()
        _make(kind, folder / name, original)
        original.unlink()
        return command(run, data), name
    return build


INPUTS = {
    "train --data-dir DIR": _top(((lambda p, run, data: [*TRAIN, "--data-dir", str(p), "--out", str(run.parent / "o")]),
                                  "data")),
    "train: an IDX file": _inside("train-labels-idx1-ubyte.gz", lambda run, data: [
        *TRAIN, "--data-dir", str(data), "--out", str(run.parent / "o")]),
    "evaluate RUN": _top(((lambda p, run, data: ["evaluate", str(p)]), "run")),
    "evaluate: config.json": _inside("config.json", lambda run, data: ["evaluate", str(run), "--data-dir", str(data)]),
    "evaluate: best.safetensors": _inside("best.safetensors",
                                          lambda run, data: ["evaluate", str(run), "--data-dir", str(data)]),
    "train --resume: state.pt": _inside("state.pt", lambda run, data: ["train", "--resume", str(run), "--quiet",
                                                                       "--no-figures", "--data-dir", str(data)]),
    "plot: history.json": _inside("history.json", lambda run, data: ["plot", str(run), "--data-dir", str(data)]),
    "summary RUN": _top(((lambda p, run, data: ["summary", str(p)]), "run")),
    "export RUN": _top(((lambda p, run, data: ["export", str(p), "--data-dir", str(data)]), "run")),
    "predict IMAGE": _top(((lambda p, run, data: ["predict", str(run), str(p)]), "image")),
    "predict --onnx MODEL": _top(((lambda p, run, data: ["predict", "--onnx", str(p), "--example", "boot-on-white"]),
                                  "onnx")),
    "compare --out DIR": _top(((lambda p, run, data: ["compare", "--presets", "notebook", "--epochs", "1", "--out",
                                                      str(p), "--data-dir", str(data), "--no-verify"]), "run")),
}
# a symlink to a valid copy works; these commands then succeed (and must still not write through the link)
SUCCEEDS_THROUGH_A_LINK = {"train --data-dir DIR", "train: an IDX file", "evaluate RUN", "evaluate: config.json",
                           "evaluate: best.safetensors", "train --resume: state.pt", "plot: history.json",
                           "summary RUN", "predict IMAGE", "predict --onnx MODEL"}
WRITES_INTO_A_LINKED_RUN = {"export RUN"}  # a symlinked run directory is the run: export writes model.onnx there
SUCCEEDS_IN_AN_EMPTY_DIRECTORY = {"compare --out DIR"}
FILES_INSIDE = {"train: an IDX file", "evaluate: config.json", "evaluate: best.safetensors", "train --resume: state.pt",
                "plot: history.json"}
CASES = [(where, kind) for where in INPUTS for kind in KINDS
         if not (where in FILES_INSIDE and kind == "too-long")      # their names are fixed
         and (where, kind) != ("compare --out DIR", "symlink")]     # compare into another run: test_compare.py


@pytest.mark.parametrize("where, kind", CASES, ids=[f"{w} <- {k}" for w, k in CASES])
def test_a_hostile_input_path_is_one_line_and_changes_nothing(where, kind, trained, tmp_path, capsys):
    work = tmp_path / "work"
    work.mkdir()
    run, data = _copy_run(trained, work)
    data = Path(shutil.copytree(data, work / "data"))
    argv, name = INPUTS[where](work, run, data, kind)
    before = snapshot(tmp_path)
    if kind == "unreadable":  # root reads anything: run without the capabilities that bypass permissions
        done = subprocess_cli(argv, drop_caps=True)
        rc, err = done.returncode, done.stderr
    else:
        rc, err = in_process(argv, capsys)
    if (kind == "symlink" and where in WRITES_INTO_A_LINKED_RUN) or (
            kind == "directory" and where in SUCCEEDS_IN_AN_EMPTY_DIRECTORY):
        assert rc == 0, err
        return
    if kind == "symlink" and where in SUCCEEDS_THROUGH_A_LINK:
        assert rc == 0, err
        elsewhere = tmp_path / "elsewhere"
        assert {k: v for k, v in snapshot(tmp_path).items() if k.startswith(str(elsewhere))} == \
               {k: v for k, v in before.items() if k.startswith(str(elsewhere))}   # never written through
        return
    assert_one_line(rc, err, names=name)
    print(f"{where} <- {kind}: {err.strip().replace(str(tmp_path), '<tmp>').replace(LONG, 'n' * 9 + '...')}")
    for path, kind_before in before.items():  # nothing changed; a command may only have left nothing behind
        assert snapshot(tmp_path).get(path) == kind_before, path
    assert set(snapshot(tmp_path)) == set(before)


# ----------------------------------------------------------------------------- family B: nothing lost or mislabelled

def test_out_refuses_a_non_empty_directory_that_is_not_a_run(trained, tmp_path, capsys):
    _, data = trained
    mine = tmp_path / "my-project"
    mine.mkdir()
    for name, content in (("curves.png", b"my own figure"), ("history.csv", b"my,data\n"),
                          (".notes.tmp-1", b"a user's temp file"), (".curves.png.tmp-42", b"looks like ours")):
        (mine / name).write_bytes(content)
    before = snapshot(tmp_path)
    rc, err = in_process([*TRAIN, "--data-dir", str(data), "--out", str(mine)], capsys)
    assert_one_line(rc, err, names="is not empty and is not a rowrnn run (it holds '.curves.png.tmp-42' and 3 more): "
                                   "choose a new or empty directory for --out")
    assert snapshot(tmp_path) == before


def test_cleanup_removes_only_rowrnn_temporaries_by_exact_name(trained, tmp_path, capsys):
    run, data = _copy_run(trained, tmp_path)
    ours = run / ".state.pt.tmp-99999"                  # a killed writer's temporary: removed
    theirs = [run / ".notes.tmp-1", run / ".my.state.pt.tmp-3", run / ".state.pt.tmp-x", run / "state.pt.tmp-7"]
    for p in [ours, *theirs]:
        p.write_bytes(b"x")
    rc, err = in_process(["train", "--resume", str(run), "--quiet", "--no-figures", "--data-dir", str(data)], capsys)
    assert rc == 0, err
    assert not ours.exists() and all(p.read_bytes() == b"x" for p in theirs)
    assert not (run / ".lock").exists()                 # the lock file goes with its holder


def test_evaluating_other_weights_never_rewrites_the_training_record(trained, tmp_path, capsys):
    from rowrnn.runs import run_status
    run, data = _copy_run(trained, tmp_path)
    record = (run / "metrics.json").read_bytes()
    for argv in (["evaluate", str(run / "last.safetensors")], ["evaluate", str(run), "--weights", "last"],
                 ["evaluate", str(run), "--tta", "flip"], ["evaluate", str(run), "--weights", "last", "--save"]):
        rc, err = in_process([*argv, "--data-dir", str(data)], capsys)
        assert rc == 0, err
        assert (run / "metrics.json").read_bytes() == record, argv
    assert json.loads((run / "metrics-last.json").read_text())["weights"] == "last"
    assert run_status(run) == "finished"


def test_evaluate_save_writes_one_file_per_weights_and_options(trained, tmp_path, capsys):
    run, data = _copy_run(trained, tmp_path)
    shutil.copy(run / "last.safetensors", run / "best@tta-flip.safetensors")   # names chosen to collide
    shutil.copy(run / "last.safetensors", run / "best-tta-flip.safetensors")
    shutil.copy(run / "last.safetensors", run / "a b%.safetensors")
    saved = {}
    for argv, name in ((["evaluate", str(run), "--tta", "flip"], "metrics-best@tta-flip.json"),
                       (["evaluate", str(run / "best@tta-flip.safetensors")], "metrics-best%40tta-flip.json"),
                       (["evaluate", str(run / "best-tta-flip.safetensors")], "metrics-best-tta-flip.json"),
                       (["evaluate", str(run / "best-tta-flip.safetensors"), "--tta", "flip"],
                        "metrics-best-tta-flip@tta-flip.json"),
                       (["evaluate", str(run / "a b%.safetensors")], "metrics-a%20b%25.json"),
                       (["evaluate", str(run), "--weights", "last", "--tta", "flip"], "metrics-last@tta-flip.json")):
        rc, err = in_process([*argv, "--save", "--data-dir", str(data)], capsys)
        assert rc == 0, err
        saved[name] = json.loads((run / name).read_text())
    assert [(m["weights"], m.get("tta")) for m in saved.values()] == [
        ("best", "flip"), ("best@tta-flip", None), ("best-tta-flip", None), ("best-tta-flip", "flip"),
        ("a b%", None), ("last", "flip")]
    from rowrnn.runs import is_run_file
    assert all(is_run_file(name) for name in saved) and not is_run_file("metrics-a b.json")


@pytest.mark.parametrize("argv, fix", [
    (["evaluate", "{run}", "--save"], "wait for it to finish and run this again"),
    (["plot", "{run}"], "wait for it to finish and run this again"),
    (["export", "{run}"], "wait for it to finish and run this again, or export elsewhere with --out"),
    (["train", "--resume", "{run}"], "wait for it to finish and run this again, or choose another --out"),
])
def test_a_lock_message_names_only_flags_the_command_has(trained, tmp_path, capsys, argv, fix):
    from rowrnn.runs import RunLock
    run, data = _copy_run(trained, tmp_path)
    with RunLock(run, purpose="train"):
        rc, err = in_process([*(a.format(run=run) for a in argv), "--data-dir", str(data)], capsys)
    assert rc == 2 and err == f"rowrnn: error: {run} is in use by another rowrnn train (pid {os.getpid()}): {fix}\n"


@pytest.mark.parametrize("output, message", [
    ("run/reading.png", "reading.png: is one of the run's own files"),
    ("run/best.safetensors", "best.safetensors: give a file name ending in .png"),
    ("photo.png", "photo.png: is also an input of this command"),
    ("fifo.png", "fifo.png: exists and is not a regular file"),
])
def test_an_output_flag_never_overwrites_a_runs_file_or_an_input(trained, tmp_path, capsys, output, message):
    run, data = _copy_run(trained, tmp_path)
    shutil.copy(Path(__file__).resolve().parents[1] / "src/rowrnn/examples/boot-on-white.png", tmp_path / "photo.png")
    os.mkfifo(tmp_path / "fifo.png")
    before = snapshot(tmp_path)
    rc, err = in_process(["predict", str(run), str(tmp_path / "photo.png"), "--explain", str(tmp_path / output)],
                         capsys)
    assert_one_line(rc, err, names=message)
    assert snapshot(tmp_path) == before


def test_writing_a_figure_replaces_a_link_never_its_target(trained, tmp_path, capsys):
    run, data = _copy_run(trained, tmp_path)
    precious = tmp_path / "precious.png"
    precious.write_bytes(b"someone's picture")
    (run / "curves.png").unlink(missing_ok=True)
    (run / "curves.png").symlink_to(precious)
    rc, err = in_process(["plot", str(run), "--data-dir", str(data)], capsys)
    assert rc == 0, err
    assert precious.read_bytes() == b"someone's picture"
    assert (run / "curves.png").is_file() and not (run / "curves.png").is_symlink()


def test_compare_refuses_to_write_its_leaderboard_into_a_run(trained, tmp_path, capsys):
    run, data = _copy_run(trained, tmp_path)
    before = snapshot(tmp_path)
    rc, err = in_process(["compare", "--presets", "notebook", "--out", str(run), "--data-dir", str(data)], capsys)
    assert_one_line(rc, err, names="holds a run: compare needs a directory of its own for its runs and leaderboard")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("flag, values", [("--presets", "notebook,tiny,notebook"), ("--seeds", "0,1,0")])
def test_compare_refuses_duplicates(tmp_path, capsys, flag, values):
    rc, err = in_process(["compare", flag, values, "--out", str(tmp_path / "cmp")], capsys)
    assert_one_line(rc, err, names=f"{flag} names {values.split(',')[0]} more than once: list each once")
    assert not (tmp_path / "cmp").exists()


# ----------------------------------------------------------------------------- family C: the world fails

def _namespaced(script: str, *args, timeout=300) -> subprocess.CompletedProcess:
    """Run a shell script in a private mount namespace (mounts vanish with it); needs root."""
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script, "sh", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PY": sys.executable})


def _can_mount() -> bool:
    try:
        return _namespaced("mount -t tmpfs -o size=4k tmpfs /mnt").returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


needs_mount = pytest.mark.skipif(os.geteuid() != 0 or not _can_mount(),
                                 reason="needs root and mount namespaces (unshare) for real read-only and full disks")


@needs_mount
@pytest.mark.parametrize("argv, code, message", [
    (["evaluate", "{run}"], 0, None),
    (["predict", "{run}", "--example", "boot-on-white"], 0, None),
    (["evaluate", "{run}", "--save"], 2, "cannot use it as a run directory (the file system is read-only)"),
    (["plot", "{run}"], 2, "cannot use it as a run directory (the file system is read-only)"),
    (["export", "{run}"], 2, "cannot use it as a run directory (the file system is read-only)"),
    (["train", "--resume", "{run}", "--quiet"], 2, "cannot use it as a run directory (the file system is read-only)"),
    (["predict", "{run}", "--example", "boot-on-white", "--explain", "{run}/why.png"], 2,
     "why.png: cannot write (the file system is read-only): choose a place on a writable file system"),
    (["train", "--out", "{run}/new", "--epochs", "1", "--quiet"], 2,
     "new: cannot use it as a run directory (the file system is read-only)"),
])
def test_a_read_only_file_system(trained, tmp_path, argv, code, message):
    run, data = _copy_run(trained, tmp_path)
    (tmp_path / "ro").mkdir()
    before = snapshot(tmp_path)
    command = " ".join(f"'{a.format(run=tmp_path / 'ro')}'" for a in argv)
    done = _namespaced(f'mount --bind "$1" "$2"; mount -o remount,bind,ro "$2"; '
                       f'"$PY" -m rowrnn {command} --data-dir "$3" {"--no-verify" if argv[0] == "train" else ""}',
                       str(run), str(tmp_path / "ro"), str(data))
    if code == 0:
        assert done.returncode == 0, done.stderr
    else:
        assert_one_line(done.returncode, done.stderr, names=message)
    assert snapshot(tmp_path) == before


@needs_mount
@pytest.mark.parametrize("size", ["4k", "40k", "100k", "400k"])
def test_a_full_disk_leaves_no_temporary_lock_or_broken_run(trained, tmp_path, size):
    """Training into a small tmpfs fails at some write (the claim, a checkpoint, a figure): one line, and
    the directory holds either nothing or a run that `--resume` can continue."""
    _, data = trained
    (tmp_path / "full").mkdir()
    done = _namespaced(
        'mount -t tmpfs -o size="$1" tmpfs "$2"; set +e; '
        '"$PY" -m rowrnn train --out "$2/run" --data-dir "$3" --no-verify --epochs 3 --batch-size 64 --quiet '
        '--hidden-size 64 --cell gru; echo "exit=$?" >&2; '
        'find "$2" -mindepth 1 -printf "%P\\n" >&2; '
        'if [ -f "$2/run/config.json" ]; then "$PY" -c "import sys; from rowrnn.runs import run_status; '
        'print(\'status=\' + run_status(sys.argv[1]))" "$2/run" >&2; fi',
        size, str(tmp_path / "full"), str(data))
    lines = done.stderr.strip().splitlines()
    exit_line = next(line for line in lines if line.startswith("exit="))
    errors = lines[:lines.index(exit_line)]
    left = [line for line in lines[lines.index(exit_line) + 1:] if not line.startswith("status=")]
    assert exit_line == "exit=2", done.stderr
    assert len(errors) == 1 and "no space left on the device" in errors[0] and "Traceback" not in errors[0], errors
    assert not [name for name in left if ".tmp-" in name or name.endswith(".lock")], left
    if "run/config.json" in left:
        assert any(line in ("status=started", "status=trained") for line in lines), done.stderr
    else:
        assert left == [], left   # nothing claimed, nothing left


def test_an_unwritable_run_directory_is_one_line(trained, tmp_path):
    run, data = _copy_run(trained, tmp_path)
    run.chmod(0o555)
    try:
        before = snapshot(tmp_path)
        done = subprocess_cli(["plot", str(run), "--data-dir", str(data)], drop_caps=True)
        assert_one_line(done.returncode, done.stderr, names="cannot use it as a run directory (permission denied)")
        assert snapshot(tmp_path) == before
    finally:
        run.chmod(0o755)


@pytest.mark.parametrize("argv", [["summary", "--verbose"], ["evaluate", "{run}", "--json"]])
def test_a_closed_pipe_ends_quietly(trained, argv):
    run, data = trained
    proc = subprocess.Popen([sys.executable, "-m", "rowrnn", *[a.format(run=run) for a in argv]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    proc.stdout.close()                       # the reader is gone before the first line (`| head -c0`)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 128 + signal.SIGPIPE and err == ""


def _slow_training(data, out):
    return [sys.executable, "-m", "rowrnn", "train", "--data-dir", str(data), "--no-verify", "--epochs", "200",
            "--batch-size", "16", "--hidden-size", "64", "--cell", "lstm", "--out", str(out)]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("delay", [0.15, 0.5, 1.5, 4.0])
def test_a_signal_at_any_moment_is_one_line_and_leaves_a_clean_directory(trained, tmp_path, signum, delay):
    _, data = trained
    out = tmp_path / "run"
    proc = subprocess.Popen(_slow_training(data, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    time.sleep(delay)
    proc.send_signal(signum)
    err = proc.stderr.read()
    assert_one_line(proc.wait(timeout=120), err, code=128 + signum)
    assert "interrupted" in err
    if out.exists():  # claimed: a run to resume, never a half-written file or a held lock
        from rowrnn.runs import load_run
        assert load_run(out).status == "started"
        assert not [p.name for p in out.iterdir() if ".tmp-" in p.name or p.name == ".lock"]
        if (out / "state.pt").exists():
            assert f"resume with `rowrnn train --resume {out}`" in err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_compare_stops_its_trainings_too(trained, tmp_path, signum):
    _, data = trained
    out = tmp_path / "cmp"
    proc = subprocess.Popen([sys.executable, "-m", "rowrnn", "compare", "--presets", "fast,bilstm", "--seeds", "0",
                             "--epochs", "50", "--parallel", "2", "--out", str(out), "--data-dir", str(data),
                             "--no-verify"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    end = time.monotonic() + 120
    while not all((out / f"{p}-seed0" / "state.pt").exists() for p in ("fast", "bilstm")):  # both training
        assert proc.poll() is None and time.monotonic() < end, proc.stderr.read() if proc.poll() is not None else ""
        time.sleep(0.1)
    proc.send_signal(signum)
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 128 + signum
    assert err.strip().splitlines()[-1].startswith(f"rowrnn: error: interrupted by {signal.Signals(signum).name}")
    assert "Traceback" not in err
    alive = [pid for pid in os.listdir("/proc") if pid.isdigit() and str(out).encode() in _cmdline(pid)]
    assert alive == [], "trainings kept running after compare stopped"
    for preset in ("fast", "bilstm"):
        from rowrnn.runs import load_run
        run = out / f"{preset}-seed0"
        assert load_run(run).status == "started" and not [p for p in run.iterdir() if ".tmp-" in p.name]


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.parametrize("env, message", [
    ({"RANK": "1"}, "RANK=1 is set, but this is not a torchrun launch (missing WORLD_SIZE MASTER_ADDR MASTER_PORT)"),
    ({"WORLD_SIZE": "2"}, "WORLD_SIZE=2 is set, but this is not a torchrun launch (missing RANK MASTER_ADDR MASTER_PORT)"),
    ({"RANK": "zero", "WORLD_SIZE": "2"}, "RANK='zero' is not an integer: unset it, or launch with torchrun"),
])
def test_torchrun_variables_outside_torchrun_are_one_line(trained, tmp_path, env, message):
    _, data = trained
    done = subprocess_cli([*TRAIN, "--data-dir", str(data), "--out", str(tmp_path / "run")],
                          env={k: v for k, v in env.items()})
    assert_one_line(done.returncode, done.stderr, names=message)
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- family D: absurd sizes

LIMIT = "over the limit of 100,000,000: choose a smaller --hidden-size or --num-layers"


@pytest.mark.parametrize("argv, message", [
    ([*TRAIN, "--hidden-size", "1000000000"], "the model would have 1e+18 parameters, " + LIMIT),
    ([*TRAIN, "--num-layers", "100000000"], "the model would have 1.44e+10 parameters, " + LIMIT),
    (["summary", "--hidden-size", "1000000000"], "the model would have 1e+18 parameters, " + LIMIT),
    (["summary", "--num-layers", "100000000", "--cell", "lstm"], "the model would have 5.76e+10 parameters, " + LIMIT),
    ([*TRAIN, "--hidden-size", "4096", "--cell", "lstm", "--batch-size", "100000"],
     "a training step would need about 429 GiB, over the limit of 32 GiB: choose a smaller --batch-size"),
])
def test_absurd_sizes_are_refused_before_anything_is_allocated(tmp_path, capsys, argv, message):
    start = time.monotonic()
    rc, err = in_process([*argv, "--out", str(tmp_path / "run")] if argv[0] == "train" else argv, capsys)
    assert_one_line(rc, err, names=message)
    assert time.monotonic() - start < 30 and not (tmp_path / "run").exists()  # not minutes of allocation


def test_an_absurd_size_in_a_hand_edited_run_is_refused_for_resume_and_compare(trained, tmp_path, capsys):
    run, data = _copy_run(trained, tmp_path / "cmp")
    run = run.rename(tmp_path / "cmp" / "notebook-seed0")
    cfg = json.loads((run / "config.json").read_text())
    cfg["model"]["hidden_size"] = 10**9
    (run / "config.json").write_text(json.dumps(cfg))
    for argv in (["train", "--resume", str(run)], ["evaluate", str(run)],
                 ["compare", "--presets", "notebook", "--out", str(run.parent), "--data-dir", str(data)]):
        rc, err = in_process(argv, capsys)
        assert_one_line(rc, err, names="config.json: the model would have 1e+18 parameters, " + LIMIT)


def test_images_and_runs_may_follow_an_option(trained, tmp_path, capsys):
    """`rowrnn predict RUN --fit none a.png b.png` is what a newcomer types after reading --help; argparse alone
    called a.png and b.png 'unrecognized arguments'. Interleaved, the answer is the same as in the usual order."""
    from PIL import Image

    from rowrnn.cli import _parse_intermixed, build_parser
    run, _ = trained
    shirt, bag = tmp_path / "shirt.png", tmp_path / "bag.png"
    Image.new("L", (40, 60), 230).save(shirt)
    Image.new("L", (50, 50), 30).save(bag)
    assert main(["predict", str(run), str(shirt), str(bag), "--top", "2", "--fit", "none"]) == 0
    usual = capsys.readouterr()
    assert main(["predict", str(run), "--top", "2", str(shirt), "--fit", "none", str(bag)]) == 0
    mixed = capsys.readouterr()
    assert mixed.out == usual.out and mixed.err == usual.err == ""
    assert [line.split(":")[0] for line in mixed.out.splitlines()] == [str(shirt), str(bag)]
    args = _parse_intermixed(build_parser(), ["serve", "a", "--port", "0", "b"])
    assert (args.runs, args.port) == ([Path("a"), Path("b")], 0)
    with pytest.raises(SystemExit) as stop:
        main(["predict", str(run), "--json", str(shirt), "--bogus"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == (f"rowrnn: error: unrecognized arguments: {shirt} --bogus "
                                       "(see rowrnn --help)\n")


def test_predict_files_takes_one_path_or_a_list_and_refuses_none(trained, tmp_path):
    """rowrnn.predict_files(run, "shirt.png") iterated the name's characters ("/: is a directory"), and an
    empty list ended in torch's RuntimeError; one path is one file, no files is one line naming `images`."""
    from PIL import Image

    import rowrnn
    run, _ = trained
    shirt = tmp_path / "shirt.png"
    Image.new("L", (40, 60), 230).save(shirt)
    listed = rowrnn.predict_files(run, [shirt], top=2)
    assert len(listed) == 1 and len(listed[0]) == 2
    assert rowrnn.predict_files(run, str(shirt), top=2) == listed
    assert rowrnn.predict_files(run, shirt, top=2) == listed
    for empty in ([], ()):
        with pytest.raises(rowrnn.RowrnnError) as e:
            rowrnn.predict_files(run, empty)
        assert str(e.value) == "images is empty: give a list of image files, e.g. ['shirt.jpg']"


def test_explain_into_a_missing_folder_fails_before_any_answer(trained, tmp_path, capsys):
    """The answers were printed, then the figure could not be written: exit 2 after a full stdout. Now the
    folder is checked first, and nothing is printed but the one line."""
    from PIL import Image
    run, _ = trained
    shirt = tmp_path / "shirt.png"
    Image.new("L", (40, 60), 230).save(shirt)
    out = tmp_path / "missing" / "why.png"
    assert main(["predict", str(run), str(shirt), "--explain", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"rowrnn: error: --explain {out}: the folder {out.parent} does not exist: "
                            "create it or choose another path\n")
    assert not out.parent.exists()


@pytest.mark.parametrize("as_json", [False, True])
def test_explain_with_a_cnn_fails_before_any_answer(trained, tmp_path, capsys, as_json):
    """A CNN has no step-by-step reading: the refusal came after the answers were printed (or the JSON)."""
    from PIL import Image
    _, data = trained
    cnn = tmp_path / "cnn"
    assert main([*TRAIN, "--preset", "cnn", "--hidden-size", "4", "--num-layers", "1", "--data-dir", str(data),
                 "--out", str(cnn)]) == 0
    shirt = tmp_path / "shirt.png"
    Image.new("L", (40, 60), 230).save(shirt)
    out = tmp_path / "why.png"
    capsys.readouterr()
    assert main(["predict", str(cnn), str(shirt), "--explain", str(out), *(["--json"] if as_json else [])]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "rowrnn: error: --explain shows how a recurrent model reads; this run is a CNN\n"
    assert not out.exists()
