"""What the lessons share: the cell kinds, the install cell, the credit, the Spanish class names, and the
translation of a code cell through a table.

A lesson (01.py, 02.py, 03.py) lists its CELLS: md(english, spanish) for text; code(source) and
params(source, quick) for code, written once in English. Its SPANISH table maps English fragments of those
code cells (comments, printed words, labels) to their Spanish; translate() applies it, in order.
"""
from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The install cell: an installed rowrnn *distribution* (a folder named rowrnn in the working directory, a git
# clone, is not one) gets the packages its own notebooks extra lists and lacks, pip resolving them against it;
# without rowrnn, rowrnn[notebooks] comes from the release these lessons were built with (the tag v<version> of
# the repository named in pyproject.toml), not from a branch that moves on. $ROWRNN_INSTALL_FROM names another
# source (a wheel, for a classroom without internet or a test); pip's own PIP_INDEX_URL, PIP_FIND_LINKS and
# PIP_NO_INDEX say where the other packages come from.
ROOT = HERE.parents[1]


def pinned_source() -> str:
    """The pip URL of this version's tag: git+<pyproject's Source URL>@v<src/rowrnn/_version.py's version>."""
    url = re.search(r'^Source = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.M)[1]   # [project.urls]
    version = re.search(r'^__version__ = "([^"]+)"$', (ROOT / "src/rowrnn/_version.py").read_text(), re.M)[1]
    return f"git+{url}@v{version}"


INSTALL = '''import importlib, importlib.metadata, os, pathlib, re, subprocess, sys

def installed(name):  # an installed distribution, not just a folder of that name (a git clone) next to this notebook
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None

def pip_install(requirement):
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", requirement])
    importlib.invalidate_caches()

version = installed("rowrnn")
if version is None:  # Colab, or a fresh environment: the release of these lessons, or $ROWRNN_INSTALL_FROM (a wheel)
    source = os.environ.get("ROWRNN_INSTALL_FROM") or "PINNED_SOURCE"
    pip_install("rowrnn[notebooks] @ " + (source if "://" in source else pathlib.Path(source).resolve().as_uri()))
    print(f"rowrnn not found; installed rowrnn[notebooks] from {source}")
else:  # what its notebooks extra lists and is missing; pip takes the versions from this rowrnn, not a download
    extra = [re.match(r"[\\w.-]+", r)[0] for r in importlib.metadata.requires("rowrnn") if 'extra == "notebooks"' in r]
    missing = [name for name in extra if installed(name) is None]
    if missing:
        pip_install(f"rowrnn[notebooks]=={version}")
        print(f"rowrnn {version} found; installed its notebooks extra: {', '.join(missing)}")
    else:
        print(f"rowrnn {version} found, with its notebooks extra: nothing to install")'''.replace(
    "PINNED_SOURCE", pinned_source())

CREDIT = {
    "en": ("The exercise comes from the notebook *Redes recurrentes — Implementando redes recurrentes simples* of "
           "the deep-learning course materials of the ETSISI, Universidad Politécnica de Madrid "
           "([github.com/blazaid/aprendizaje-profundo](https://github.com/blazaid/aprendizaje-profundo), licence "
           "CC BY-NC-SA). This lesson is written anew for rowrnn and shares no text with it."),
    "es": ("El ejercicio procede del cuaderno *Redes recurrentes — Implementando redes recurrentes simples* de los "
           "materiales del curso de aprendizaje profundo de la ETSISI, Universidad Politécnica de Madrid "
           "([github.com/blazaid/aprendizaje-profundo](https://github.com/blazaid/aprendizaje-profundo), licencia "
           "CC BY-NC-SA). Esta lección está escrita de nuevo para rowrnn y no comparte texto con él."),
}

# rowrnn.CLASSES in Spanish, as a line of code: a Spanish cell that shows class names defines it first. The names
# are rowrnn.datasets' (TABLE["fashion-mnist"].classes_es, what class_names_in(CLASSES, "es") gives and the
# widget's static picture draws) and web/i18n.js's: tests/test_widget_language.py pins the three equal
CLASES = '''CLASES = ["Camiseta/top", "Pantalón", "Jersey", "Vestido", "Abrigo",
          "Sandalia", "Camisa", "Zapatilla", "Bolso", "Botín"]   # utils.CLASSES, en español'''

# the install cell's comments and messages, in every lesson
SPANISH = {
    "# an installed distribution, not just a folder of that name (a git clone) next to this notebook":
        "# una distribución instalada, no solo una carpeta con ese nombre (un git clone) junto a este cuaderno",
    "# Colab, or a fresh environment: the release of these lessons, or $ROWRNN_INSTALL_FROM (a wheel)":
        "# Colab, o un entorno nuevo: la versión de estas lecciones, o $ROWRNN_INSTALL_FROM (un wheel)",
    "# what its notebooks extra lists and is missing; pip takes the versions from this rowrnn, not a download":
        "# lo que su extra notebooks pide y falta; pip toma las versiones de este rowrnn, sin descargarlo",
    "rowrnn not found; installed rowrnn[notebooks] from ":
        "rowrnn no estaba instalado; se instaló rowrnn[notebooks] desde ",
    "found; installed its notebooks extra: ": "encontrado; se instaló su extra notebooks: ",
    "found, with its notebooks extra: nothing to install": "encontrado, con su extra notebooks: nada que instalar",
}


def md(en: str, es: str) -> tuple:
    """A text cell, in both languages."""
    return ("markdown", {"en": en, "es": es})


def code(source: str) -> tuple:
    """A code cell, written once: the Spanish one is translate(source, the lesson's table)."""
    return ("code", source)


def params(source: str, quick: dict) -> tuple:
    """The lesson's cell of constants (tagged "parameters"); quick: the small values a quick run injects."""
    return ("parameters", source, quick)


def translate(source: str, table: dict) -> str:
    """source with every English fragment of table replaced by its Spanish, in the table's order."""
    for en, es in table.items():
        source = source.replace(en, es)
    return source


def verdict() -> tuple[str, str]:
    """The conclusion of lesson 03 in (English, Spanish), kept in notebooks/verdict.md."""
    text = (HERE.parent / "verdict.md").read_text()
    en, _, es = text.partition("<!-- es -->")
    return en.replace("<!-- en -->", "").strip(), es.strip()
