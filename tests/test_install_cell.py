"""The lessons' install cell, run for real: its code (notebooks/lessons/common.py's INSTALL, as every lesson has
it) executed by a fresh virtual environment's python, with a real pip, offline.

Each environment is built to not lie: a new venv (no system site-packages, no user site, no pip configuration,
no PIP_* variables) sees this environment's packages through one .pth file, minus rowrnn and the packages of its
notebooks extra (every top-level file their RECORDs list is left out); pip may only read local wheels
(PIP_NO_INDEX, PIP_FIND_LINKS): the extra's wheels, downloaded once per session at the versions installed here,
and never a rowrnn wheel where rowrnn is already installed, so a cell that fetched rowrnn again would fail.
The working directory holds a folder named rowrnn (a git clone), which is not an installation.
"""
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import rowrnn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "notebooks"))
import build  # noqa: E402

pytestmark = pytest.mark.slow
VERSION = rowrnn.__version__
# the packages of rowrnn[notebooks], as this rowrnn's metadata lists them (the cell reads the same list)
EXTRA = [re.match(r"[\w.-]+", r)[0] for r in importlib.metadata.requires("rowrnn") if 'extra == "notebooks"' in r]


def _pip(python, *args, env=None, cwd=None):
    done = subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """(rowrnn's wheel, a folder with the notebooks extra's wheels and no rowrnn): rowrnn built from a copy of
    the sources (the working tree gets no build/ or egg-info), the extra downloaded at the versions installed
    here (pip's cache and configuration: PyPI in CI)."""
    tmp = tmp_path_factory.mktemp("install-cell")
    copy = tmp / "source"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (copy / name).write_bytes((ROOT / name).read_bytes())
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    _pip(sys.executable, "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp / "dist"),
         str(copy))
    wheel, = (tmp / "dist").glob("rowrnn-*.whl")
    extras = tmp / "extras"
    _pip(sys.executable, "download", "-q", "--no-deps", "-d", str(extras),
         *[f"{name}=={importlib.metadata.version(name)}" for name in EXTRA])
    assert sorted(p.name.split("-")[0] for p in extras.glob("*.whl")) == sorted(n.replace("-", "_") for n in EXTRA)
    return wheel, extras


def _environment(tmp_path: Path) -> tuple[Path, Path]:
    """(python, site-packages) of a new venv that sees this environment's packages except rowrnn and its
    notebooks extra."""
    venv = tmp_path / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    hidden = {".."}
    for name in ["rowrnn", *EXTRA]:
        hidden |= {f.parts[0] for f in importlib.metadata.distribution(name).files or []}
    shadow = tmp_path / "shadow"   # this environment's site-packages, a link per entry, minus the hidden ones
    shadow.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        # .pth files (rowrnn's editable finder among them) would only run from a site directory: left out
        # rowrnn's own entries by name too: its RECORD is read through this process's sys.path, which an earlier
        # test may have pointed at another rowrnn (a built wheel), leaving this environment's dist-info visible
        ours = re.match(r"(__editable__[._])?rowrnn([-_.].*)?$", entry.name, flags=re.IGNORECASE)
        if entry.name not in hidden and not ours and entry.suffix != ".pth" and entry.name != "__pycache__":
            (shadow / entry.name).symlink_to(entry)
    (site / "this-environment.pth").write_text(f"{shadow}\n")
    return python, site


def _env(**extra) -> dict:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("PIP_", "PYTHON", "ROWRNN_", "VIRTUAL_ENV"))}
    # PIP_NO_COMPILE=0 means --no-compile (pip reads a --no-* flag's variable as the value of what it negates):
    # no .pyc for pandas, which halves the time and changes nothing the cell does
    return {**base, "PIP_CONFIG_FILE": os.devnull, "PYTHONNOUSERSITE": "1", "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_COMPILE": "0", **extra}


def _run(python, code, env, cwd):
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def _imports(python, env, cwd) -> list[str]:
    """Where rowrnn and the extra's modules import from, and rowrnn's installed version."""
    code = ("import importlib.metadata, rowrnn, pandas, anywidget, ipykernel\n"
            "from rowrnn import show_reading\n"
            "print(importlib.metadata.version('rowrnn'))\n"
            "for m in (rowrnn, pandas, anywidget, ipykernel): print(m.__file__)")
    done = _run(python, code, env, cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.fixture
def clone(tmp_path) -> Path:
    """A working directory holding a folder named rowrnn, as a git clone beside the lessons would be."""
    cwd = tmp_path / "lessons"
    (cwd / "rowrnn" / "src" / "rowrnn").mkdir(parents=True)
    (cwd / "rowrnn" / "README.md").write_text("a clone, not an installation")
    return cwd


def _before(python, env, cwd) -> str:
    """What this venv has before the cell: rowrnn's version or None, and the extra's modules that import."""
    code = ("import importlib.metadata, importlib.util\n"
            "try: print(importlib.metadata.version('rowrnn'))\n"
            "except importlib.metadata.PackageNotFoundError: print(None)\n"
            "print([m for m in ('pandas', 'anywidget', 'ipykernel') if importlib.util.find_spec(m)])")
    done = _run(python, code, env, cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_with_rowrnn_but_not_its_extra_the_cell_installs_the_extra_for_that_rowrnn(wheels, tmp_path, clone):
    wheel, extras = wheels
    python, site = _environment(tmp_path)
    env = _env(PIP_FIND_LINKS=str(extras))   # the extra's wheels only: fetching rowrnn again would fail
    _pip(python, "install", "-q", "--no-deps", str(wheel), env=env)
    record = site / f"rowrnn-{VERSION}.dist-info" / "RECORD"
    stamp = record.stat().st_mtime_ns
    assert _before(python, env, clone) == f"{VERSION}\n[]\n"

    done = _run(python, build.common.INSTALL, env, clone)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"rowrnn {VERSION} found; installed its notebooks extra: {', '.join(EXTRA)}\n"
    assert done.stderr == ""
    version, *files = _imports(python, env, clone)
    assert version == VERSION and all(f.startswith(str(site)) for f in files), files
    assert record.stat().st_mtime_ns == stamp, "pip reinstalled rowrnn instead of using the one installed"

    log = tmp_path / "pip.log"   # run again, in both languages: nothing to do, and pip (which would log) not run
    for lang, says in (("en", "found, with its notebooks extra: nothing to install"),
                       ("es", "encontrado, con su extra notebooks: nada que instalar")):
        again = _run(python, build.source_of(("code", build.common.INSTALL), lang, "01"), _env(PIP_LOG=str(log)),
                     clone)
        assert (again.returncode, again.stdout, again.stderr) == (0, f"rowrnn {VERSION} {says}\n", "")
    assert not log.exists()


def test_without_rowrnn_the_cell_installs_rowrnn_with_its_extra_from_the_source_named(wheels, tmp_path, clone):
    wheel, extras = wheels
    python, site = _environment(tmp_path)
    env = _env(PIP_FIND_LINKS=str(extras), ROWRNN_INSTALL_FROM=str(wheel))
    assert _before(python, env, clone) == "None\n[]\n"

    done = _run(python, build.source_of(("code", build.common.INSTALL), "es", "02"), env, clone)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"rowrnn no estaba instalado; se instaló rowrnn[notebooks] desde {wheel}\n"
    assert done.stderr == ""
    version, *files = _imports(python, env, clone)
    assert version == VERSION and all(f.startswith(str(site)) for f in files), files
