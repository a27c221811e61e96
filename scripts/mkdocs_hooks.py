"""The docs site's content that lives elsewhere, put into the pages at build time so nothing is typed twice.

mkdocs.yml names this file under `hooks:`. A page asks for content with an HTML comment alone on its line:

    <!-- rowrnn:help -->                       every command's --help, from rowrnn.cli.build_parser (100 columns)
    <!-- rowrnn:notebook notebooks/en/01-simple-recurrent-networks.ipynb -->   a lesson, its committed outputs included
    <!-- rowrnn:include results/leaderboard.md -->                           a Markdown file of the repository
    <!-- rowrnn:table benchmarks/README.md "## `rowrnn serve`: start-up and latency" -->   the first table under a heading
    <!-- rowrnn:table results/leaderboard.md -->                             the file's first table
    <!-- rowrnn:api -->                        a mkdocstrings block for every public name of rowrnn, by module

An unknown marker, a missing file or a missing heading fails the build. The code documented is this checkout's
src/ (put first on sys.path), not whichever rowrnn happens to be installed. The figures of results/ are added to
the site under results/, so a page links them as ../results/leaderboard.png.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shlex
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

MARKER = re.compile(r"^<!-- rowrnn:(\w+)(.*?)-->[ \t]*$", re.MULTILINE)
HELP_COLUMNS = "100"          # the width tests/golden/help/*.txt are rendered at
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# names documented beside rowrnn's top-level exports: the functions the pages send readers to
API_EXTRA = {
    "pixels": ("model_input",),
    "state_dicts": ("fit_state_dict",),
    "reading": ("reading_view",),
    "compare": ("published_leaderboard",),
    "guard": ("Limits",),
}


def _repo_file(argument: str, page) -> Path:
    path = (ROOT / argument).resolve()
    if ROOT not in path.parents or not path.is_file():
        raise PluginError(f"{page.file.src_uri}: no file {argument} in the repository")
    return path


def command_help() -> str:
    """`rowrnn --help` and each command's, as the parser prints them at 100 columns, under a heading each."""
    from rowrnn.cli import build_parser

    saved = {key: os.environ.get(key) for key in ("COLUMNS", "PYTHON_COLORS", "NO_COLOR")}
    os.environ.update(COLUMNS=HELP_COLUMNS, PYTHON_COLORS="0", NO_COLOR="1")
    try:
        parser = build_parser()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parts = [("rowrnn", parser)] + [(f"rowrnn {name}", p) for name, p in sub.choices.items()]
        blocks = [f"### `{title}`\n\n```text\n{ANSI.sub('', p.format_help()).rstrip()}\n```\n" for title, p in parts]
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return "\n".join(blocks)


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def _fence(text: str, language: str) -> str:
    text = ANSI.sub("", text).rstrip("\n")
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{language}\n{text}\n{ticks}\n"


def _output(output: dict) -> str:
    kind = output["output_type"]
    if kind == "stream":
        return _fence(_text(output["text"]), "text")
    if kind == "error":
        return _fence("\n".join(output.get("traceback", [])), "text")
    data = output.get("data", {})
    if "image/png" in data:
        png = _text(data["image/png"]).replace("\n", "")
        base64.b64decode(png, validate=True)            # a damaged picture fails the build, not the page
        return f'<p class="rowrnn-output"><img alt="output" src="data:image/png;base64,{png}"></p>\n'
    if "text/html" in data:
        return f'<div class="rowrnn-output" markdown="0">\n{_text(data["text/html"]).strip()}\n</div>\n'
    if "text/plain" in data:
        return _fence(_text(data["text/plain"]), "text")
    return ""


def notebook(path: Path) -> str:
    """A committed notebook as Markdown: its text cells as written, code as Python blocks, outputs as they are."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    parts = []
    for cell in cells:
        source = _text(cell["source"])
        if cell["cell_type"] == "markdown":
            parts.append(source.strip() + "\n")
        elif cell["cell_type"] == "code":
            parts.append(_fence(source, "python"))
            parts.extend(filter(None, (_output(o) for o in cell.get("outputs", []))))
    return "\n".join(parts)


def table_under(path: Path, heading: str | None, page) -> str:
    """The first Markdown table in the section that starts with the line `heading` (None: in the file)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        start = lines.index(heading) + 1 if heading is not None else 0
    except ValueError:
        raise PluginError(f"{page.file.src_uri}: no line {heading!r} in {path.relative_to(ROOT)}") from None
    table = []
    for line in lines[start:]:
        if heading is not None and line.startswith("#") and not table:   # the section ended
            break
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    if not table:
        raise PluginError(f"{page.file.src_uri}: no table under {heading!r} in {path.relative_to(ROOT)}")
    return "\n".join(table) + "\n"


def api_reference() -> str:
    """`## rowrnn.module` and a mkdocstrings block for each public name it gives, in the package's order."""
    import rowrnn

    modules: dict[str, list[str]] = {}
    for module, names in rowrnn._EXPORTS.items():
        modules.setdefault(module, []).extend(names)
    for module, names in API_EXTRA.items():
        modules.setdefault(module, []).extend(names)
    parts = []
    for module, names in modules.items():
        parts.append(f"## `rowrnn.{module}`\n")
        parts.extend(f"::: rowrnn.{module}.{name}\n" for name in names)
    return "\n".join(parts)


def expand(match: re.Match, page) -> str:
    kind, argument = match.group(1), match.group(2).strip()
    if kind == "help" and not argument:
        return command_help()
    if kind == "api" and not argument:
        return api_reference()
    if kind == "notebook":
        return notebook(_repo_file(argument, page))
    if kind == "include":
        return _repo_file(argument, page).read_text(encoding="utf-8")
    if kind == "table":
        path, *heading = shlex.split(argument)
        if len(heading) > 1:
            raise PluginError(f"{page.file.src_uri}: {match.group(0)!r} names more than one heading")
        return table_under(_repo_file(path, page), heading[0] if heading else None, page)
    raise PluginError(f"{page.file.src_uri}: unknown marker {match.group(0)!r}")


def on_page_markdown(markdown, page, config, files):
    return MARKER.sub(lambda m: expand(m, page), markdown)


LANGUAGES = ("en", "es")


def pages_in_one_language(docs: Path) -> list[str]:
    """Pages that exist under one language's folder of docs/ and not under the other's."""
    trees = {lang: {p.relative_to(docs / lang).as_posix() for p in (docs / lang).rglob("*.md")} for lang in LANGUAGES}
    return sorted(f"{lang}/{page}" for lang in LANGUAGES for other in LANGUAGES if other != lang
                  for page in trees[lang] - trees[other])


def on_config(config):
    """Every page in both languages, or no site: the i18n plugin would fall back to English in silence."""
    missing = pages_in_one_language(Path(config.docs_dir))
    if missing:
        raise PluginError("pages in one language only (write the other language's page): " + ", ".join(missing))
    return config


def on_files(files, config):
    """results/'s figures, served under results/ in the site (one copy for both languages)."""
    for png in sorted((ROOT / "results").rglob("*.png")):
        uri = png.relative_to(ROOT).as_posix()
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, abs_src_path=str(png)))
    return files



ALTERNATE_LINK = re.compile(r'<link rel="alternate" href="[^"]*" hreflang="[^"]*">\n?')


def on_post_page(output, page, config):
    """Drop the <link rel="alternate" hreflang> tags of the head: Material fetches sitemap.xml beside each (meant
    for language roots, given pages by the i18n plugin), a 404 and a console error on every page. The language
    switch is the header's menu of plain links to the same page in the other language, which stays."""
    return ALTERNATE_LINK.sub("", output)
