"""rowrnn serve in Chromium on a run that is not Fashion-MNIST's (issue 28, item 3): scikit-learn's 8x8 digits as
an image folder. The page names the digit classes the server sends and reads the 8 steps of an 8x8 image."""
import re
import subprocess
import sys

import pytest

from rowrnn.cli import main
from test_browser import CHROMIUM, CHROMIUM_FLAGS, open_page, shot
from test_own_data import digits_folder

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DIGITS = [str(k) for k in range(10)]


@pytest.fixture(scope="module")
def digits_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-digits")
    folder, _ = digits_folder(tmp / "digits")
    run = tmp / "digits-gru"
    assert main(["train", "--dataset", str(folder), "--image-size", "8", "--cell", "gru", "--hidden-size", "16",
                 "--epochs", "3", "--batch-size", "64", "--lr", "0.01", "--quiet", "--no-figures",
                 "--out", str(run)]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "rowrnn", "serve", str(run), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r"http://[^/\s]+/", line)
    if not match:
        proc.kill()
        pytest.fail(f"rowrnn serve did not start: {line} {proc.stderr.read()}")
    yield match.group(0)
    proc.terminate()
    proc.communicate(timeout=30)


def test_a_digits_run_reads_8_steps_and_names_digits(digits_server):
    from pathlib import Path

    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page, problems = open_page(browser, digits_server)
            page.fill("[data-testid=test-index]", "4")
            page.click("[data-testid=show-test]")
            page.wait_for_selector("[data-testid=true-label]:not([hidden])")
            label = page.inner_text("[data-testid=true-label]")
            assert re.fullmatch(r"True label: [0-9] \(test image 4\)", label)
            panel = page.locator("[data-testid=panel]").first
            page.wait_for_function("() => document.querySelector('[data-testid=panel] [data-testid=top3] li')")
            assert page.inner_text("[data-testid=step]") == "step 8 of 8"
            assert panel.get_attribute("data-step") == "8"
            assert panel.locator(".bar .label").all_inner_texts() == DIGITS
            assert panel.locator("[data-testid=steps-column-axis] > *").all_inner_texts() == DIGITS
            top = panel.locator("[data-testid=top3] li").first.inner_text()
            assert re.fullmatch(r"[0-9] \d+\.\d%", top.strip())
            # the preview and the glimpse are drawn from 8x8 pixels: the canvas holds the image, no error
            page.click("[data-testid=lang-es]")
            assert panel.locator(".bar .label").all_inner_texts() == DIGITS          # digits are not translated
            shot(page, "digits")
            assert problems == []
            page.context.close()
        finally:
            browser.close()
