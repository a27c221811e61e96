"""web/convert.js (the static site's image conversion) against rowrnn.images: the same files through both.

Debian's Chromium, driven by Playwright, opens tests/convert_page/ (a page whose only script is a module that
imports convert.js) from a plain static server on 127.0.0.1, under a strict Content-Security-Policy; every request
to another origin is aborted and recorded. The files are the photo benchmark's families (benchmarks/photos.py:
paper, margins, off-centre, each EXIF orientation 1-8, coloured paper saved as JPEG, shadows, every form of
transparency, drawings), a large phone photo (Pillow's JPEG draft and reduction), a Fashion-MNIST image (passed
through), a drawing made on a canvas, and the files both refuse. Measured: the per-image conversion time in
Chromium (written to tests/artifacts/convert-parity.json).

Tolerance: convert.js ports Pillow's resampling, blur and unsharp mask, so on Pillow's own decoded pixels the
two agree bit for bit (checked here too, in node); what remains is the decoders. Measured in Chromium 156: PNG
(read through WebGL where it has transparency: a 2D canvas premultiplies), GIF, BMP, lossless WebP and JPEG (both
libjpeg-turbo) decode to the same bytes, so every file agrees bit for bit, but one: a JPEG larger than twice
512 px, which Pillow decodes at reduced size in the DCT (Image.draft) and the browser at full size, then
box-averaged: at most 2 grey levels apart, 0.08 on average. The bounds, MAX_LEVELS and MEAN_LEVELS, keep a
little room for that one and catch a wrong step (test_a_wrong_step_is_caught_by_the_tolerance).
"""
import base64
import functools
import http.server
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import NODE
from rowrnn.cli import main
from rowrnn.data import load_split
from rowrnn.errors import RowrnnError
from rowrnn.images import decode_image, exif_orientation
from rowrnn.inference import predict
from rowrnn.runs import load_model

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import photos  # noqa: E402  (benchmarks/ is not a package)

ARTIFACTS = Path(os.environ.get("ROWRNN_ARTIFACTS", Path(__file__).parent / "artifacts"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
MAX_LEVELS = 3       # the most any pixel of the 28x28 may differ, in grey levels of 0-255 (measured: 2)
MEAN_LEVELS = 0.25   # the most the mean absolute difference of a file's 28x28 may be (measured: 0.08)
GARMENTS = (0, 7)    # the test images drawn for each condition: an ankle boot and a shirt


def upright_jpeg(image, rng) -> bytes:
    """photos.exif_photo's picture with EXIF orientation 1 (as stored), which its table does not hold."""
    upright = Image.fromarray(np.clip(np.rint(photos.on_paper(photos.garment(image, rng), (250, 250, 248), 0.6,
                                                              rng)), 0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 1
    out = io.BytesIO()
    upright.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def large_phone_photo(image, rng) -> bytes:
    """A 1500x1100 JPEG stored turned (EXIF 6), as a phone saves it: Pillow drafts it at 1/2, the browser does not."""
    paper = photos.on_paper(photos.garment(image, rng, size=700), (246, 244, 238), 0.7, rng)
    picture = Image.fromarray(np.clip(np.rint(paper), 0, 255).astype(np.uint8)).resize((1100, 1500))
    stored = picture.transpose(photos.ORIENTATIONS[6])
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    stored.save(out, "JPEG", quality=88, exif=exif.tobytes())
    return out.getvalue()


def png_header_only(width: int, height: int, colour_type: int = 6) -> bytes:
    """A PNG whose header declares width x height (8 bits) and holds no pixels: refused before any decoding."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, colour_type, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def files(real_data):
    """{name: (bytes, fit)}: every family of the photo benchmark, both fits, and the odd cases."""
    test = load_split(real_data, "test")
    made = {}
    for index, (condition, render) in enumerate(photos.CONDITIONS.items()):
        for garment in GARMENTS:
            rng = np.random.default_rng([index, garment])
            made[f"{condition} #{garment}"] = (render(test.images[garment].numpy(), rng), "trim")
    for garment in GARMENTS:
        made[f"phone photo, EXIF orientation 1 #{garment}"] = (
            upright_jpeg(test.images[garment].numpy(), np.random.default_rng(garment)), "trim")
    for condition in ("white paper, 60 % of the frame", "phone photo, EXIF orientation 6", "cut-out, LA",
                      "beige paper, fall-off, noise, JPEG", "outline drawing"):
        made[f"{condition} #0, fit none"] = (made[f"{condition} #0"][0], "none")
    made["large phone photo, EXIF 6"] = (large_phone_photo(test.images[1].numpy(), np.random.default_rng(1)), "trim")
    grey = io.BytesIO()
    Image.fromarray(test.images[3].numpy()).save(grey, "PNG")
    made["a Fashion-MNIST image (passed through)"] = (grey.getvalue(), "trim")
    for fmt in ("GIF", "BMP", "WEBP"):
        out = io.BytesIO()
        Image.open(io.BytesIO(made["white paper, 60 % of the frame #0"][0])).save(out, fmt, **(
            {"lossless": True} if fmt == "WEBP" else {}))
        made[f"white paper, 60 % of the frame #0, as {fmt}"] = (out.getvalue(), "trim")
    return made


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A plain static server on 127.0.0.1 of the test page and web/convert.js, sending the CSP -> its origin."""
    site = tmp_path_factory.mktemp("convert-site")
    shutil.copy(ROOT / "src/rowrnn/web/convert.js", site / "convert.js")
    for name in ("index.html", "harness.js"):
        shutil.copy(Path(__file__).parent / "convert_page" / name, site / name)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def end_headers(self):
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def page(server):
    """The test page in Chromium -> (page, requests, problems): every request it made, every error it logged."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context()
        requests, problems = [], []

        def only_this_origin(route):
            if route.request.url.startswith(server + "/"):
                route.continue_()
            else:
                problems.append(f"request to another origin: {route.request.url}")
                route.abort()

        context.route("**/*", only_this_origin)
        page = context.new_page()
        page.on("request", lambda request: requests.append(request))
        page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.goto(server + "/index.html")
        page.wait_for_selector("body[data-ready=true]")
        yield page, requests, problems
        browser.close()


def through_browser(page, named):
    """{name: (bytes, fit)} -> {name: answer}, each answer {pixels, ms} or {error, refused}."""
    batch = [{"name": name, "data": base64.b64encode(data).decode(), "fit": fit} for name, (data, fit) in named.items()]
    return dict(zip(named, page.evaluate("(files) => window.convertFiles(files)", batch)))


@pytest.fixture(scope="module")
def both(page, files):
    """{name: (python's uint8 (28, 28), chromium's uint8 (28, 28), chromium's ms)} for every file."""
    answers = through_browser(page[0], files)
    out = {}
    for name, (data, fit) in files.items():
        answer = answers[name]
        assert "error" not in answer, f"{name}: {answer}"
        js = np.array(answer["pixels"], np.uint8).reshape(28, 28)
        out[name] = (decode_image(data, name, fit=fit).numpy(), js, answer["ms"])
    return out


@pytest.fixture(scope="module")
def trained_run(real_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("parity") / "notebook"
    assert main(["train", "--data-dir", str(real_data), "--quiet", "--no-figures", "--epochs", "1",
                 "--out", str(run)]) == 0
    return run


def test_every_family_gives_the_same_28x28_in_chromium_as_in_python(both):
    report = {}
    for name, (python, js, ms) in both.items():
        difference = np.abs(python.astype(int) - js.astype(int))
        report[name] = {"max": int(difference.max()), "mean": round(float(difference.mean()), 4), "ms": round(ms, 1)}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    times = [r["ms"] for r in report.values()]
    summary = {"files": len(report), "median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1),
               "max_levels": max(r["max"] for r in report.values()),
               "max_mean_levels": max(r["mean"] for r in report.values())}
    (ARTIFACTS / "convert-parity.json").write_text(json.dumps({"summary": summary, "files": report}, indent=1))
    print(json.dumps(summary))
    too_far = {name: r for name, r in report.items() if r["max"] > MAX_LEVELS or r["mean"] > MEAN_LEVELS}
    assert too_far == {}
    # every file but the drafted JPEG decodes to the same bytes in both, so those agree exactly
    exact = [name for name in both if not name.startswith("large")]
    assert {name: report[name] for name in exact if report[name]["max"] != 0} == {}
    assert np.array_equal(both["a Fashion-MNIST image (passed through)"][1],
                          both["a Fashion-MNIST image (passed through)"][0])


def test_a_wrong_step_is_caught_by_the_tolerance(both):
    """The tolerance is tight enough: the same 28x28 with one step changed (no sharpening, a pixel's shift,
    the last pixel's rounding) is far outside it."""
    python, js, _ = both["white paper, 60 % of the frame #0"]
    wrong_steps = {"shifted by a pixel": np.roll(js, 1, axis=1), "not negated": 255 - js,
                   "sharpened twice as much": np.clip(js.astype(int) * 2 - np.asarray(
                       Image.fromarray(js).resize((14, 14), Image.Resampling.BOX).resize((28, 28)), int), 0, 255)}
    for step, wrong in wrong_steps.items():
        difference = np.abs(python.astype(int) - wrong.astype(int))
        assert difference.max() > MAX_LEVELS and difference.mean() > MEAN_LEVELS, step


def test_every_exif_orientation_is_applied_as_pillow_applies_it(both, files):
    for k in range(1, 9):
        name = f"phone photo, EXIF orientation {k} #0"
        assert exif_orientation(Image.open(io.BytesIO(files[name][0]))) == k
        python, js, _ = both[name]
        assert np.abs(python.astype(int) - js.astype(int)).max() <= MAX_LEVELS, name
        # the garment stands upright: the same image as orientation 1's within the JPEG's own noise
        upright = both["phone photo, EXIF orientation 1 #0"][1]
        assert np.abs(js.astype(int) - upright.astype(int)).mean() < 3, name


def test_a_trained_run_gives_the_same_top_class_to_both(both, trained_run):
    model, _ = load_model(trained_run)
    names = list(both)
    python = predict(model, torch.from_numpy(np.stack([both[n][0] for n in names])), top=1)
    js = predict(model, torch.from_numpy(np.stack([both[n][1] for n in names])), top=1)
    assert {n: (p[0][0], j[0][0]) for n, p, j in zip(names, python, js) if p[0][0] != j[0][0]} == {}


def test_a_drawing_on_a_canvas_is_converted_as_serve_converts_its_png(page):
    strokes = [[[60, 40], [220, 40], [260, 120], [210, 110], [210, 260], [70, 260], [70, 110], [20, 120], [60, 40]]]
    answer = page[0].evaluate("([s, w, h]) => window.convertDrawing(s, w, h)", [strokes, 280, 280])
    png = base64.b64decode(answer["png"])
    python = decode_image(png, "drawing").numpy()
    assert np.array_equal(np.array(answer["pixels"], np.uint8).reshape(28, 28), python)
    assert python.max() > 200 and python[0, 0] == 0      # light strokes on black, as the networks read


@pytest.mark.parametrize("name, data", [
    ("empty.png", b""),
    ("paper.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
    ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    ("notes.txt", b"just some words"),
    ("huge.png", png_header_only(10_000, 10_000)),
    ("wide.png", png_header_only(7_000, 7_000)),
    ("grey.png", png_header_only(12_000, 12_000, colour_type=0)),
])
def test_refusals_are_the_same_line_as_python(page, name, data):
    with pytest.raises(RowrnnError) as python:
        decode_image(data, name)
    answer = through_browser(page[0], {name: (data, "trim")})[name]
    assert answer == {"error": str(python.value), "refused": True}


def test_every_format_outside_the_allow_list_is_named_as_python_names_it(page):
    """convert.js's identifyFormat against images.identify_format over test_images.py's whole table of refused
    files (HEIC, AVIF, videos, PDF, EPS, PSD, JPEG XL/2000, ICO, TGA, Netpbm, DDS, camera RAW files, SVG, HTML,
    text, Office files and archives, unknown bytes): the same line, word for word."""
    from test_images import REFUSED
    made = {name: make() for name, make, _, _ in REFUSED}
    answers = through_browser(page[0], {name: (data, "trim") for name, data in made.items()})
    for name, data in made.items():
        with pytest.raises(RowrnnError) as python:
            decode_image(data, name)
        assert answers[name] == {"error": str(python.value), "refused": True}, name


def test_what_only_the_browser_refuses_says_why_in_one_line(page):
    tiff = io.BytesIO()
    Image.new("L", (40, 30), 200).save(tiff, "TIFF")
    truncated = photos.white_paper(np.zeros((28, 28), np.uint8), np.random.default_rng(0))[:200]
    answers = through_browser(page[0], {"scan.tif": (tiff.getvalue(), "trim"), "cut.png": (truncated, "trim"),
                                        "shirt.png": (png_header_only(30, 30), "sideways")})
    assert answers["scan.tif"] == {"error": "scan.tif: a TIFF image cannot be read in the browser: save it as PNG "
                                            "or JPEG", "refused": True}
    assert answers["cut.png"]["error"].startswith("cut.png: damaged or unreadable image (")
    assert answers["cut.png"]["error"].endswith("): give a PNG, JPEG, WebP, GIF, BMP or TIFF image")
    with pytest.raises(RowrnnError) as python:
        decode_image(png_header_only(30, 30), "shirt.png", fit="sideways")
    assert answers["shirt.png"] == {"error": str(python.value), "refused": True}


def test_the_conversion_makes_no_request(page, files, both):
    """Pure: after the page has loaded, converting a phone photo and a drawing asks nothing of any server,
    and nothing leaves for another origin at any time."""
    page_, requests, problems = page
    before = len(requests)
    answer = through_browser(page_, {"photo": files["phone photo, EXIF orientation 6 #0"]})["photo"]
    page_.evaluate("() => window.convertDrawing([[[10, 10], [100, 100]]], 120, 120)")
    assert "pixels" in answer
    assert [r.url for r in requests[before:]] == []
    assert problems == []


@pytest.mark.skipif(NODE is None, reason="node runs convert.js's pure function")
def test_on_pillows_decoded_pixels_the_port_is_bit_for_bit(files, tmp_path):
    """convertPixels (no browser: node) on the pixels Pillow decodes gives exactly images.py's 28x28."""
    cases = []
    for name, (data, fit) in files.items():
        if name.startswith("large"):
            continue                      # Pillow drafts it in the DCT; the port box-averages
        im = Image.open(io.BytesIO(data))
        im.load()
        keyed = "transparency" in im.info
        cases.append({"name": name, "fit": fit, "width": im.size[0], "height": im.size[1],
                      "orientation": exif_orientation(im),
                      "channels": 1 if im.mode in ("L", "LA") and not keyed else 3,
                      "alpha": im.mode in ("LA", "RGBA") or keyed,
                      "rgba": base64.b64encode(np.asarray(im.convert("RGBA")).tobytes()).decode(),
                      "python": decode_image(data, name, fit=fit).numpy().ravel().tolist()})
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (tmp_path / "run.mjs").write_text(
        f'import {{ readFileSync }} from "fs";\nimport {{ convertPixels }} from "{ROOT}/src/rowrnn/web/convert.js";\n'
        f'const cases = JSON.parse(readFileSync("{tmp_path}/cases.json"));\nconst wrong = [];\n'
        "for (const c of cases) {\n"
        '  const data = Uint8ClampedArray.from(Buffer.from(c.rgba, "base64"));\n'
        "  const { pixels } = convertPixels({ data, width: c.width, height: c.height }, c);\n"
        "  if (pixels.some((v, i) => v !== c.python[i])) wrong.push(c.name);\n}\n"
        "console.log(JSON.stringify({ checked: cases.length, wrong }));\n")
    done = subprocess.run([NODE, str(tmp_path / "run.mjs")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"checked": len(files) - 1, "wrong": []}


# ---- other sizes: a run of an image folder converted "plain" (datasets.convert_folder_image: grey, resized to its
# S x S); the page converts a person's picture for it as serve does (datasets.prepare_picture). The same files and
# tolerance as at 28; 8 and 14 shrink, 32 enlarges, 28 is the "plain" folder at Fashion-MNIST's size.
PLAIN_SIZES = (8, 14, 28, 32)


def folder_info(size: int):
    """The facts of a run of an image folder of digits converted "plain" at size x size."""
    from rowrnn.datasets import DatasetInfo
    return DatasetInfo(name="my-digits", classes=tuple("0123456789"), image_size=size, conversion="plain")


@pytest.fixture(scope="module")
def plain(page, files):
    """{(name, size): (python's uint8 (S, S) from prepare_picture, chromium's uint8 (S, S))} for every file."""
    from rowrnn.datasets import prepare_picture
    out = {}
    for size in PLAIN_SIZES:
        answers = page[0].evaluate("(files) => window.convertFiles(files)", [
            {"name": name, "data": base64.b64encode(data).decode(), "fit": None,
             "options": {"conversion": "plain", "size": size}} for name, (data, _) in files.items()])
        for (name, (data, _)), answer in zip(files.items(), answers):
            assert "error" not in answer, f"{name} at {size}: {answer}"
            python = prepare_picture(data, name, folder_info(size)).image.numpy()
            assert python.shape == (size, size)
            out[name, size] = (python, np.array(answer["pixels"], np.uint8).reshape(size, size))
    return out


@pytest.mark.parametrize("size", PLAIN_SIZES)
def test_every_family_gives_the_same_plain_image_at_each_size_in_chromium_as_in_python(plain, files, size):
    report = {}
    for name in files:
        python, js = plain[name, size]
        difference = np.abs(python.astype(int) - js.astype(int))
        report[name] = (int(difference.max()), round(float(difference.mean()), 4))
    assert {n: r for n, r in report.items() if r[0] > MAX_LEVELS or r[1] > MEAN_LEVELS} == {}
    # as at 28: every file but the drafted JPEG decodes to the same bytes in both, so those agree exactly
    assert {n: r for n, r in report.items() if not n.startswith("large") and r[0] != 0} == {}


def test_a_plain_image_is_grey_resized_not_trimmed_or_negated(plain, files):
    """What sets "plain" apart from the photo conversion, so a port that ran the photo steps would fail: white
    paper stays light (not negated) and the garment is not trimmed (the paper's border is in the image)."""
    name = "white paper, 60 % of the frame #0"
    python, js = plain[name, 28]
    assert js[0, 0] > 200 and js[-1, -1] > 200 and np.array_equal(python, js)
    photo = decode_image(files[name][0], name).numpy()              # the photo conversion: negated, trimmed
    assert photo[0, 0] == 0 and np.abs(photo.astype(int) - js.astype(int)).mean() > 50
    # the Fashion-MNIST image at 28 is passed through bit for bit ("plain" resizes only a size that differs)
    python, js = plain["a Fashion-MNIST image (passed through)", 28]
    assert np.array_equal(js, python)


def test_a_drawing_is_converted_for_an_8x8_run_as_serve_converts_its_png(page):
    """The drawing pad's canvas (280 x 280, dark strokes on white) -> 8x8 as serve converts the PNG it receives
    for a run of a plain folder at 8 (datasets.prepare_picture): bit for bit."""
    from rowrnn.datasets import prepare_picture
    strokes = [[[140, 40], [140, 250]], [[100, 80], [140, 40]]]          # a "1"
    answer = page[0].evaluate("([s, w, h, o, b]) => window.convertDrawing(s, w, h, o, b)",
                              [strokes, 280, 280, {"conversion": "plain", "size": 8}, 40])
    python = prepare_picture(base64.b64decode(answer["png"]), "drawing", folder_info(8)).image.numpy()
    js = np.array(answer["pixels"], np.uint8).reshape(8, 8)
    assert np.array_equal(js, python)
    assert js[:, 4].min() < 150 and js[0, 0] == 255 and js[-1, 0] == 255   # the stroke's column dark, corners white


@pytest.mark.parametrize("options, message", [
    ({"conversion": "photo", "size": 8}, "size 8: the photo conversion (fit trim or none) makes 28x28 images: "
                                         "give size 28, or conversion plain for 8x8"),
    ({"size": 14}, "size 14: the photo conversion (fit trim or none) makes 28x28 images: give size 28, "
                   "or conversion plain for 14x14"),
    ({"conversion": "plain", "size": 3}, "size must be an integer from 4 to 256 pixels, got 3"),
    ({"conversion": "plain", "size": 257}, "size must be an integer from 4 to 256 pixels, got 257"),
    ({"conversion": "plain", "size": 8.5}, "size must be an integer from 4 to 256 pixels, got 8.5"),
    ({"conversion": "plain", "size": "8"}, "size must be an integer from 4 to 256 pixels, got '8'"),
    ({"conversion": "plain", "size": 8, "fit": "trim"},
     "fit 'trim': a plain conversion (grey, resized to 8x8) has no fit: drop fit"),
    ({"conversion": "grey", "size": 8}, "conversion must be one of photo, plain, got 'grey'"),
])
def test_options_a_size_cannot_use_are_refused_in_one_line_naming_the_option(page, files, options, message):
    data = files["white paper, 60 % of the frame #0"][0]
    answer = page[0].evaluate("(files) => window.convertFiles(files)", [
        {"name": "shirt.png", "data": base64.b64encode(data).decode(), "fit": options.pop("fit", None),
         "options": options}])[0]
    assert answer == {"error": message, "refused": True}


@pytest.mark.parametrize("name, data", [("empty.png", b""), ("paper.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
                                        ("huge.png", png_header_only(10_000, 10_000))])
def test_refusals_at_another_size_are_the_same_line_as_python(page, name, data):
    from rowrnn.datasets import prepare_picture
    with pytest.raises(RowrnnError) as python:
        prepare_picture(data, name, folder_info(8))
    answer = page[0].evaluate("(files) => window.convertFiles(files)", [
        {"name": name, "data": base64.b64encode(data).decode(), "fit": None,
         "options": {"conversion": "plain", "size": 8}}])[0]
    assert answer == {"error": str(python.value), "refused": True}
