"""The documentation site (issue 29): built strictly from docs/, the same pages in English and Spanish, nothing
fetched from another origin.

The trees are compared as tests/test_notebooks.py compares the lessons' translations: the same files, and in each
page the same headings level by level, both in the Markdown written by hand and in the HTML built from it (so the
content the hook includes, every --help, table, lesson and API entry, is compared too). The browser test serves
the built site from 127.0.0.1, aborts and records every request to another origin, and saves screenshots of two
pages in each language to tests/artifacts/ (ROWRNN_UPDATE_SCREENSHOTS=1 copies them to docs/assets/screenshots/,
where they are committed).
"""
import html
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
LANGUAGES = ("en", "es")
ARTIFACTS = Path(os.environ.get("ROWRNN_ARTIFACTS", Path(__file__).parent / "artifacts"))
SCREENSHOTS = DOCS / "assets" / "screenshots"
FENCE = re.compile(r"^(```+|~~~+)")
HTML_HEADING = re.compile(r"<h([1-6])[ >]")


def load_hooks():
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "scripts" / "mkdocs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def markdown_headings(text: str) -> list[int]:
    """The level of each ATX heading of a Markdown page, code blocks left out."""
    levels, fence = [], None
    for line in text.splitlines():
        match = FENCE.match(line)
        if match:
            fence = None if fence and match.group(1).startswith(fence) else (fence or match.group(1))
        elif fence is None and (heading := re.match(r"^(#{1,6}) ", line)):
            levels.append(len(heading.group(1)))
    return levels


def pages(lang: str) -> list[str]:
    return sorted(p.relative_to(DOCS / lang).as_posix() for p in (DOCS / lang).rglob("*.md"))


def markers(text: str) -> list[str]:
    """The page's include markers, with the notebook's language-specific file name reduced to its lesson."""
    found = re.findall(r"^<!-- rowrnn:(.*?)-->$", text, flags=re.MULTILINE)
    return [re.sub(r"notebook notebooks/(en|es)/(\d\d)-\S+", r"notebook \2", m.strip()) for m in found]


def test_every_page_exists_in_both_languages():
    assert pages("en") == pages("es")
    assert len(pages("en")) == 18
    assert load_hooks().pages_in_one_language(DOCS) == []


@pytest.mark.parametrize("page", pages("en"))
def test_each_page_has_the_same_headings_and_includes_in_both_languages(page):
    english, spanish = ((DOCS / lang / page).read_text(encoding="utf-8") for lang in LANGUAGES)
    assert markdown_headings(english) == markdown_headings(spanish)
    assert markers(english) == markers(spanish)


@pytest.mark.parametrize("page", pages("en"))
def test_the_same_figures_and_code_in_both_languages(page):
    """Figures and shell commands are the same files and lines; only the words around them are translated."""
    english, spanish = ((DOCS / lang / page).read_text(encoding="utf-8") for lang in LANGUAGES)
    figures = [re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text) for text in (english, spanish)]
    assert len(figures[0]) == len(figures[1])
    # a screenshot may be each language's own (X.png in English, X-spanish.png in Spanish; the serve page's
    # serve-numbers.png has serve-spanish.png); every other figure is the same file
    own = {"serve-spanish.png": "serve-numbers.png"}
    paired = [own.get(Path(f).name) and f.replace(Path(f).name, own[Path(f).name]) or f.replace("-spanish.png", ".png")
              for f in figures[1]]
    assert figures[0] == paired
    assert commands(english) == commands(spanish)


def commands(text: str) -> list[str]:
    """The command lines of a page's code blocks, their comments left out."""
    found, fence = [], None
    for line in text.splitlines():
        match = FENCE.match(line)
        if match:
            fence = None if fence and match.group(1).startswith(fence) else (fence or match.group(1))
        elif fence and (command := re.match(r"^(?:\$ )?((?:rowrnn|torchrun|bash|curl|pip|python) [^#]*)", line)):
            found.append(command.group(1).rstrip())
    return found


def test_the_hook_refuses_what_it_cannot_include(tmp_path):
    from mkdocs.exceptions import PluginError

    hooks = load_hooks()

    class Page:
        class file:
            src_uri = "en/x.md"

    with pytest.raises(PluginError, match="unknown marker"):
        hooks.on_page_markdown("<!-- rowrnn:helps -->", Page, None, None)
    with pytest.raises(PluginError, match="no file results/nothing.md in the repository"):
        hooks.on_page_markdown("<!-- rowrnn:include results/nothing.md -->", Page, None, None)
    with pytest.raises(PluginError, match="no line '## Nowhere' in benchmarks/README.md"):
        hooks.on_page_markdown('<!-- rowrnn:table benchmarks/README.md "## Nowhere" -->', Page, None, None)
    with pytest.raises(PluginError, match="no file ../etc/passwd"):
        hooks.on_page_markdown("<!-- rowrnn:include ../etc/passwd -->", Page, None, None)
    (tmp_path / "en").mkdir()
    (tmp_path / "es").mkdir()
    (tmp_path / "en" / "a.md").write_text("# a")
    (tmp_path / "es" / "b.md").write_text("# b")
    assert hooks.pages_in_one_language(tmp_path) == ["en/a.md", "es/b.md"]


def test_the_table_marker_takes_the_first_table_under_its_heading():
    hooks = load_hooks()
    table = hooks.table_under(ROOT / "benchmarks" / "README.md", "## `rowrnn serve`: start-up and latency", None)
    lines = table.splitlines()
    assert lines[0] == "| preset | steps | one image, all steps and hidden states: median ms | p90 ms | JSON bytes |"
    assert [line.split("|")[1].strip() for line in lines[2:]] == [
        "notebook", "stacked", "tiny", "fast", "bilstm", "cnn", "pixels", "permuted-pixels", "mingru"]
    leaderboard = hooks.table_under(ROOT / "results" / "leaderboard.md", None, None).splitlines()
    assert leaderboard == (ROOT / "results" / "leaderboard.md").read_text().splitlines()[:len(leaderboard)]


# ---------------------------------------------------------------------------------------------------- the build

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.fail("mkdocs is missing: pip install -e '.[docs]' (scripts/setup.sh does)")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    return out


def html_pages(site: Path, lang: str) -> list[str]:
    base = site / lang if lang != "en" else site
    skip = {"es", "assets", "search"}
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("index.html")
                  if lang != "en" or p.relative_to(base).parts[0] not in skip)


def article(page: Path) -> str:
    text = page.read_text(encoding="utf-8")
    return text[text.index("<article"):text.index("</article>")]


@pytest.mark.slow
def test_the_site_builds_strictly_with_the_same_pages_in_both_languages(site):
    assert html_pages(site, "en") == html_pages(site, "es")
    assert len(html_pages(site, "en")) == 18
    for page in html_pages(site, "en"):
        english, spanish = article(site / page), article(site / "es" / page)
        assert HTML_HEADING.findall(english) == HTML_HEADING.findall(spanish), page


@pytest.mark.slow
def test_the_built_pages_hold_what_the_hook_includes(site):
    from rowrnn.cli import build_parser

    cli = article(site / "command-line" / "index.html")
    action = next(a for a in build_parser()._actions if hasattr(a, "choices") and isinstance(a.choices, dict))
    for command in action.choices:                # every command the parser has, with its usage line
        assert f"usage: rowrnn {command}" in html.unescape(re.sub(r"<[^>]+>", "", cli)), command
    for lesson in ("01", "02", "03", "04", "05"):
        for lang in LANGUAGES:
            text = article(site / ("es/" if lang == "es" else "") / "lessons" / lesson / "index.html")
            assert text.count('src="data:image/png;base64,') >= 2, (lang, lesson)
    assert f">{lesson_title('es/01-redes-recurrentes-simples.ipynb')}<" in article(site / "es/lessons/01/index.html")
    api = article(site / "api" / "index.html")
    for name in ("rowrnn.lifecycle.fit", "rowrnn.training.train", "rowrnn.pixels.model_input", "rowrnn.widget.show_reading"):
        assert f'id="{name}"' in api, name
    board = (ROOT / "results" / "leaderboard.md").read_text().splitlines()[2]      # the first row: cnn
    first = [cell.strip() for cell in board.split("|")[1:-1]]
    for lang in LANGUAGES:                         # the leaderboard's own row, included, in both languages
        models = article(site / ("es/" if lang == "es" else "") / "better-models" / "index.html")
        cells = re.findall(r"<td[^>]*>(.*?)</td>", models)
        assert any(cells[i:i + len(first)] == [html.escape(c).replace("`", "") for c in first]
                   for i in range(len(cells))), lang
    sequential = (ROOT / "results" / "sequential-mnist.md").read_text().splitlines()
    for lang in LANGUAGES:                         # the sequential benchmarks' table, included whole: every row
        models = html.unescape(re.sub(r"<[^>]+>", "", article(
            site / ("es/" if lang == "es" else "") / "better-models" / "index.html")))
        for row in sequential[2:sequential.index("")]:
            cells = [cell.strip().replace("`", "") for cell in row.split("|")[1:-1]]
            assert "\n".join(cells) in models, (lang, cells)
    assert (site / "results" / "leaderboard.png").read_bytes() == (ROOT / "results" / "leaderboard.png").read_bytes()


# ---------------------------------------------------------------------------------------------------- the browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(site):
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
@pytest.mark.browser
def test_the_site_in_chromium_fetches_nothing_from_elsewhere(served):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does)")
    from playwright.sync_api import sync_playwright

    elsewhere, problems = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")

        def guard(route):
            if route.request.url.startswith(served) or route.request.url.startswith(("data:", "blob:")):
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
        page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))

        def visit(path, heading):
            page.goto(served + path)
            page.wait_for_load_state("networkidle")
            assert page.locator("article h1").first.inner_text().strip().rstrip("¶") == heading, path

        visit("", "rowrnn")
        visit("es/", "rowrnn")
        visit("api/", "Python API")
        assert page.locator('[id="rowrnn.lifecycle.fit"]').count() == 1
        visit("es/api/", "API de Python")
        visit("lessons/01/", lesson_title("en/01-simple-recurrent-networks.ipynb"))
        outputs = page.locator("article .rowrnn-output img")
        assert outputs.count() >= 5
        assert outputs.first.evaluate("img => img.complete && img.naturalWidth > 100")
        page.screenshot(path=str(shot("en-lesson")), full_page=False)
        visit("es/lessons/01/", lesson_title("es/01-redes-recurrentes-simples.ipynb"))
        page.screenshot(path=str(shot("es-lesson")), full_page=False)

        visit("command-line/", "The command line")
        # search, offline: Material's own index and lunr in a worker, from this origin
        page.locator("input.md-search__input").click()
        page.keyboard.type("recurrence", delay=30)      # typed: the search listens to key events
        page.wait_for_selector(".md-search-result__item", timeout=20000)
        assert page.locator(".md-search-result__item").count() >= 3
        page.keyboard.press("Escape")

        # the language switch, on this page: the same page in Spanish
        visit("better-models/", "Better models and the leaderboard")
        page.screenshot(path=str(shot("en-better-models")), full_page=False)
        page.locator(".md-header__option .md-select").first.hover()
        page.locator('a.md-select__link[hreflang="es"]').first.click()
        page.wait_for_load_state("networkidle")
        assert page.url == served + "es/better-models/"
        assert page.locator("article h1").first.inner_text().strip().rstrip("¶") == "Mejores modelos y la clasificación"
        page.screenshot(path=str(shot("es-better-models")), full_page=False)
        page.locator(".md-header__option .md-select").first.hover()
        page.locator('a.md-select__link[hreflang="en"]').first.click()
        page.wait_for_load_state("networkidle")
        assert page.url == served + "better-models/"
        browser.close()
    assert elsewhere == []
    assert problems == []
    if os.environ.get("ROWRNN_UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name in ("en-lesson", "es-lesson", "en-better-models", "es-better-models"):
            shutil.copyfile(shot(name), SCREENSHOTS / f"{name}.png")


def shot(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"docs-{name}.png"


def lesson_title(notebook: str) -> str:
    """The first line of a lesson's first cell, its title, without the '# '."""
    cell = json.loads((ROOT / "notebooks" / notebook).read_text(encoding="utf-8"))["cells"][0]
    return "".join(cell["source"]).splitlines()[0].removeprefix("# ").strip()
