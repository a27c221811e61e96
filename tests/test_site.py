"""rowrnn site: the reading graphs against rowrnn.reading (onnxruntime in Python), the runtime's download against
files served on 127.0.0.1, the site's folder, and the page in Chromium from a plain static server (browser, slow).

The runtime for the browser test comes from rowrnn's cache, fetched once from the npm registry (pinned sha512).
"""
import base64
import hashlib
import http.server
import io
import json
import shutil
import tarfile
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from rowrnn.cli import main
from rowrnn.config import PRESETS, build_config
from rowrnn.errors import RowrnnError
from rowrnn.models import build_model
from rowrnn.reading import reading_view
from rowrnn.site import CSP, RUNTIME, build_site, check_reading, page_html, reading_onnx, runtime_dir

pytest.importorskip("onnxruntime")

# every preset at a size that exports in seconds (the pixel presets' 784-step minGRU loop stays: it is slow)
SMALL = {"bilstm": {"hidden_size": 8}, "fast": {"hidden_size": 8}, "mingru": {"hidden_size": 8},
         "pixels": {"hidden_size": 8, "num_layers": 1}, "permuted-pixels": {"hidden_size": 8, "num_layers": 1}}
VARIANTS = [(preset, SMALL.get(preset, {})) for preset in PRESETS] + [
    ("notebook", {"cell": cell, "bidirectional": True, "hidden_size": 6, "num_layers": 2, "readout": "last"})
    for cell in ("rnn", "gru", "lstm", "elman", "mingru", "minlstm", "lru")] + [
    ("notebook", {"cell": cell, "read": "columns", "rows_per_step": 4, "readout": "mean+max"})
    for cell in ("gru", "lstm", "elman", "minlstm", "lru")] + [
    ("notebook", {"cell": "gru", "read": "permuted-pixels", "hidden_size": 4, "bidirectional": True})]


def images(n=6, seed=0):
    return torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def case_id(case):
    preset, over = case
    return preset + "".join(f"-{k}={v}" for k, v in over.items())


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if "pixels" in c[0] or "pixels" in
                                  c[1].get("read", "") else c for c in VARIANTS], ids=case_id)
def test_graph_equals_reading_view(case):
    """Every number the page shows, from the ONNX graph in onnxruntime, within 1e-4 of reading_view's (occlusion
    included where reading_view computes it); the unrolled outputs are the terms unroll names, in its order."""
    preset, over = case
    torch.manual_seed(0)
    model = build_model(build_config(preset, over)).eval()
    data, graph = reading_onnx(model)
    worst = check_reading(model, data, graph, images(), whole=2)
    assert 0 <= worst <= 1e-4
    view = reading_view(model, images()[0], attribution=False)
    if graph.recurrent:
        assert graph.output_names[:4] == ["logits", "final", "probabilities", "hidden"]
        if model.num_steps <= 28:
            assert graph.output_names[4:] == [f"unrolled.{t['name']}" for t in view["unrolled"]["terms"]]
            assert graph.unrolled_reason is None
        else:                      # a pixel reader's graph goes without the traced numbers (graphs.py says why)
            assert graph.output_names[4:] == [] and graph.unrolled_reason == "steps"
    else:
        assert graph.output_names == ["logits", "final"] and graph.input_names == ["images"]


def test_a_disagreeing_graph_is_refused_naming_what():
    torch.manual_seed(0)
    model = build_model(build_config("notebook")).eval()
    data, graph = reading_onnx(model)
    with torch.no_grad():
        model.fc.bias += 0.01                                     # the model moved after the export
    with pytest.raises(RowrnnError, match=r"disagrees with rowrnn on the logits \(max difference"):
        check_reading(model, data, graph, images())


def test_page_html_is_relative_and_under_the_policy():
    html = page_html((Path(__file__).parents[1] / "src/rowrnn/web/index.html").read_text())
    assert "/static/" not in html and 'src="./app.js"' in html and 'href="./style.css"' in html
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in html
    assert '<meta name="rowrnn-engine" content="static">' in html
    assert CSP.replace(" 'wasm-unsafe-eval'", "") + "" != CSP and "unsafe-inline" not in CSP and "'unsafe-eval'" not in CSP
    assert "<script>" not in html and "onclick" not in html


# -- the runtime, fetched from files served on 127.0.0.1 ---------------------------------------------------

def fake_tarball(content=b"wasm"):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in RUNTIME["files"]:
            data = content + name.encode()
            info = tarfile.TarInfo(f"package/dist/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("package/README.md")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"hi"))
    data = buffer.getvalue()
    return data, "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
def static_server():
    """Serve a folder on 127.0.0.1 (a thread): yields (start(folder) -> base URL, requests seen)."""
    servers, seen = [], []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            seen.append(self.path)

    def start(folder):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start, seen
    for server in servers:
        server.shutdown()
        server.server_close()


def test_runtime_is_fetched_once_checked_and_offline_afterwards(tmp_path, static_server):
    start, seen = static_server
    data, integrity = fake_tarball()
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "ort.tgz").write_bytes(data)
    url = start(tmp_path / "registry") + "ort.tgz"
    runtime = {**RUNTIME, "integrity": integrity}
    folder = runtime_dir(tmp_path / "cache", url=url, runtime=runtime)
    assert folder == tmp_path / "cache" / f"onnxruntime-web-{RUNTIME['version']}"
    assert sorted(p.name for p in folder.iterdir()) == sorted([*RUNTIME["files"], "LICENSE", "RUNTIME.json"])
    assert (folder / "ort.wasm.min.mjs").read_bytes() == b"wasmort.wasm.min.mjs"
    facts = json.loads((folder / "RUNTIME.json").read_text())
    assert facts["version"] == "1.31.1" and facts["integrity"] == integrity and facts["source"] == url
    assert "MIT License" in (folder / "LICENSE").read_text()
    assert [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")] == []     # no leftovers
    asked = len(seen)
    assert runtime_dir(tmp_path / "cache", url=url + "-gone", runtime=runtime) == folder    # offline: no request
    assert len(seen) == asked
    (folder / "ort-wasm-simd-threaded.wasm").write_bytes(b"damaged")                        # fetched again
    runtime_dir(tmp_path / "cache", url=url, runtime=runtime)
    assert (folder / "ort-wasm-simd-threaded.wasm").read_bytes() == b"wasmort-wasm-simd-threaded.wasm"


def test_runtime_that_does_not_verify_is_not_kept(tmp_path, static_server):
    start, _ = static_server
    data, _ = fake_tarball()
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "ort.tgz").write_bytes(data)
    url = start(tmp_path / "registry") + "ort.tgz"
    with pytest.raises(RowrnnError, match=r"does not match its pinned sha512 integrity: nothing was kept"):
        runtime_dir(tmp_path / "cache", url=url, runtime=RUNTIME)
    with pytest.raises(RowrnnError, match=r"^cannot download onnxruntime-web 1.31.1 from .*missing.tgz \(HTTPError\)"):
        runtime_dir(tmp_path / "cache", url=url.replace("ort.tgz", "missing.tgz"), runtime=RUNTIME)
    assert list((tmp_path / "cache").iterdir()) == []


# -- the site's folder --------------------------------------------------------------------------------------

def train(data_dir, out, *flags):
    assert main(["train", "--data-dir", str(data_dir), "--quiet", "--no-figures", "--epochs", "1", "--no-verify",
                 "--out", str(out), *flags]) == 0
    return out


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A rows GRU-8 and a pixels LSTM-6, each trained one epoch on synthetic data."""
    from conftest import write_dataset
    tmp = tmp_path_factory.mktemp("site")
    data = write_dataset(tmp / "data", n_train=300, n_test=60)
    return data, [train(data, tmp / "gru", "--cell", "gru", "--hidden-size", "8"),
                  train(data, tmp / "pixels", "--cell", "lstm", "--hidden-size", "6", "--read", "pixels")]


@pytest.fixture(scope="module")
def site(two_runs, tmp_path_factory):
    data, run_dirs = two_runs
    out = tmp_path_factory.mktemp("built") / "site"
    report = build_site(run_dirs, out, test_images=40, data_dir=data)
    return out, report, data, run_dirs


@pytest.mark.slow
def test_site_holds_the_page_the_graphs_and_a_manifest(site):
    out, report, data, run_dirs = site
    manifest = json.loads((out / "manifest.json").read_text())
    assert report["runs"] == ["gru", "pixels"] and report["test_images"] == 40
    assert sorted(p.name for p in (out / "ort").iterdir()) == sorted([*RUNTIME["files"], "LICENSE", "RUNTIME.json"])
    assert (out / "test-images.bin").stat().st_size == 40 * 784
    assert manifest["format"] == "rowrnn-site" and manifest["image_size"] == 28 and len(manifest["classes"]) == 10
    assert len(manifest["test_images"]["labels"]) == 40
    gru, pixels = manifest["runs"]
    assert (gru["name"], gru["read"], gru["steps"], gru["hidden_width"]) == ("gru", "rows", 28, 8)
    assert (pixels["read"], pixels["steps"], pixels["graph"]["occlusion"], pixels["graph"]["unrolled_reason"]) == \
        ("pixels", 784, False, "steps")
    assert gru["graph"]["occlusion"] is True and gru["graph"]["unrolled"]["cell"] == "gru"
    assert [o["name"] for o in gru["graph"]["outputs"]][:4] == ["logits", "final", "probabilities", "hidden"]
    assert gru["graph"]["outputs"][2]["shape"] == ["N", 28, 10]
    assert (out / gru["graph"]["file"]).stat().st_size == gru["graph"]["bytes"]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]              # no temporary folder left


@pytest.mark.slow
def test_site_refuses_a_folder_that_is_not_new_or_empty(site, tmp_path, capsys):
    _, _, data, run_dirs = site
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    code = main(["site", *map(str, run_dirs), "--out", str(tmp_path / "taken"), "--data-dir", str(data)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"rowrnn: error: --out {tmp_path / 'taken'} already exists and is not an empty folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    with pytest.raises(RowrnnError, match=r"^test_images must be at most the test split's 60 images, got 61$"):
        build_site(run_dirs, tmp_path / "new", test_images=61, data_dir=data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


# -- the page in Chromium -------------------------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.slow
def test_static_site_in_chromium_reads_as_python(site, static_server):
    """Served by a plain static server on 127.0.0.1; every other origin aborted and recorded. Pick test images,
    play, switch to Spanish, restore a shared URL; the numbers the page computed equal reading_view's."""
    from test_browser import CHROMIUM, CHROMIUM_FLAGS
    from playwright.sync_api import sync_playwright

    from rowrnn import runs
    from rowrnn.data import load_split
    out, _, data, run_dirs = site
    start, seen = static_server
    base = start(out)
    models = [runs.load_model(p)[0] for p in run_dirs]
    test_images = load_split(data, "test", verify=False).images
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1100}, locale="en-US")
        foreign = []

        def elsewhere(route):
            foreign.append(route.request.url)
            route.abort()

        context.route(lambda url: not url.startswith(base), elsewhere)
        page = context.new_page()
        problems = []
        page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.goto(base + "index.html?debug=engine&test=3")
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)

        def readings(index):
            label = page.locator("[data-testid=true-label]").filter(has_text=f"test image {index})")
            try:
                label.wait_for(timeout=60_000)
            except Exception:
                raise AssertionError(f"no label: the page says {page.get_by_test_id('error').text_content()!r}, "
                                     f"{page.get_by_test_id('step').text_content()!r}; {problems}") from None
            debug = page.locator("[data-testid=engine-debug]")
            debug.wait_for(state="attached")
            for _ in range(200):
                found = json.loads(debug.text_content() or "null")
                if found and found["readings"] and found["readings"]["image"] == test_images[index].tolist() \
                        and "0" in found["explanations"]:
                    return found
                page.wait_for_timeout(100)
            raise AssertionError(f"no reading of test image {index} in the page: {str(found)[:300]}, "
                                 f"{test_images[index].tolist()[:3]}")

        def check(index, found):
            assert found["readings"]["label"] == int(load_split(data, "test", verify=False).labels[index])
            for model, answer in zip(models, found["readings"]["models"]):
                view = reading_view(model, test_images[index], methods=("occlusion",))
                assert np.abs(np.array(answer["final"]) - np.array(view["final"])).max() <= 1e-4
                assert np.abs(np.array(answer["steps"]) - view["steps"].numpy()).max() <= 1e-4
                assert np.abs(np.array(answer["hidden"]) - view["hidden"].numpy()).max() <= 1e-4
                if view["unrolled"] is not None and answer["unrolled"] is not None:
                    for got, expected in zip(answer["unrolled"]["terms"], view["unrolled"]["terms"]):
                        assert got["name"] == expected["name"]
                        assert np.abs(np.array(got["values"]) - np.array(expected["values"])).max() <= 1e-4
            gru_view = reading_view(models[0], test_images[index], methods=("occlusion",))
            occlusion = np.array(found["explanations"]["0"]["occlusion"])
            assert occlusion.shape == (1, 28)
            assert np.abs(occlusion - gru_view["attribution"]["occlusion"].numpy()).max() <= 1e-4
            assert found["readings"]["models"][0]["unrolled"]["cell"] == "gru"
            assert found["readings"]["models"][1]["unrolled"] is None       # 784 steps: the note says why
            assert found["explanations"]["1"]["occlusion"] is None

        check(3, readings(3))
        page.get_by_test_id("test-index").fill("17")
        page.get_by_test_id("show-test").click()
        check(17, readings(17))
        page.get_by_test_id("play").click()
        page.locator("[data-testid=step]").filter(has_text="Step 784 of 784").wait_for(timeout=30_000)
        page.get_by_test_id("lang-es").click()
        assert page.get_by_test_id("step").text_content() == "paso 784 de 784"
        page.get_by_test_id("explain-integrated-gradients").check()
        caption = page.locator("[data-run='0'] [data-testid=attribution-caption]")
        assert "no calcula" in caption.text_content()
        shared = page.url
        assert "test=17" in shared and "lang=es" in shared and "explain=integrated-gradients" in shared
        other = context.new_page()
        other.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
        other.goto(shared)
        other.wait_for_selector("body[data-ready=true]", timeout=60_000)
        other.locator("[data-testid=true-label]").filter(has_text="17)").wait_for(timeout=60_000)
        assert other.locator("html").get_attribute("lang") == "es"
        other.locator("[data-run='1'] [data-testid=numbers-note]").filter(has_text="28 pasos").wait_for()
        page.screenshot(path=str(out.parent / "static-site-es.png"), full_page=True)
        browser.close()
    assert foreign == [] and problems == []
    assert all(not path.startswith("/api/") for path in seen)
