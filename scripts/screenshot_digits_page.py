"""The screenshots docs/serve-digits.png and docs/serve-digits-spanish.png: `rowrnn serve` of a reader trained on
scikit-learn's 8x8 digits (written as an image folder, as lesson 05 does), a "7" drawn on its dark pad, in English
and in Spanish.

    python scripts/screenshot_digits_page.py --work /tmp/digits-shot --out docs
"""
import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright
from sklearn.datasets import load_digits

from rowrnn import datasets
from rowrnn.cli import main as rowrnn

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SEVEN = [(0.3, 0.2), (0.7, 0.2), (0.45, 0.85)]      # the stroke, as fractions of the pad's side
NAMES = {"en": "serve-digits.png", "es": "serve-digits-spanish.png"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="a folder for the image folder and the run")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="where the two PNGs go (default: docs)")
    args = parser.parse_args()
    folder, run = args.work / "digits", args.work / "run"
    if not folder.exists():
        digits = load_digits()
        images = np.rint(digits.images * 255 / 16).astype(np.uint8)          # 0-16 -> 0-255
        datasets.write_image_folder(images, digits.target, [str(k) for k in range(10)], folder)
    if not run.exists():
        assert rowrnn(["train", "--dataset", str(folder), "--image-size", "8", "--cell", "gru", "--hidden-size", "32",
                       "--epochs", "12", "--batch-size", "64", "--lr", "0.01", "--out", str(run), "--quiet",
                       "--no-figures"]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "rowrnn", "serve", str(run), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = re.search(r"http://[^/\s]+/", proc.stdout.readline()).group(0)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            for lang, name in NAMES.items():
                page = browser.new_page(viewport={"width": 1280, "height": 1100})
                page.goto(f"{url}?lang={lang}")
                page.wait_for_selector("body[data-ready=true]")
                page.click("[data-testid=clear]")
                box = page.get_by_test_id("draw-canvas").bounding_box()
                x, y, side = box["x"], box["y"], box["width"]
                page.mouse.move(x + SEVEN[0][0] * side, y + SEVEN[0][1] * side)
                page.mouse.down()
                for fx, fy in SEVEN[1:]:
                    page.mouse.move(x + fx * side, y + fy * side, steps=8)
                page.mouse.up()
                page.wait_for_function("() => /8/.test(document.querySelector('[data-testid=step]').textContent)")
                page.wait_for_timeout(1000)
                page.screenshot(path=str(args.out / name))
                print(args.out / name)
            browser.close()
    finally:
        proc.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
