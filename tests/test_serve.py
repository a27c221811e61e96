"""rowrnn serve without a browser: the JSON contract, every bad request, and the server's start and stop."""
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
import urllib.request
import zlib

import numpy as np
import pytest
import torch
from PIL import Image
from starlette.testclient import TestClient

from conftest import write_dataset
from rowrnn import runs, serve
from rowrnn.attribution import step_attribution
from rowrnn.constants import CLASSES
from rowrnn.cli import main
from rowrnn.data import load_fashion_mnist, normalize

TRAIN = ["train", "--no-verify", "--epochs", "1", "--batch-size", "64", "--quiet", "--no-figures"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Four runs of different kinds (rows, bidirectional rows+columns in strips, permuted pixels, a CNN)."""
    tmp = tmp_path_factory.mktemp("serve")
    data = write_dataset(tmp / "data")
    specs = {"rows": [], "strips": ["--cell", "gru", "--bidirectional", "--read", "rows+columns", "--rows-per-step",
                                    "2", "--readout", "mean+max", "--hidden-size", "6"],
             "permuted": ["--read", "permuted-pixels", "--hidden-size", "4", "--cell", "gru"],
             "cnn": ["--preset", "cnn", "--hidden-size", "4", "--num-layers", "1"]}
    paths = []
    for name, flags in specs.items():
        assert main([*TRAIN, "--data-dir", str(data), "--out", str(tmp / name), *flags]) == 0
        paths.append(tmp / name)
    (tmp / "cnn" / "metrics.json").unlink()          # an unfinished run: no test accuracy to show
    app = serve.create_app(paths, data_dir=data)
    # the Host allow-list refuses TestClient's default "testserver": talk to it as its own address
    return TestClient(app, base_url="http://127.0.0.1:8000"), paths, data


def _png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_runs_describe_each_model(served):
    client, paths, _ = served
    info = client.get("/api/runs").json()
    assert info["classes"][9] == "Ankle boot" and info["test_images"] == 100
    rows, strips, permuted, cnn = info["runs"]
    assert [r["name"] for r in info["runs"]] == ["rows", "strips", "permuted", "cnn"]
    assert [r["id"] for r in info["runs"]] == [0, 1, 2, 3]
    metrics = json.loads((paths[0] / "metrics.json").read_text())
    assert rows == {"id": 0, "name": "rows", "preset": "notebook", "parameters": 394,
                    "test_accuracy": metrics["accuracy"], "recurrent": True, "read": "rows", "steps": 28,
                    "rows_per_step": 1, "hidden_width": 8, "hidden_size": 8, "permutation": None,
                    "classes": list(CLASSES), "image_size": 28, "step_lines": [[t, t] for t in range(28)]}
    assert info["image_size"] == 28 and info["dataset"] == "fashion-mnist" and info["classes"] == list(CLASSES)
    assert strips["steps"] == 14 and strips["rows_per_step"] == 2 and strips["hidden_width"] == 6 * 2 * 2
    assert strips["step_lines"][:2] == [[0, 1], [2, 3]] and strips["step_lines"][-1] == [26, 27]
    assert permuted["step_lines"] is None and cnn["step_lines"] is None and cnn["classes"] == list(CLASSES)
    model, _ = runs.load_model(paths[2])
    assert permuted["steps"] == 784 and permuted["permutation"] == model.permutation.tolist()
    assert cnn["recurrent"] is False and cnn["steps"] is None and cnn["test_accuracy"] is None


def test_a_test_image_and_its_label(served):
    client, _, data = served
    _, test = load_fashion_mnist(data, verify=False)
    got = client.get("/api/test-image/7").json()
    assert got["index"] == 7 and got["label"] == int(test.labels[7])
    assert torch.equal(torch.tensor(got["pixels"], dtype=torch.uint8), test.images[7])


@pytest.mark.parametrize("how", ["png", "pixels", "test_index"])
def test_predict_returns_every_step_and_hidden_state(served, how):
    client, paths, data = served
    _, test = load_fashion_mnist(data, verify=False)
    image = test.images[3]
    if how == "png":
        response = client.post("/api/predict", content=_png(image), headers={"Content-Type": "image/png"})
    else:
        body = {"pixels": image.tolist()} if how == "pixels" else {"test_index": 3}
        response = client.post("/api/predict", json=body)
    assert response.status_code == 200, response.text
    got = response.json()
    assert torch.equal(torch.tensor(got["image"], dtype=torch.uint8), image)   # the same conversion as predict
    assert got["label"] == (int(test.labels[3]) if how == "test_index" else None)
    x = normalize(image).reshape(1, 1, 28, 28)
    for result, path in zip(got["models"], paths):
        model, _ = runs.load_model(path)
        with torch.no_grad():
            final = model(x)[0].softmax(-1)
        np.testing.assert_allclose(result["final"], final.numpy(), atol=1e-4)
        assert [t["class"] for t in result["top"]] == [model_class(i) for i in final.topk(3).indices]
        if result["steps"] is None:
            assert result["hidden"] is None and result["unrolled"] is None and path.name == "cnn"
            continue
        steps, hidden = np.array(result["steps"]), np.array(result["hidden"])
        assert steps.shape == (model.num_steps, 10) and np.allclose(steps.sum(1), 1, atol=1e-3)
        np.testing.assert_allclose(steps[-1], final.numpy(), atol=1e-4)
        with torch.no_grad():
            np.testing.assert_allclose(hidden, model.hidden_states(x)[0].numpy(), atol=1e-4)
        assert "attribution" not in result                     # /api/explain's, asked apart (it costs more)
        # the numbers view (hidden sizes 8, 6, 4 here): its h_t is the first reader's forward part of `hidden`
        h_t = result["unrolled"]["terms"][-1]
        assert h_t["name"] == "h_t" and result["unrolled"]["hidden_size"] == model.hidden_size
        np.testing.assert_allclose(h_t["values"], hidden[:, :model.hidden_size], atol=1e-4)


@pytest.mark.parametrize("how", ["png", "test_index"])
def test_explain_says_which_steps_decided_the_answer_of_the_one_run_asked(served, how):
    client, paths, data = served
    _, test = load_fashion_mnist(data, verify=False)
    image = test.images[3]
    predicted = client.post("/api/predict", json={"test_index": 3}).json()
    for answered, path in zip(predicted["models"], paths):
        run = answered["id"]
        if how == "png":        # any body names its run in the URL; a JSON one may name it inside
            response = client.post(f"/api/explain?run={run}", content=_png(image), headers={"Content-Type": "image/png"})
        else:
            response = client.post("/api/explain", json={"run": run, "test_index": 3})
        assert response.status_code == 200, response.text
        got = response.json()
        assert got["image"] == predicted["image"]
        assert got["label"] == (int(test.labels[3]) if how == "test_index" else None)
        assert [(m["id"], m["name"]) for m in got["models"]] == [(run, answered["name"])]   # that run alone
        model, _ = runs.load_model(path)
        explained = got["models"][0]["attribution"]
        if path.name == "cnn":
            assert explained is None
            continue
        assert set(explained) == {"target", "class", "occlusion", "integrated-gradients"}
        assert explained["class"] == answered["top"][0]["class"] == CLASSES[explained["target"]]
        for method in ("occlusion", "integrated-gradients"):
            if method == "occlusion" and model.num_steps == 784:     # 784 x 784 steps to read: not computed
                assert explained[method] is None
                continue
            scores = step_attribution(model, image[None], method=method, target=explained["target"])[0]
            assert np.array(explained[method]).shape == (len(model.readers), model.num_steps)
            np.testing.assert_allclose(explained[method], scores.numpy(), atol=1e-4)


def test_explain_explains_one_model_a_request(served, monkeypatch):
    # the cost of a request is one model's, whatever the number of runs served
    client, paths, _ = served
    from rowrnn import serve
    seen = []
    real = serve.reading.attribution_view
    monkeypatch.setattr(serve.reading, "attribution_view", lambda model, image: seen.append(model) or real(model, image))
    assert client.post("/api/explain?run=1", json={"test_index": 3}).status_code == 200
    assert len(seen) == 1 and len(paths) > 1


@pytest.mark.parametrize("url, body, message", [
    ("/api/explain", {"test_index": 3},
     'name the run to explain, one a request: ?run=ID or {{"run": ID}} with an id 0-{last} from /api/runs'),
    ("/api/explain?run=01", {"test_index": 3}, "run must be a run id 0-{last} (from /api/runs), got '01'"),
    ("/api/explain?run={count}", {"test_index": 3}, "run must be a run id 0-{last} (from /api/runs), got '{count}'"),
    ("/api/explain", {"run": True, "test_index": 3}, "run must be a run id 0-{last} (from /api/runs), got True"),
    ("/api/explain", {"run": "0", "test_index": 3}, "run must be a run id 0-{last} (from /api/runs), got '0'"),
    ("/api/explain?run=0", {"run": 1, "test_index": 3},
     "?run=0 and the body's run 1 differ: name one run to explain"),
    ("/api/explain?run=0", {"test_index": 100}, "test image 100 does not exist: the test set has 100 images (0-99)"),
    ("/api/explain?run=0&run=1", {"test_index": 3},
     "run is given 2 times in the query: name one run to explain (?run=ID)"),
    ("/api/explain?run=0&run=0&run=0", {"test_index": 3},
     "run is given 3 times in the query: name one run to explain (?run=ID)"),
    ("/api/explain?run=0&fit=none&fit=trim", {"test_index": 3},
     "fit is given 2 times in the query: give it once (?fit=trim or ?fit=none)"),
])
def test_explain_refuses_what_predict_refuses_and_a_run_it_cannot_name(served, url, body, message):
    client, paths, _ = served
    count = len(paths)
    response = client.post(url.format(count=count), json=body)
    assert response.status_code == 422
    assert response.json() == {"error": message.format(last=count - 1, count=count)}


def test_explain_of_an_image_file_without_a_run_is_refused_before_decoding(served, monkeypatch):
    client, _, _ = served
    from rowrnn import serve
    monkeypatch.setattr(serve, "prepare_picture", lambda *a, **kw: pytest.fail("decoded"))
    response = client.post("/api/explain", content=b"\x89PNG....", headers={"Content-Type": "image/png"})
    assert response.status_code == 422 and response.json()["error"].startswith("name the run to explain")
    assert client.get("/api/explain").status_code == 405


def model_class(i):
    from rowrnn.constants import CLASSES
    return CLASSES[int(i)]


def _huge_png_header():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("body, headers, status, message", [
    (b"", {"Content-Type": "image/png"}, 400, "the request has no body"),
    (b"these are my notes, not a picture", {"Content-Type": "image/png"}, 422,
     "the uploaded image: plain text, not one of the formats rowrnn reads"),
    (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", {"Content-Type": "image/heic"}, 422,
     "the uploaded image: a HEIC/HEIF photo (the iPhone camera's format), not one of the formats rowrnn reads "
     "(PNG, JPEG, WebP, GIF, BMP or TIFF): share or export it as JPEG (on an iPhone, Settings > Camera > Formats > "
     "Most Compatible takes JPEG photos from then on)"),
    (_huge_png_header(), {"Content-Type": "image/png"}, 422, "over the limit of 50 megapixels: shrink it first"),
    (b"x" * (8 * 2**20 + 1), {"Content-Type": "image/jpeg"}, 413, "over the limit of 8 MB"),
    (b"{pixels: ", {"Content-Type": "application/json"}, 422, "the request's JSON is malformed (Expecting"),
    (b'{"hello": 1}', {"Content-Type": "application/json"}, 422, 'send {"pixels"'),
    (json.dumps({"pixels": [[0] * 28] * 27}).encode(), {"Content-Type": "application/json"}, 422,
     "pixels must be 28 rows of 28 numbers"),
    (json.dumps({"pixels": [[300] * 28] * 28}).encode(), {"Content-Type": "application/json"}, 422,
     "pixels must be numbers from 0 (black) to 255 (white)"),
    (json.dumps({"test_index": 100}).encode(), {"Content-Type": "application/json"}, 422,
     "test image 100 does not exist: the test set has 100 images (0-99)"),
    (json.dumps({"test_index": "3"}).encode(), {"Content-Type": "application/json"}, 422,
     "test_index must be an integer, got '3'"),
    (b"[" * 5000 + b"]" * 5000, {"Content-Type": "application/json"}, 422, "the request's JSON is nested too deeply"),
])
def test_every_bad_request_is_a_4xx_with_one_line(served, body, headers, status, message):
    client, paths, _ = served
    before = {p: sorted((q.name, q.stat().st_mtime_ns) for q in p.iterdir()) for p in paths}
    response = client.post("/api/predict", content=body, headers=headers)
    assert response.status_code == status and message in response.json()["error"], response.text
    assert "\n" not in response.json()["error"] and "Traceback" not in response.text
    assert {p: sorted((q.name, q.stat().st_mtime_ns) for q in p.iterdir()) for p in paths} == before


def test_an_upload_declared_too_large_is_refused_before_it_is_read(served):
    client, _, _ = served
    response = client.post("/api/predict", content=b"small", headers={"Content-Length": str(50 * 2**20),
                                                                       "Content-Type": "image/png"})
    assert response.status_code == 413 and "over the limit of 8 MB" in response.json()["error"]


@pytest.mark.parametrize("path, status", [("/api/test-image/100", 404), ("/api/test-image/minus", 404),
                                          ("/api/test-image/-1", 404), ("/api/nothing", 404),
                                          ("/static/../serve.py", 404)])
def test_unknown_things_are_json_404s(served, path, status):
    client, _, _ = served
    response = client.get(path)
    assert response.status_code == status and "error" in response.json()


def test_the_page_and_its_files_are_served(served):
    client, _, _ = served
    page = client.get("/")
    assert page.status_code == 200 and "rowrnn" in page.text and 'src="/static/app.js"' in page.text
    for name in ("app.js", "api.js", "draw.js", "render.js", "i18n.js", "style.css"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and len(response.content) > 200, name


def test_the_page_fetches_nothing_from_the_internet():
    web = serve.WEB
    for path in web.iterdir():
        text = path.read_text()
        assert not re.search(r"(src|href)=[\"']https?://", text), path.name
        assert not re.search(r"(import|fetch)\s*\(?\s*[\"']https?://", text), path.name


# ----------------------------------------------------------------------------- the command

def _start(args, env=None):
    return subprocess.Popen([sys.executable, "-m", "rowrnn", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


def _wait_for_url(proc, timeout=30.0):
    start = time.monotonic()
    line = proc.stdout.readline()
    match = re.search(r"http://[^/\s]+/", line)
    assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
    return match.group(0), time.monotonic() - start


def test_serve_starts_prints_its_address_answers_and_stops_on_sigint(served):
    _, paths, data = served
    proc = _start([str(p) for p in paths[:2]] + ["--port", "0", "--data-dir", str(data)])
    try:
        url, _ = _wait_for_url(proc)
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/runs", timeout=10) as response:
            assert [r["name"] for r in json.load(response)["runs"]] == ["rows", "strips"]
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err.strip() == "rowrnn: interrupted by SIGINT", err


def test_listening_beyond_this_machine_warns(served):
    _, paths, data = served
    proc = _start([str(paths[0]), "--host", "0.0.0.0", "--port", "0", "--data-dir", str(data)])
    try:
        url, _ = _wait_for_url(proc)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "rowrnn: warning: --host 0.0.0.0 makes the page reachable from other machines" in err


@pytest.mark.parametrize("args, message", [
    (["{missing}"], "no such run directory"),
    (["{run}", "--port", "70000"], "--port must be from 0 to 65535, got 70000"),
    (["{run}", "--host", "no-such-host.invalid"], "--host no-such-host.invalid: not an address of this machine"),
    (["{run}", "--host", "192.0.2.1"], "--host 192.0.2.1: not an address of this machine"),
])
def test_serve_refuses_bad_arguments_in_one_line(served, tmp_path, capsys, args, message):
    _, paths, data = served
    argv = ["serve", *[a.format(missing=tmp_path / "missing", run=paths[0]) for a in args], "--data-dir", str(data)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_busy_port_is_one_line(served, capsys):
    import socket
    _, paths, data = served
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        assert main(["serve", str(paths[0]), "--port", str(port), "--data-dir", str(data)]) == 2
    assert f"cannot listen on 127.0.0.1:{port} (the port is in use): choose another --port" in capsys.readouterr().err
