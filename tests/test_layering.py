"""The layering is data (tests/layering.toml), checked here: every import of src/rowrnn/*.py between its modules,
function-level ones included, parsed with ast and held against the layers and the rules that must never break."""
import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "rowrnn"
RULES = tomllib.loads((ROOT / "tests" / "layering.toml").read_text())


def modules() -> set[str]:
    return {p.stem for p in PACKAGE.glob("*.py")}


def imports_of(source: str, known: set[str]) -> list[tuple[int, str]]:
    """(line, module) for every import of a rowrnn module in source, at any depth: `from .x import y`,
    `from . import x`, `from .x.y import z`, `import rowrnn.x`, `from rowrnn import x`, `from rowrnn.x import y`.
    A name that is no module of the package (`from . import __version__`) is an import of the package itself,
    "__init__"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level > 1:
                raise AssertionError(f"line {node.lineno}: an import from above the package (level {node.level})")
            if node.level == 1:
                parts = node.module.split(".") if node.module else []
            elif node.module and node.module.split(".")[0] == "rowrnn":
                parts = node.module.split(".")[1:]
            else:
                continue
            if parts:
                found.append((node.lineno, parts[0]))
            else:   # from . import a, b: each a submodule, or a name of the package
                found += [(node.lineno, a.name if a.name in known else "__init__") for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "rowrnn":
                    found.append((node.lineno, parts[1] if len(parts) > 1 else "__init__"))
    return found


def facade_imports(source: str) -> list[tuple[int, str]]:
    """The package's lazy re-exports: the keys of _EXPORTS and the names in _SUBMODULES (imported on first use
    through importlib, which no import statement shows)."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id == "_EXPORTS":
                found += [(node.lineno, name) for name in ast.literal_eval(node.value)]
            elif node.targets[0].id == "_SUBMODULES":
                found += [(node.lineno, name) for name in ast.literal_eval(node.value)]
    return found


def layer_of(rules: dict) -> dict[str, int]:
    return {name: int(level) for level, names in rules["layers"].items() for name in names}


def violations(importer: str, source: str, rules: dict, known: set[str], path: str) -> list[str]:
    """Every forbidden import in source (the module `importer`), as 'path:line: imports X: the rule'."""
    layers = layer_of(rules)
    found = imports_of(source, known) + (facade_imports(source) if importer == "__init__" else [])
    out = []
    for line, imported in found:
        if imported == importer:
            continue
        where = f"{path}:{line}: {importer} imports {imported}"
        for rule in rules["never"]:
            if (imported in rule["imported"] and ("*" in rule["importers"] or importer in rule["importers"])
                    and importer not in rule.get("allowed", [])):
                out.append(f"{where}: never: {rule['why']}")
        if importer == "__init__":
            continue   # the facade may re-export any module the [[never]] rules allow
        if imported in rules["exceptions"].get(importer, []):
            continue
        if imported not in layers:
            out.append(f"{where}: {imported} has no layer in tests/layering.toml")
        elif importer not in layers:
            out.append(f"{where}: {importer} has no layer in tests/layering.toml: give it one")
        elif layers[imported] >= layers[importer]:
            out.append(f"{where}: layer {layers[importer]} may import only lower layers, and {imported} is in "
                       f"layer {layers[imported]} (tests/layering.toml)")
    return out


def test_every_module_has_a_layer():
    missing = sorted(modules() - set(layer_of(RULES)) - {"__init__"})
    assert not missing, f"give these modules a layer in tests/layering.toml: {missing}"


def test_no_module_imports_what_the_layering_forbids():
    known = modules()
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        found += violations(path.stem, path.read_text(), RULES, known, str(path.relative_to(ROOT)))
    assert not found, "\n".join(found)


def test_every_exception_is_still_needed():
    """An exception no import uses any more is a loophole: drop it."""
    known = modules()
    used = {(p.stem, m) for p in PACKAGE.glob("*.py") for _, m in imports_of(p.read_text(), known)}
    stale = [(importer, m) for importer, names in RULES["exceptions"].items() for m in names
             if (importer, m) not in used]
    assert not stale, f"tests/layering.toml lists exceptions no module uses: {stale}"


# ----------------------------------------------------------------------------- the checker itself

KNOWN = {"cli", "models", "training", "plots", "runs", "constants", "errors", "data", "serve", "guard", "config"}


@pytest.mark.parametrize("importer, source, expected", [
    ("models", "def f():\n    from .training import train\n",
     ["models.py:2: models imports training: never: models.py holds nn.Modules only and imports nothing from "
      "training (STYLE.md)",
      "models.py:2: models imports training: layer 3 may import only lower layers, and training is in layer 8 "
      "(tests/layering.toml)"]),
    ("runs", "import os\nfrom . import cli\n",
     ["runs.py:2: runs imports cli: never: only the CLI parses and prints: no module imports it (STYLE.md: "
      "lower modules never import the CLI)",
      "runs.py:2: runs imports cli: layer 7 may import only lower layers, and cli is in layer 12 "
      "(tests/layering.toml)"]),
    ("plots", "import numpy\nimport rowrnn.data\n",
     ["plots.py:2: plots imports data: never: plotting takes arrays and histories, never paths (STYLE.md): it "
      "reads no file"]),
    ("data", "class A:\n    def f(self):\n        from rowrnn.guard import check\n",
     ["data.py:3: data imports guard: never: guard is serve's gatekeeper (hosts, origins, request limits) and "
      "nothing else's"]),
    ("constants", "from .errors import RowrnnError\n",
     ["constants.py:1: constants imports errors: layer 0 may import only lower layers, and errors is in layer 1 "
      "(tests/layering.toml)"]),
    ("runs", "from .models import build_model\nfrom .constants import CLASSES\nimport torch\n", []),
    ("cli", "from . import serve, runs\n", []),
    ("errors", "def f():\n    from .config import config_fields\n", []),     # an exception, with its reason
    ("config", "def f():\n    from .errors import python_names\n", []),
    ("runs", "from .newmodule import x\n",
     ["runs.py:1: runs imports newmodule: newmodule has no layer in tests/layering.toml"]),
])
def test_the_checker_names_file_line_and_rule(importer, source, expected):
    assert violations(importer, source, RULES, KNOWN | {"newmodule"}, f"{importer}.py") == expected


def test_the_checker_reads_every_kind_of_import():
    source = ("from .a import x\nfrom . import b, __version__\nimport rowrnn.c\nfrom rowrnn import d\n"
              "from rowrnn.e.f import g\nimport rowrnn\nimport torch.nn\nfrom torch import nn\n"
              "def f():\n    if True:\n        from .h import i\n")
    assert sorted(imports_of(source, {"a", "b", "d", "h"})) == [
        (1, "a"), (2, "__init__"), (2, "b"), (3, "c"), (4, "d"), (5, "e"), (6, "__init__"), (11, "h")]


def test_the_facade_may_not_re_export_the_cli():
    source = '_EXPORTS = {"models": ("RNNClassifier",), "cli": ("main",)}\n_SUBMODULES = ("plots",)\n'
    assert violations("__init__", source, RULES, KNOWN, "__init__.py") == [
        "__init__.py:1: __init__ imports cli: never: only the CLI parses and prints: no module imports it "
        "(STYLE.md: lower modules never import the CLI)"]
