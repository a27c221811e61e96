"""rowrnn serve in a real browser: Debian's Chromium driven by Playwright, with real mouse, touch and keys.

Each test leaves a screenshot in tests/artifacts/ (or $ROWRNN_ARTIFACTS). With ROWRNN_SERVE_RUNS=a,b the
page serves those runs instead of two trained here (the README's screenshot is taken that way).
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rowrnn.cli import main
from rowrnn.inference import example_images, load_image

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(os.environ.get("ROWRNN_ARTIFACTS", Path(__file__).parent / "artifacts"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# offline and headless, as the machine's probe ran it (no background connections to refuse)
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(real_data, tmp_path_factory):
    given = os.environ.get("ROWRNN_SERVE_RUNS")
    if given:
        run_dirs = given.split(",")
    else:  # two real (short) runs: the notebook's model and the fast bidirectional reader
        tmp = tmp_path_factory.mktemp("browser")
        run_dirs = [str(tmp / "notebook"), str(tmp / "fast")]
        common = ["train", "--data-dir", str(real_data), "--quiet", "--no-figures"]
        assert main([*common, "--epochs", "3", "--out", run_dirs[0]]) == 0
        assert main([*common, "--preset", "fast", "--epochs", "1", "--out", run_dirs[1]]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "rowrnn", "serve", *run_dirs, "--port", "0", "--data-dir",
                             str(real_data)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    line = proc.stdout.readline()
    match = re.search(r"http://[^/\s]+/", line)
    if not match:
        proc.kill()
        pytest.fail(f"rowrnn serve did not start: {line} {proc.stderr.read()}")
    yield match.group(0), [Path(p).name for p in run_dirs]
    proc.terminate()
    proc.communicate(timeout=30)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    url, _ = server
    context = browser.new_context(viewport={"width": 1500, "height": 1150}, has_touch=True, locale="en-US")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    yield page
    assert errors == [], f"JavaScript errors: {errors}"
    context.close()


def shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"serve-{name}.png"), full_page=True)


def wait_for_reading(page):
    page.wait_for_function("document.querySelectorAll('[data-testid=top3] li').length >= 3")
    return [page.locator("[data-testid=panel]").nth(i).locator("[data-testid=top3] li").first.inner_text()
            for i in range(page.locator("[data-testid=panel]").count())]


def canvas_pixel(page, selector, x, y, index=0):
    return page.evaluate("([s, i, x, y]) => Array.from(document.querySelectorAll(s)[i].getContext('2d')"
                         ".getImageData(x, y, 1, 1).data.slice(0, 3))", [selector, index, x, y])


def test_two_runs_make_two_panels(page, server):
    _, names = server
    panels = page.locator("[data-testid=panel]")
    assert panels.count() == 2
    for i, name in enumerate(names):
        assert panels.nth(i).locator(".name").inner_text() == name
        assert "parameters" in panels.nth(i).locator(".facts").inner_text()
    shot(page, "start")


def test_drawing_with_the_mouse_is_read(page):
    box = page.locator("[data-testid=draw-canvas]").bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + 60, y0 + 40)
    page.mouse.down()
    for x, y in [(220, 40), (230, 240), (150, 240), (140, 120), (130, 240), (50, 240), (60, 40)]:  # trousers
        page.mouse.move(x0 + x, y0 + y, steps=8)
    page.mouse.up()
    assert len(wait_for_reading(page)) == 2
    assert canvas_pixel(page, "#preview", 112, 24) != [0, 0, 0]       # the drawing, inverted, fills the top rows
    shot(page, "draw")


def test_drawing_with_a_finger_is_read(page):
    session = page.context.new_cdp_session(page)
    box = page.locator("[data-testid=draw-canvas]").bounding_box()

    def touch(kind, x, y):
        points = [] if kind == "touchEnd" else [{"x": box["x"] + x, "y": box["y"] + y}]
        session.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", 70, 60)
    for i in range(1, 16):
        touch("touchMove", 70 + 9 * i, 60 + 10 * i)
    touch("touchEnd", 0, 0)
    assert len(wait_for_reading(page)) == 2
    shot(page, "touch")


def test_an_uploaded_photo_is_converted_as_predict_does(page):
    example = example_images()["boot-on-white"]
    page.set_input_files("[data-testid=upload]", str(example))
    wait_for_reading(page)
    expected = load_image(example)
    for r, c in [(14, 14), (20, 5), (3, 3), (22, 20)]:
        assert canvas_pixel(page, "#preview", c * 8 + 4, r * 8 + 4) == [int(expected[r, c])] * 3
    shot(page, "upload")


def test_a_test_image_shows_its_true_label_and_a_prediction(page):
    page.fill("[data-testid=test-index]", "0")
    page.click("[data-testid=show-test]")
    page.wait_for_selector("[data-testid=true-label]:not([hidden])")
    assert page.inner_text("[data-testid=true-label]") == "True label: Ankle boot (test image 0)"
    assert len(wait_for_reading(page)) == 2
    # each bar is drawn as long as its probability: the leading one fills that fraction of its track
    page.wait_for_function("""() => { const bar = document.querySelector('[data-testid=panel] .bar.leading');
        const share = bar.querySelector('.fill').getBoundingClientRect().width /
                      bar.querySelector('.track').getBoundingClientRect().width;
        return Math.abs(share - Number(bar.dataset.p)) < 0.02 && share > 0.1; }""", timeout=5000)
    page.click("[data-testid=random-test]")
    page.wait_for_function("!document.querySelector('[data-testid=true-label]').textContent.endsWith('(test image 0)')")
    shot(page, "test-image")


def test_the_slider_and_play_replay_the_reading(page):
    page.fill("[data-testid=test-index]", "0")
    page.click("[data-testid=show-test]")
    wait_for_reading(page)
    rows = page.locator("[data-testid=panel]").first
    at_the_end = rows.locator(".bar").first.get_attribute("data-p")
    slider = page.locator("[data-testid=slider]")
    slider.focus()
    page.keyboard.press("Home")
    for _ in range(4):
        page.keyboard.press("ArrowRight")                      # step 5
    assert page.inner_text("[data-testid=step]") == "step 5 of 28"
    assert rows.get_attribute("data-step") == "5"
    assert rows.locator(".bar").first.get_attribute("data-p") != at_the_end
    r, g, b = canvas_pixel(page, ".glimpse", 56, 4 * 4 + 2)   # row 5 (the one being read) is outlined in amber
    assert b == 0 and r >= 90
    assert canvas_pixel(page, ".glimpse", 56, 20 * 4 + 2) != canvas_pixel(page, "#preview", 112, 20 * 8 + 4)
    shot(page, "slider")
    page.click("[data-testid=play]")
    page.wait_for_function("Number(document.querySelector('[data-testid=panel]').dataset.step) >= 20")
    page.wait_for_function("document.querySelector('[data-testid=step]').textContent === 'step 28 of 28'")
    assert rows.locator(".bar").first.get_attribute("data-p") == at_the_end


def test_a_bad_upload_shows_the_servers_message(page, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"these are my notes, not a picture")
    page.set_input_files("[data-testid=upload]", str(bad))
    page.wait_for_selector("[data-testid=error]:not([hidden])")
    message = page.inner_text("[data-testid=error]")
    assert message.startswith("The server says: the uploaded image: not an image PIL can read") and "Traceback" not in message
    shot(page, "bad-upload")


def test_the_page_speaks_spanish(page):
    page.fill("[data-testid=test-index]", "0")
    page.click("[data-testid=show-test]")
    wait_for_reading(page)
    page.click("[data-testid=lang-es]")
    assert page.inner_text("#reading-title") == "2. Mira cómo lee"
    assert page.inner_text("[data-testid=true-label]") == "Etiqueta real: Botín (imagen de test 0)"
    labels = page.locator("[data-testid=panel]").first.locator(".bar .label").all_inner_texts()
    assert labels[9] == "Botín" and labels[1] == "Pantalón"
    assert "parámetros" in page.locator("[data-testid=panel] .facts").first.inner_text()
    shot(page, "spanish")
    page.click("[data-testid=lang-en]")
    assert page.inner_text("#reading-title") == "2. Watch it read"
