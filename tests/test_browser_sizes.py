"""The reading page at an image size other than 28 (issues 27/28): a run of scikit-learn's 8x8 digits as an image
folder converted "plain", in Chromium, served by rowrnn serve and as a static site built by rowrnn site. On both: a
drawing made with the mouse and an uploaded photo are read (nothing is switched off at 8x8), the image the page
shows is the one Python makes of the same file for that run (datasets.prepare_picture), the reading is Python's
for it, and the captions say 8×8 in English and in Spanish. The digits are light on dark (config.json's
background "dark"): the pad is black and draws light strokes, so the 8x8 the network reads of a drawing is light
on dark as its own images are; an uploaded photo is converted as it is (dark on light)."""
import base64
import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rowrnn.cli import main
from rowrnn.datasets import dataset_of, prepare_picture
from rowrnn.reading import reading_view
from rowrnn.runs import load_model
from test_browser import CHROMIUM, CHROMIUM_FLAGS, open_page
from test_own_data import digits_folder

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SIZE = 8
CAPTIONS = {   # what the page says about its 8x8 images, in each language
    "en": {"preview-caption": "The 8×8 they read",
           "upload-hint": "A picture (PNG, JPEG, WebP, GIF, BMP or TIFF): made grey and resized whole to 8×8, as "
                          "this run's own images were made from their files, and never inverted: give one light on "
                          "dark, like them.",
           "draw-hint": "Draw light on dark with the mouse or a finger, as this run's own images are: the whole "
                        "square is made grey and resized to 8×8 as drawn, neither trimmed, centred nor inverted; "
                        "fill most of it.",
           "preview-label": "the 8 by 8 image",
           # a run of another dataset than Fashion-MNIST is not told about garments
           "subtitle": "— watch a recurrent network read an image, row by row",
           "input-title": "1. Give it an image",
           "camera-hint": "One drawing or object on plain paper, in good light, filling most of the picture; the "
                          "photo is read as an upload is.",
           "bars-help": "How sure it is of each class after the steps read so far."},
    "es": {"preview-caption": "El 8×8 que leen",
           "upload-hint": "Una imagen (PNG, JPEG, WebP, GIF, BMP o TIFF): se pasa a grises y se redimensiona entera "
                          "a 8×8, como se hicieron las imágenes de este modelo a partir de sus ficheros, y nunca se "
                          "invierte: dale una clara sobre oscuro, como ellas.",
           "draw-hint": "Dibuja claro sobre oscuro con el ratón o con el dedo, como son las imágenes de este modelo: "
                        "el cuadro entero se pasa a grises y se reduce a 8×8 tal como lo dibujas, sin recortarlo, "
                        "centrarlo ni invertirlo; llénalo casi entero.",
           "preview-label": "la imagen de 8 por 8",
           "subtitle": "— mira cómo una red recurrente lee una imagen, fila a fila",
           "input-title": "1. Dale una imagen",
           "camera-hint": "Un dibujo u objeto sobre papel liso, con buena luz, ocupando casi toda la imagen; la foto "
                          "se lee como una subida.",
           "bars-help": "Cuán segura está de cada clase tras los pasos leídos."},
}
# a "7" drawn across the pad, as fractions of its side
SEVEN = [(0.2, 0.15), (0.8, 0.15), (0.45, 0.9)]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sizes")
    folder, digits = digits_folder(tmp / "digits")
    run = tmp / "digits-gru"
    assert main(["train", "--dataset", str(folder), "--image-size", str(SIZE), "--cell", "gru", "--hidden-size",
                 "16", "--epochs", "3", "--batch-size", "64", "--lr", "0.01", "--quiet", "--no-figures",
                 "--out", str(run)]) == 0
    return run, digits


@pytest.fixture(scope="module")
def photo(digits_run):
    """A colour photo of a digit: test digit 0 (dark on beige paper, 160x120, light noise) as PNG bytes."""
    _, digits = digits_run
    ink = np.asarray(Image.fromarray(np.rint(digits.images[0] * 255 / 16).astype(np.uint8)).resize(
        (120, 120), Image.Resampling.BILINEAR), np.float32) / 255
    paper = np.full((120, 160, 3), (236, 228, 205), np.float32)
    paper[:, 20:140] *= 1 - 0.8 * ink[:, :, None]
    paper += np.random.default_rng(0).normal(0, 3, paper.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(np.rint(paper), 0, 255).astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def texts(page):
    """The page's words about its image size and what it reads -> {name: text}, as CAPTIONS holds them."""
    return {"preview-caption": page.inner_text("[data-testid=preview-caption]"),
            "upload-hint": page.locator("[data-testid=upload]").locator("xpath=..").locator(".hint").inner_text(),
            "draw-hint": page.locator("[data-testid=draw-canvas]").locator("xpath=..").locator(".hint").inner_text(),
            "preview-label": page.get_attribute("[data-testid=preview]", "aria-label"),
            "subtitle": page.inner_text("h1 [data-i18n^=subtitle]"),
            "input-title": page.inner_text("#input-title"),
            "camera-hint": page.inner_text("[data-i18n^=cameraHint]"),
            "bars-help": page.locator("figcaption[data-i18n^=barsHelp]").first.inner_text()}


def preview(page):
    """The S x S image the page shows (#preview, square cells) -> uint8 (S, S)."""
    grid = page.evaluate("""(size) => { const c = document.getElementById('preview').getContext('2d');
        const cell = c.canvas.width / size, out = [];
        for (let r = 0; r < size; r++) for (let k = 0; k < size; k++)
            out.push(c.getImageData(Math.floor((k + 0.5) * cell), Math.floor((r + 0.5) * cell), 1, 1).data[0]);
        return out; }""", SIZE)
    return np.array(grid, np.uint8).reshape(SIZE, SIZE)


def draw(page, path):
    box = page.get_by_test_id("draw-canvas").bounding_box()
    page.mouse.move(box["x"] + path[0][0] * box["width"], box["y"] + path[0][1] * box["height"])
    page.mouse.down()
    for x, y in path[1:]:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=8)
    page.mouse.up()


def check_dark_pad(page):
    """The pad of a dark-background run: black before anything is drawn (every pixel), marked data-ground="dark"."""
    assert page.get_attribute("[data-testid=draw-canvas]", "data-ground") == "dark"
    pixels = np.asarray(Image.open(io.BytesIO(drawing_png(page))).convert("L"))
    assert pixels.shape == (280, 280) and int(pixels.max()) == 0


def check_light_stroke(image):
    """A drawn "7" in the S x S the network reads: light strokes (its top bar, row 1) on a dark ground."""
    assert image[1, 4] > 150 and image[1, 2:6].min() > 100      # the bar: light
    assert image[-1, 0] == 0 and image[-1, -1] == 0 and image[4, 0] == 0      # the ground: black, as drawn


def drawing_png(page) -> bytes:
    return base64.b64decode(page.evaluate("() => document.getElementById('draw').toDataURL('image/png')")
                            .split(",", 1)[1])


def top_shown(page):
    """The first panel's top three as shown -> [(class name, percent)]."""
    items = page.locator("[data-testid=panel]").first.locator("[data-testid=top3] li").all_inner_texts()
    return [(m.group(1), float(m.group(2))) for m in (re.fullmatch(r"(\S+) (\d+\.\d)%", i.strip()) for i in items)]


def same_top(shown, view):
    assert [name for name, _ in shown] == [t["class"] for t in view["top"]]
    assert np.abs(np.array([p for _, p in shown]) - [100 * t["probability"] for t in view["top"]]).max() <= 0.05 + 1e-6


def check_words(page):
    """The captions and hints say 8×8 in English, then in Spanish (and back to English)."""
    assert texts(page) == CAPTIONS["en"]
    page.click("[data-testid=lang-es]")
    assert texts(page) == CAPTIONS["es"]
    page.click("[data-testid=lang-en]")
    assert texts(page) == CAPTIONS["en"]


@contextlib.contextmanager
def served_page(run):
    """`rowrnn serve RUN` on a free port and its page open in Chromium -> (page, problems); both closed after."""
    proc = subprocess.Popen([sys.executable, "-m", "rowrnn", "serve", str(run), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://[^/\s]+/", line)
        assert match, f"rowrnn serve did not start: {line} {proc.stderr.read()}"
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                yield open_page(browser, match.group(0))
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_served_page_draws_uploads_and_says_8x8(digits_run, photo, tmp_path):
    run, _ = digits_run
    model, _ = load_model(run)
    info = dataset_of(run)
    with served_page(run) as (page, problems):
        check_words(page)
        # a stroke of the default brush at 8x8 is 1.5 of its pixels wide: 53 of the pad's 280
        assert page.input_value("[data-testid=brush]") == "53"

        def read(before, what):
            # shown once the server's answer is: the picture as given (a new blob URL) beside its 8x8
            page.wait_for_function("(before) => { const img = document.getElementById('original');"
                                   " return img.getAttribute('src') && img.getAttribute('src') !== before"
                                   " && !document.getElementById('original-figure').hidden; }", arg=before)
            page.wait_for_function("(n) => document.querySelector('[data-testid=step]').textContent"
                                   " === `step ${n} of ${n}`", arg=SIZE)
            assert page.get_attribute("#message", "hidden") is not None, what    # no error line
            return preview(page), page.get_attribute("#original", "src")

        assert page.evaluate("() => fetch('/api/runs').then((r) => r.json())").get("pad") == "dark"
        page.click("[data-testid=clear]")
        check_dark_pad(page)
        draw(page, SEVEN)
        shown, src = read(None, "the drawing")
        python = prepare_picture(drawing_png(page), "drawing", info).image.numpy()
        assert np.array_equal(shown, python)
        check_light_stroke(python)                  # light on the black pad, as the digits are; not trimmed
        same_top(top_shown(page), reading_view(model, torch.from_numpy(python), attribution=False))

        before = shown
        file = tmp_path / "digit.png"
        file.write_bytes(photo)
        page.set_input_files("[data-testid=upload]", str(file))
        shown, _ = read(src, "the photo")
        python = prepare_picture(photo, "the uploaded image", info).image.numpy()
        assert not np.array_equal(shown, before) and np.array_equal(shown, python)
        same_top(top_shown(page), reading_view(model, torch.from_numpy(python), attribution=False))
        assert problems == []


def test_static_site_draws_uploads_and_says_8x8(digits_run, photo, tmp_path):
    """The page of `rowrnn site` converts in the browser (convert.js "plain" at 8, the manifest's picture) and
    runs the graph in onnxruntime-web: the image is Python's for the same file bit for bit, the reading within
    1e-4 of reading_view's; nothing leaves for another origin, nothing but GETs of the site's own files."""
    import http.server
    import threading
    from functools import partial

    from playwright.sync_api import sync_playwright

    from rowrnn.site import build_site
    run, _ = digits_run
    model, _ = load_model(run)
    info = dataset_of(run)
    out = tmp_path / "site"
    build_site([run], out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["image_size"] == SIZE and manifest["picture"] == {"conversion": "plain", "size": SIZE}
    assert (manifest["background"], manifest["pad"]) == ("dark", "dark")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(
        type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda self, *a: None}),
        directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1100}, locale="en-US")
            foreign, requests, problems = [], [], []

            def routed(route):
                if route.request.url.startswith(base):
                    route.continue_()
                else:
                    foreign.append(route.request.url)
                    route.abort()

            context.route("**/*", routed)
            context.on("request", lambda r: requests.append((r.method, r.url)))
            page = context.new_page()
            page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error"
                    else None)
            page.goto(base + "index.html?debug=engine")
            page.wait_for_selector("body[data-ready=true]", timeout=60_000)
            check_words(page)

            def engine():
                debug = page.locator("[data-testid=engine-debug]")
                return json.loads((debug.text_content() if debug.count() else "") or "null")

            def next_reading(previous, what):
                for _ in range(600):
                    found = engine()
                    if found and found["readings"] and found["readings"]["image"] != previous:
                        break
                    page.wait_for_timeout(100)
                else:
                    raise AssertionError(f"no reading of {what}: {page.text_content('#message')!r}; "
                                         f"{problems}")
                page.wait_for_function("() => /[0-9]/.test(document.querySelector('[data-testid=step]')"
                                       ".textContent)")
                shown = preview(page)
                assert shown.tolist() == found["readings"]["image"], what
                return found["readings"], shown

            def same_reading(answer, image):
                view = reading_view(model, torch.from_numpy(image), attribution=False)
                got = answer["models"][0]
                assert np.abs(np.array(got["final"]) - np.array(view["final"])).max() <= 1e-4
                assert np.abs(np.array(got["steps"]) - view["steps"].numpy()).max() <= 1e-4
                assert [t["class"] for t in got["top"]] == [t["class"] for t in view["top"]]

            first, _ = next_reading(None, "test image 0")
            page.click("[data-testid=clear]")
            check_dark_pad(page)
            draw(page, SEVEN)
            drawn, shown = next_reading(first["image"], "the drawing")
            python = prepare_picture(drawing_png(page), "drawing", info).image.numpy()
            assert np.array_equal(shown, python)
            check_light_stroke(python)
            assert drawn["label"] is None
            same_reading(drawn, shown)

            page.get_by_test_id("upload").set_input_files(files=[{"name": "digit.png", "mimeType": "image/png",
                                                                   "buffer": photo}])
            uploaded, shown = next_reading(drawn["image"], "the photo")
            python = prepare_picture(photo, "digit.png", info).image.numpy()
            assert np.array_equal(shown, python)
            same_reading(uploaded, shown)
            assert page.get_by_test_id("original").get_attribute("src").startswith("blob:" + base[:-1])
            assert page.get_attribute("#message", "hidden") is not None        # no error line
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert foreign == [] and problems == []
    assert {method for method, _ in requests} == {"GET"}
    assert all(url.startswith(base) for _, url in requests)


# ---- the hints follow the runs' conversion (/api/runs' and the manifest's "picture"), not their image size ----

HINTS_28 = {   # (upload hint, draw hint) at 28x28 for each conversion, in each language
    "plain": {
        "en": ("A picture (PNG, JPEG, WebP, GIF, BMP or TIFF): made grey and resized whole to 28×28, as this run's "
               "own images were, neither trimmed nor turned light on black.",
               "Draw with the mouse or a finger: the whole square is made grey and resized to 28×28, as this run's "
               "own images were, neither trimmed nor centred; fill most of it."),
        "es": ("Una imagen (PNG, JPEG, WebP, GIF, BMP o TIFF): se pasa a grises y se redimensiona entera a 28×28, "
               "como las imágenes de este modelo, sin recortarla ni dejarla clara sobre negro.",
               "Dibuja con el ratón o con el dedo: el cuadro entero se pasa a grises y se reduce a 28×28, como las "
               "imágenes de este modelo, sin recortarlo ni centrarlo; llénalo casi entero.")},
    "none": {
        "en": ("A picture cropped to what it shows (PNG, JPEG, WebP, GIF, BMP or TIFF): made grey, fitted whole into "
               "28×28 (its border's colour fills the rest) and turned light on black if that colour is light, as "
               "rowrnn predict does for this run; neither trimmed nor centred.",
               "Draw dark on light with the mouse or a finger: the whole square is made grey, resized to 28×28 and "
               "turned light on black, like this run's own images, neither trimmed nor centred; fill most of it."),
        "es": ("Una imagen ya recortada a lo que muestra (PNG, JPEG, WebP, GIF, BMP o TIFF): se pasa a grises, se "
               "encaja entera en 28×28 (el color de su borde rellena el resto) y queda clara sobre negro si ese "
               "color es claro, como hace rowrnn predict con este modelo; sin recortarla ni centrarla.",
               "Dibuja oscuro sobre claro con el ratón o con el dedo: el cuadro entero se pasa a grises, se reduce a "
               "28×28 y queda claro sobre negro, como las imágenes de este modelo, sin recortarlo ni centrarlo; "
               "llénalo casi entero.")},
    "trim": {      # Fashion-MNIST's page, as it always was
        "en": ("A photo or scan of one garment on a plain background (PNG, JPEG, WebP, GIF, BMP or TIFF): trimmed, "
               "centred, fitted into 28×28 and turned light on black, as Fashion-MNIST was made and as rowrnn "
               "predict does.",
               "Draw one garment with the mouse or a finger, dark on light, at any size and anywhere: it is trimmed "
               "and centred as a photo is."),
        "es": ("Una foto o un escaneo de una prenda sobre un fondo liso (PNG, JPEG, WebP, GIF, BMP o TIFF): se "
               "recorta, se centra, se encaja en 28×28 y queda clara sobre negro, como se hizo Fashion-MNIST y como "
               "hace rowrnn predict.",
               "Dibuja una prenda con el ratón o con el dedo, oscuro sobre claro, del tamaño que quieras y donde "
               "quieras: se recorta y se centra como una foto.")},
}
# the default brush: 1.5 pixels of 28 (15 of the pad's 280) where the whole pad is resized; index.html's 18 at trim
BRUSH_28 = {"plain": "15", "none": "15", "trim": "18"}


@pytest.fixture(scope="module")
def light_run(tmp_path_factory):
    """A GRU-4 of 300 digits negated (dark on light), an image folder converted plain at 28x28: background light."""
    from test_picture_told import light_digits_folder
    tmp = tmp_path_factory.mktemp("light")
    folder = light_digits_folder(tmp / "light-digits")
    run = tmp / "light-gru"
    assert main(["train", "--dataset", str(folder), "--image-size", "28", "--cell", "gru", "--hidden-size", "4",
                 "--epochs", "1", "--batch-size", "64", "--quiet", "--no-figures", "--out", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["data"]["background"] == "light"
    return run


def check_hints(page, conversion):
    """The upload and draw hints, the preview's 28x28 and the default brush of a page of runs converted so."""
    for language in ("es", "en"):
        page.click(f"[data-testid=lang-{language}]")
        shown = texts(page)
        assert (shown["upload-hint"], shown["draw-hint"]) == HINTS_28[conversion][language], (conversion, language)
    assert shown["preview-caption"] == "The 28×28 they read"
    assert page.eval_on_selector("#preview", "(c) => [c.width, c.height]") == [224, 224]
    assert page.input_value("[data-testid=brush]") == BRUSH_28[conversion]
    assert page.get_attribute("[data-testid=draw-canvas]", "data-ground") != "dark"     # the white pad, untouched


def test_served_light_plain_folder_at_28_says_plain_hints(light_run):
    """A light-background folder converted plain at 28: before, the page told it Fashion-MNIST's trimmed, centred
    and inverted photo, which its conversion does none of."""
    with served_page(light_run) as (page, problems):
        assert page.evaluate("() => fetch('/api/runs').then((r) => r.json())")["picture"] == \
            {"conversion": "plain", "size": 28}
        check_hints(page, "plain")
        assert problems == []


def test_static_sites_say_their_conversions_hints(light_run, tmp_path, monkeypatch):
    """Sites of a light plain folder at 28, of MNIST (photo, fit none: not trimmed) and of Fashion-MNIST (as it
    was), each from its manifest's "picture"; and a site built before "picture" was written (the manifest without
    it) keeps the rule it was built with: Fashion-MNIST's hints at 28 with a light pad."""
    import http.server
    import threading
    from functools import partial

    from playwright.sync_api import sync_playwright

    from conftest import write_dataset
    from rowrnn.site import build_site
    from test_datasets import patched, write_named
    fashion = write_dataset(tmp_path / "fashion", n_train=200, n_test=40)
    written = write_named(tmp_path / "mnist", "mnist", n=(120, 40))
    patched(monkeypatch, "mnist", written, counts=(120, 40))
    flags = ["--quiet", "--no-figures", "--epochs", "1", "--cell", "gru", "--hidden-size", "4"]
    assert main(["train", *flags, "--data-dir", str(fashion), "--no-verify", "--out", str(tmp_path / "f")]) == 0
    assert main(["train", *flags, "--dataset", "mnist", "--data-dir", str(tmp_path / "mnist"),
                 "--out", str(tmp_path / "m")]) == 0
    sites = tmp_path / "sites"
    sites.mkdir()
    build_site([light_run], sites / "plain", test_images=4)
    build_site([tmp_path / "m"], sites / "none", test_images=4, data_dir=tmp_path / "mnist")
    build_site([tmp_path / "f"], sites / "trim", test_images=4, data_dir=fashion)
    shutil.copytree(sites / "trim", sites / "old")
    manifest = json.loads((sites / "old" / "manifest.json").read_text())
    del manifest["picture"]
    (sites / "old" / "manifest.json").write_text(json.dumps(manifest))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(
        type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda self, *a: None}),
        directory=str(sites)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                for site, conversion in (("plain", "plain"), ("none", "none"), ("trim", "trim"), ("old", "trim")):
                    page = browser.new_page(viewport={"width": 1400, "height": 1100}, locale="en-US")
                    problems = []
                    page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
                    page.goto(f"{base}{site}/index.html")
                    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
                    check_hints(page, conversion)
                    assert problems == [], site
                    page.close()
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
