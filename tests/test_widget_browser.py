"""rowrnn.show_reading in a real JupyterLab, started by the test, driven in Debian's Chromium with Playwright.

A notebook calls show_reading on a tiny run; the test runs its cell with the keyboard, moves the slider with the
keyboard, presses play, and checks what a learner sees against the model's own numbers. The screenshot goes to
tests/artifacts/widget-jupyterlab.png (or $ROWRNN_ARTIFACTS); docs/widget.png is a copy of one taken with a run
trained on the real data (ROWRNN_WIDGET_RUN=RUN uses that run instead of the tiny one).
JupyterLab on two shared cores can take a minute to start: every wait polls with a generous timeout.
"""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
import torch

from conftest import write_dataset
from rowrnn import runs
from rowrnn.cli import main
from rowrnn.data import load_split, normalize

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(os.environ.get("ROWRNN_ARTIFACTS", Path(__file__).parent / "artifacts"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT = 180          # seconds: JupyterLab's server, its page and a kernel on a loaded 2-core machine
TEST_INDEX = 0
SLIDER_STEP = 14          # the middle of the garment: the tiny run's bars there differ from its final ones


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(proc, url, log: Path, timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"jupyter lab did not answer {url} within {timeout} s")


@pytest.fixture(scope="module")
def lab(tmp_path_factory, real_data):
    """(notebook URL, run directory, CNN run directory, data folder): a notebook calling show_reading in a JupyterLab of its own."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does)")
    tmp = tmp_path_factory.mktemp("lab")
    run = os.environ.get("ROWRNN_WIDGET_RUN")
    data = write_dataset(tmp / "data")
    tiny = ["train", "--no-verify", "--epochs", "1", "--batch-size", "64", "--quiet", "--no-figures", "--data-dir",
            str(data)]
    if not run:                  # a tiny run on synthetic data, reading a real garment of the test split
        run = str(tmp / "tiny")
        assert main([*tiny, "--hidden-size", "6", "--out", run]) == 0
    cnn = str(tmp / "cnn")       # the second widget's second panel: a model with no steps
    assert main([*tiny, "--preset", "cnn", "--hidden-size", "4", "--num-layers", "1", "--out", cnn]) == 0
    root = tmp / "notebooks"
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(f"import rowrnn\nview = rowrnn.show_reading({run!r}, {TEST_INDEX}, "
                                          f"data_dir={str(real_data)!r})\nview"),
                nbformat.v4.new_code_cell('print("python sees step", view.step)'),
                nbformat.v4.new_code_cell('view.step = 3\nview.language = "es"'),
                nbformat.v4.new_code_cell(f"rowrnn.show_reading([{run!r}, {cnn!r}], {TEST_INDEX}, "
                                          f"data_dir={str(real_data)!r})")]
    nbformat.write(nb, root / "reading.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp / "home"                  # settings and workspaces of its own: nothing restored, nothing kept
    env = {**os.environ, "OMP_NUM_THREADS": "1", "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    # no "get notified about Jupyter news?" toast over the widget (nor a fetch of news from the internet)
    notification = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false"}))
    log = open(tmp / "jupyter-lab.log", "w")   # a file, not a pipe: a full pipe would stall the server
    proc = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
                             "--ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
                             "--LabApp.news_url=", "--allow-root"],       # root: a container's (CI's) user
                            stdout=subprocess.DEVNULL, stderr=log, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(proc, f"{base}/api/status?token={token}", tmp / "jupyter-lab.log")
        yield f"{base}/lab/tree/reading.ipynb?token={token}", Path(run), Path(cnn), real_data
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        log.close()


def _step_probabilities(run, data):
    """The model's own class probabilities after each step for the test image: (T, 10)."""
    model, _ = runs.load_model(run)
    image = load_split(data, "test").images[TEST_INDEX]
    with torch.no_grad():
        logits, _ = model.reading(normalize(image).reshape(1, 1, 28, 28))
    return logits[0].softmax(-1), model.num_steps


def _bars(panel):
    return [float(p) for p in panel.locator("[data-testid=bars] .bar").evaluate_all(
        "bars => bars.map((bar) => bar.dataset.p)")]


def _glimpse_row_colours(panel):
    """The colour of the glimpse canvas at the middle of each of the image's 28 rows (x at a quarter width)."""
    return panel.locator("[data-testid=glimpse]").evaluate("""(canvas) => {
        const context = canvas.getContext("2d"), cell = canvas.height / 28;
        return [...Array(28).keys()].map((r) => Array.from(
            context.getImageData(Math.floor(canvas.width / 4), Math.floor((r + 0.5) * cell), 1, 1).data.slice(0, 3)));
    }""")


def _run_cell(page, index, timeout=START_TIMEOUT):
    """Run a cell with Shift+Enter, as a person does; again if JupyterLab dropped the keys (a kernel still
    connecting leaves the cell unrun, its prompt "[ ]:"), until its prompt shows it queued or run."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputArea-prompt")
    deadline = time.monotonic() + timeout
    while True:
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_function("(e) => /\\[(\\*|\\d+)\\]/.test(e.textContent)", arg=prompt.element_handle(),
                                   timeout=15_000)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise


def _wait_for_python_step(page, step):
    """Until a cell's output is exactly "python sees step <step>" (view.step as the kernel has it)."""
    page.wait_for_function("(n) => [...document.querySelectorAll('.jp-OutputArea-output')]"
                           ".some((e) => e.textContent.trim() === 'python sees step ' + n)", arg=step, timeout=60_000)


def test_the_widget_reads_in_jupyterlab_and_its_slider_and_play_move_the_step(lab):
    from playwright.sync_api import sync_playwright
    url, run, cnn, data = lab
    probabilities, steps = _step_probabilities(run, data)
    moved = float((probabilities[SLIDER_STEP - 1] - probabilities[-1]).abs().max())
    assert moved > 0.01, f"the run's answer at step {SLIDER_STEP} is its final one (by {moved}): bars could not move"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            problems = []
            page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
            page.goto(url, timeout=START_TIMEOUT * 1000)
            page.wait_for_selector(".jp-Notebook .jp-Cell .jp-InputArea-editor", timeout=START_TIMEOUT * 1000)
            # the kernel is up when its status says idle (the first run of a cell otherwise waits in a queue)
            page.wait_for_function("""() => [...document.querySelectorAll('.jp-Toolbar-kernelStatus, '
                + '[data-status], .jp-Notebook-ExecutionIndicator')].some((e) => /idle/i.test(
                  (e.getAttribute('data-status') || '') + (e.getAttribute('title') || '') + e.textContent))""",
                                   timeout=START_TIMEOUT * 1000)
            _run_cell(page, 0)
            widget = page.locator("[data-testid=rowrnn-reading]").first
            widget.wait_for(timeout=START_TIMEOUT * 1000)
            panel = widget.locator("[data-testid=panel]")
            assert panel.count() == 1
            assert panel.locator("canvas[data-testid=glimpse]").count() == 1
            assert panel.locator("canvas[data-testid=steps-map]").count() == 1
            assert panel.locator("canvas[data-testid=hidden-map]").count() == 1
            # at first the whole reading: the bars are the model's final answer
            assert widget.get_attribute("data-step") == str(steps)
            assert widget.locator("[data-testid=step]").text_content() == f"step {steps} of {steps}"
            assert _bars(panel) == pytest.approx(probabilities[-1].tolist(), abs=1e-4)
            labels = panel.locator(".bar .label").all_text_contents()
            assert labels[:3] == ["T-shirt/top", "Trouser", "Pullover"] and len(labels) == 10

            # the slider, with the keys a person would press: Home (step 1), then right arrows
            slider = widget.locator("[data-testid=slider]")
            slider.focus()
            page.keyboard.press("Home")
            for _ in range(SLIDER_STEP - 1):
                page.keyboard.press("ArrowRight")
            page.wait_for_function("(n) => document.querySelector('[data-testid=rowrnn-reading]')"
                                   ".dataset.step === String(n)", arg=SLIDER_STEP, timeout=10_000)
            assert panel.get_attribute("data-step") == str(SLIDER_STEP)
            assert widget.locator("[data-testid=step]").text_content() == f"step {SLIDER_STEP} of {steps}"
            bars = _bars(panel)
            assert bars == pytest.approx(probabilities[SLIDER_STEP - 1].tolist(), abs=1e-4)
            assert bars != pytest.approx(probabilities[-1].tolist(), abs=1e-4)   # the bars moved
            # the outlined (amber) row of the glimpse is the step's row; the rows after it are dimmed
            colours = _glimpse_row_colours(panel)
            amber = [r for r, (red, green, blue) in enumerate(colours) if blue == 0 and red >= 90 and red > green]
            assert amber == [SLIDER_STEP - 1]
            assert all(red == green == blue for red, green, blue in colours[:SLIDER_STEP - 1])   # read: grey
            # the page's other views, drawn by the same render.js: the step axis marks the step, the recurrence's
            # numbers are those of the step, and which steps decided is shown beside the image
            assert panel.locator("[data-testid=steps-row-axis] .tick.current").text_content() == f"▸{SLIDER_STEP}"
            assert panel.locator("[data-testid=numbers]").is_visible()
            assert f"{SLIDER_STEP}" in panel.locator("[data-testid=numbers] .numbers-title").text_content()
            assert panel.locator(".attribution-figure").get_attribute("data-method") == "occlusion"
            assert panel.locator("[data-testid=decisive] li").count() == 3
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            widget.screenshot(path=str(ARTIFACTS / "widget-jupyterlab.png"))

            # a click on a row of the steps map goes to that step
            box = panel.locator("[data-testid=steps-map]").bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] * (7 - 0.5) / steps)
            page.wait_for_function("() => document.querySelector('[data-testid=rowrnn-reading]').dataset.step === '7'",
                                   timeout=10_000)
            assert _bars(panel) == pytest.approx(probabilities[6].tolist(), abs=1e-4)

            # play runs on to the last step, then stands ready to play again; Python hears the step
            widget.locator("[data-testid=play]").click()
            page.wait_for_function("() => document.querySelector('[data-testid=rowrnn-reading] [data-testid=play]')"
                                   ".textContent === 'Pause'", timeout=10_000)
            page.wait_for_function("(n) => document.querySelector('[data-testid=rowrnn-reading]')"
                                   ".dataset.step === String(n)", arg=steps, timeout=30_000)
            assert _bars(panel) == pytest.approx(probabilities[-1].tolist(), abs=1e-4)
            assert widget.locator("[data-testid=play]").text_content() == "Play"
            _run_cell(page, 1)
            _wait_for_python_step(page, steps)
            # play again, paused mid-way: Python hears the step where it paused
            widget.locator("[data-testid=play]").click()
            page.wait_for_function("() => Number(document.querySelector('[data-testid=rowrnn-reading]')"
                                   ".dataset.step) >= 5", timeout=30_000)
            widget.locator("[data-testid=play]").click()
            page.wait_for_function("() => document.querySelector('[data-testid=rowrnn-reading] [data-testid=play]')"
                                   ".textContent === 'Play'", timeout=10_000)
            paused = int(widget.get_attribute("data-step"))
            assert 5 <= paused < steps
            _run_cell(page, 1)
            _wait_for_python_step(page, paused)
            # Python moves the slider and switches the language: the widget follows, in the page's Spanish words
            _run_cell(page, 2)
            page.wait_for_function("() => document.querySelector('[data-testid=rowrnn-reading]').lang === 'es'",
                                   timeout=60_000)
            assert widget.get_attribute("data-step") == "3"
            assert widget.locator("[data-testid=step]").text_content() == f"paso 3 de {steps}"
            assert widget.locator("[data-testid=play]").text_content() == "Reproducir"
            assert panel.locator(".bar .label").all_text_contents()[:3] == ["Camiseta/top", "Pantalón", "Jersey"]
            assert _bars(panel) == pytest.approx(probabilities[2].tolist(), abs=1e-4)
            assert widget.locator("[data-testid=true-label]").text_content().startswith("Etiqueta real: ")
            # a second widget, two panels side by side, the second a CNN: one step, its final answer throughout;
            # the first widget stays as it was
            _run_cell(page, 3)
            second = page.locator("[data-testid=rowrnn-reading]").nth(1)
            second.wait_for(timeout=START_TIMEOUT * 1000)
            rnn_panel, cnn_panel = second.locator("[data-testid=panel]").all()
            cnn_model, _ = runs.load_model(cnn)
            image = load_split(data, "test").images[TEST_INDEX]
            with torch.no_grad():
                final = cnn_model(normalize(image).reshape(1, 1, 28, 28))[0].softmax(-1)
            assert second.get_attribute("data-step") == str(steps) and cnn_panel.get_attribute("data-step") == "1"
            assert _bars(cnn_panel) == pytest.approx(final.tolist(), abs=1e-4)
            assert not cnn_panel.locator("[data-testid=steps-map]").is_visible()
            assert cnn_panel.locator(".cnn-note").is_visible()
            second.locator("[data-testid=slider]").focus()
            page.keyboard.press("Home")
            page.wait_for_function("() => document.querySelectorAll('[data-testid=rowrnn-reading]')[1]"
                                   ".dataset.step === '1'", timeout=10_000)
            assert _bars(rnn_panel) == pytest.approx(probabilities[0].tolist(), abs=1e-4)
            assert _bars(cnn_panel) == pytest.approx(final.tolist(), abs=1e-4)
            assert widget.get_attribute("data-step") == "3" and widget.get_attribute("lang") == "es"
            page.screenshot(path=str(ARTIFACTS / "widget-jupyterlab-page.png"))
            assert problems == []
        except Exception:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "widget-jupyterlab-failure.png"))   # what was on screen
            raise
        finally:
            browser.close()
