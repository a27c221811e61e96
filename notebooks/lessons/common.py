"""What the lessons share: the cell kinds, the install cell, the credit, the Spanish class names, and the
translation of a code cell through a table.

A lesson (01.py, 02.py, 03.py) lists its CELLS: md(english, spanish) for text; code(source) and
params(source, quick) for code, written once in English. Its SPANISH table maps English fragments of those
code cells (comments, printed words, labels) to their Spanish; translate() applies it, in order.
"""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

# The install cell asks for an installed rowrnn *distribution* and the modules the lessons import (its
# notebooks extra included): a folder named rowrnn in the working directory (a git clone) is not one.
INSTALL = '''import importlib.metadata, importlib.util, subprocess, sys

def installed(modules):
    try:  # an installed rowrnn, not just a folder named rowrnn (a git clone) next to this notebook
        importlib.metadata.distribution("rowrnn")
    except importlib.metadata.PackageNotFoundError:
        return False
    return all(importlib.util.find_spec(name) is not None for name in modules)

if not installed(["rowrnn.compare", "rowrnn.plots", "pandas", "torchmetrics", "anywidget"]):  # Colab, or a fresh environment
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                           "rowrnn[notebooks] @ git+https://github.com/rowrnn/rowrnn"])
    importlib.invalidate_caches()'''

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

# rowrnn.CLASSES in Spanish, as a line of code: a Spanish cell that shows class names defines it first
CLASES = '''CLASES = ["Camiseta/top", "Pantalón", "Jersey", "Vestido", "Abrigo",
          "Sandalia", "Camisa", "Zapatilla", "Bolso", "Botín"]   # utils.CLASSES, en español'''

# the install cell's comments, in every lesson
SPANISH = {
    "# an installed rowrnn, not just a folder named rowrnn (a git clone) next to this notebook":
        "# un rowrnn instalado, no solo una carpeta llamada rowrnn (un git clone) junto a este cuaderno",
    "# Colab, or a fresh environment": "# Colab, o un entorno nuevo",
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
