"""One line in every environment: odd locales, odd HOMEs and caches, names that are not UTF-8 or hold control
characters, missing optional extras. Each case runs the real `python -m rowrnn` in a controlled environment
and checks stderr exactly: one line (or nothing on success), no traceback, no warning from a library."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_dataset
from rowrnn.cli import main, one_line

pytestmark = pytest.mark.slow
DROP_CAPS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("environments")
    data = write_dataset(tmp / "data")
    run = tmp / "run"
    assert main(["train", "--no-verify", "--epochs", "1", "--batch-size", "64", "--quiet", "--no-figures",
                 "--data-dir", str(data), "--out", str(run)]) == 0
    return run, data


def rowrnn(argv, env=None, drop=(), cwd=None, caps=False):
    """python -m rowrnn argv with os.environ + env, minus the variables in drop; bytes arguments allowed."""
    base = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.run([*(DROP_CAPS if caps else []), sys.executable, "-m", "rowrnn", *argv],
                          capture_output=True, timeout=180, cwd=cwd,
                          env={**base, "OMP_NUM_THREADS": "1", **(env or {})})


def one_error_line(done, encoding="utf-8") -> str:
    err = done.stderr.decode(encoding, "strict")   # every byte rowrnn writes is in the output's encoding
    assert done.returncode == 2, err
    assert err.count("\n") == 1 and err.endswith("\n") and err.startswith("rowrnn: error: "), err
    return err[len("rowrnn: error: "):-1]


LOCALES = {
    "C without coercion": {"LC_ALL": "C", "LANG": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"},
    "Latin-1 output": {"PYTHONIOENCODING": "latin-1"},
    "POSIX": {"LC_ALL": "POSIX", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"},
}


@pytest.mark.parametrize("env", LOCALES.values(), ids=LOCALES)
def test_summary_prints_an_ascii_table_where_the_locale_lacks_box_drawing(env):
    done = rowrnn(["summary"], env=env, drop=("PYTHONIOENCODING", "LC_ALL", "LANG"))
    assert done.returncode == 0 and done.stderr == b""
    out = done.stdout.decode("ascii")                 # not one byte outside ASCII
    assert "|-RNN: 1-1                               [1, 28, 28]               [1, 28, 8]                304" in out
    assert "Total mult-adds: 8,602\n" in out and out.endswith("trainable parameters: 394\n")


@pytest.mark.parametrize("env", LOCALES.values(), ids=LOCALES)
def test_non_ascii_in_a_message_is_escaped_not_a_crash(env, tmp_path):
    done = rowrnn(["evaluate", str(tmp_path / "ejecución×→")], env=env, drop=("PYTHONIOENCODING", "LC_ALL", "LANG"))
    latin1 = "PYTHONIOENCODING" in env
    message = one_error_line(done, "latin-1" if latin1 else "ascii")
    # an ASCII locale decodes the name's UTF-8 bytes as undecodable bytes: they are shown as such (as ls -b does)
    name = "ejecución×\\u2192" if latin1 else "ejecuci\\xc3\\xb3n\\xc3\\x97\\xe2\\x86\\x92"
    assert message == f"{tmp_path}/{name}: no such run directory: give a directory that rowrnn train wrote"


def test_a_name_that_is_not_utf8_is_used_and_printed_with_escapes(trained, tmp_path):
    run, data = trained
    copy = tmp_path / "runs"
    copy.mkdir()
    target = os.fsencode(copy) + b"/r\xff"
    shutil.copytree(run, target.decode("utf-8", "surrogateescape"), ignore=shutil.ignore_patterns(".lock"))
    done = rowrnn(["evaluate", target, "--save"])
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    assert done.stdout.decode("ascii").splitlines()[-1] == f"saved {copy}/r\\xff/metrics-best.json"
    assert os.path.exists(target + b"/metrics-best.json")
    message = one_error_line(rowrnn(["evaluate", os.fsencode(copy) + b"/missing\xfe"]))
    assert message == f"{copy}/missing\\xfe: no such run directory: give a directory that rowrnn train wrote"
    out = target + b"/m\xff.onnx"                      # an output file whose name is not UTF-8
    done = rowrnn(["export", target, "--out", out])
    assert done.returncode == 0 and done.stderr == b"" and os.path.getsize(out) > 1000


@pytest.mark.parametrize("name, shown", [("a\nb", "a\\nb"), ("a\rb", "a\\rb"), ("x\x1b[31mred", "x\\x1b[31mred"),
                                         ("tab\there", "tab\\there"), ("line\u2028sep", "line\\u2028sep")])
def test_control_characters_in_a_path_are_escaped_in_the_one_line(tmp_path, capsys, name, shown):
    assert main(["evaluate", str(tmp_path / name)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"rowrnn: error: {tmp_path}/{shown}: no such run directory: give a directory that " \
                           "rowrnn train wrote\n"
    with pytest.raises(SystemExit) as e:                                   # argparse's own errors too
        main(["evaluate", str(tmp_path), "--data-dir", str(tmp_path), "--tta", name])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and err.startswith("rowrnn evaluate: error: argument --tta: ")


def test_one_line_escapes_exactly_what_would_break_a_line():
    assert one_line("plain ×→ ünïcode") == "plain ×→ ünïcode"
    assert one_line("a\nb\r\t\x00\x7f\x85\udcff") == "a\\nb\\r\\t\\x00\\x7f\\x85\\xff"


def _run_in(trained, tmp_path):
    run, _ = trained
    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns(".lock"))
    return copy


HOMES = ["read-only HOME", "XDG_CACHE_HOME is a file", "XDG_CONFIG_HOME is a file", "MPLCONFIGDIR is a file",
         "HOME does not exist"]


def _odd_home(kind: str, tmp_path: Path) -> dict:
    home = tmp_path / "home"
    home.mkdir()
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    if kind == "read-only HOME":
        home.chmod(0o555)
        return {"HOME": str(home)}
    if kind == "XDG_CACHE_HOME is a file":
        return {"HOME": str(home), "XDG_CACHE_HOME": str(a_file)}
    if kind == "XDG_CONFIG_HOME is a file":
        return {"HOME": str(home), "XDG_CONFIG_HOME": str(a_file)}
    if kind == "MPLCONFIGDIR is a file":
        return {"HOME": str(home), "MPLCONFIGDIR": str(a_file)}
    return {"HOME": str(tmp_path / "nowhere")}


@pytest.mark.parametrize("kind", HOMES)
def test_an_odd_home_or_cache_adds_nothing_to_stderr(trained, tmp_path, kind):
    run = _run_in(trained, tmp_path)
    env = _odd_home(kind, tmp_path)
    drop = ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "MPLCONFIGDIR")
    done = rowrnn(["plot", str(run)], env=env, drop=drop, caps=True)        # matplotlib draws five figures
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode()
    assert done.stdout.decode() == f"saved curves.png, predictions.png, confusion.png, reading.png, hidden.png in {run}\n"
    message = one_error_line(rowrnn(["evaluate", str(run), "--weights", "last", "--data-dir", str(tmp_path / "no")],
                                    env=env, drop=drop, caps=True))
    assert message.startswith(f"--data-dir {tmp_path / 'no'}: no such directory")


def test_matplotlibs_private_cache_is_ours_and_kept_between_runs(trained, tmp_path):
    run = _run_in(trained, tmp_path)
    env = _odd_home("read-only HOME", tmp_path)
    for _ in range(2):
        done = rowrnn(["plot", str(run)], env=env, drop=("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "MPLCONFIGDIR"),
                      caps=True)
        assert done.returncode == 0 and done.stderr == b""
    import tempfile
    private = Path(tempfile.gettempdir()) / f"rowrnn-matplotlib-{os.getuid()}"
    assert private.is_dir() and (private.stat().st_mode & 0o777) == 0o700 and private.stat().st_uid == os.getuid()


def _without(module: str, tmp_path: Path) -> dict:
    """An environment in which `import module` fails as it does when the package is not installed."""
    shadow = tmp_path / "shadow"
    (shadow / module).mkdir(parents=True)
    (shadow / module / "__init__.py").write_text(f"raise ModuleNotFoundError('No module named {module}')\n")
    return {"PYTHONPATH": os.pathsep.join([str(shadow), *filter(None, [os.environ.get("PYTHONPATH")])])}


@pytest.mark.parametrize("module, argv", [
    ("onnxruntime", ["predict", "--onnx", "{model}", "--example", "boot-on-white"]),
    ("onnx", ["export", "{run}", "--out", "{tmp}/m.onnx"]),
    ("onnxruntime", ["export", "{run}", "--out", "{tmp}/m.onnx"]),
])
def test_a_missing_extra_is_named_with_the_exact_pip_command(trained, tmp_path, module, argv):
    run = _run_in(trained, tmp_path)
    assert main(["export", str(run)]) == 0
    args = [a.format(model=run / "model.onnx", run=run, tmp=tmp_path) for a in argv]
    message = one_error_line(rowrnn(args, env=_without(module, tmp_path)))
    assert message == f"ONNX needs the {module} package: pip install 'rowrnn[onnx]'"
    assert not (tmp_path / "m.onnx").exists()
