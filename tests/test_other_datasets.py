"""Every command, the page's JSON, the widget and the readings follow the run's dataset (issue 28, item 3): a run
of scikit-learn's 8x8 digits (an image folder) and a named `mnist` run (synthetic IDX files) name their own
classes, take images at their own size and say so in their outputs."""
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

import rowrnn
from rowrnn import datasets, plots, reading
from rowrnn.cli import main
from rowrnn.config import build_config
from rowrnn.constants import CLASSES
from rowrnn.errors import RowrnnError
from rowrnn.models import count_parameters, parameter_count
from test_own_data import digits_folder

DIGITS = [str(k) for k in range(10)]
TRAIN = ["train", "--quiet", "--no-figures", "--batch-size", "64", "--lr", "0.01"]


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """(folder, a GRU-16 rows run, a CNN run, a rows+columns strips-of-2 run), all of the digits at side 8."""
    tmp = tmp_path_factory.mktemp("digits")
    folder, _ = digits_folder(tmp / "digits")
    paths = {"gru": ["--cell", "gru", "--hidden-size", "16", "--epochs", "4"],
             "cnn": ["--preset", "cnn", "--hidden-size", "4", "--num-layers", "1", "--epochs", "1"],
             "strips": ["--read", "rows+columns", "--rows-per-step", "2", "--hidden-size", "4", "--epochs", "1"]}
    made = {}
    for name, flags in paths.items():
        made[name] = tmp / name
        assert main([*TRAIN, "--dataset", str(folder), "--image-size", "8", "--out", str(made[name]), *flags]) == 0
    return folder, made["gru"], made["cnn"], made["strips"]


def _png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _drawn_digit() -> bytes:
    """A person's drawing: a dark stroke on a white 120x90 canvas."""
    canvas = np.full((90, 120), 255, np.uint8)
    canvas[15:75, 55:65] = 0
    return _png(canvas)


# ------------------------------------------------------------------------------------------- commands

def test_predict_names_digits_and_converts_pictures_as_the_folder_was(digits, tmp_path, capsys):
    _, run, _, _ = digits
    drawing = tmp_path / "drawn.png"
    drawing.write_bytes(_drawn_digit())
    capsys.readouterr()
    assert main(["predict", str(run), str(drawing), "--test-index", "0", "--test-index", "5", "--json",
                 "--top", "10"]) == 0
    answers = json.loads(capsys.readouterr().out)
    assert [a["image"] for a in answers] == [str(drawing), "test[0]", "test[5]"]
    test_set = rowrnn.evaluation.load_test_set(run)
    assert [a["expected"] for a in answers] == [None, DIGITS[int(test_set.labels[0])], DIGITS[int(test_set.labels[5])]]
    for answer in answers:
        assert sorted(t["class"] for t in answer["top"]) == DIGITS
    # the drawing became what the folder's files became: grey, resized to 8x8, not inverted nor trimmed
    info = datasets.dataset_of(run)
    assert (info.image_size, info.conversion, datasets.photo_fit(info)) == (8, "plain", None)
    prepared = datasets.prepare_picture(drawing.read_bytes(), "drawn.png", info)
    assert prepared.image.shape == (8, 8) and prepared.image.dtype == torch.uint8
    assert torch.equal(prepared.image, datasets.convert_folder_image(drawing.read_bytes(), "d", 8, "plain"))
    assert prepared.original.shape == (90, 120, 3)
    model, _ = rowrnn.load_model(run)
    expected = rowrnn.predict(model, prepared.image[None], top=10)[0]
    assert [(c, round(p, 3)) for c, p in expected] == [(t["class"], round(t["probability"], 3))
                                                      for t in answers[0]["top"]]
    # a fit is Fashion-MNIST's photo conversion: a plain folder's run refuses it in one line
    assert main(["predict", str(run), str(drawing), "--fit", "trim"]) == 2
    folder = datasets.dataset_of(run).name
    assert capsys.readouterr().err == (
        f"rowrnn: error: --fit trim: this run's images ({folder}) were converted plain (grey, resized to 8x8), "
        "and so are pictures for it: drop --fit\n")
    with pytest.raises(RowrnnError, match=r"^fit none: this run's images .* drop fit$"):
        rowrnn.predict_files(run, [drawing], fit="none")
    got = rowrnn.predict_files(run, [drawing], top=10)
    assert [c for c, _ in got[0]] == [c for c, _ in expected]
    # images already at the run's size are read as they are; another size is refused naming the shapes
    assert rowrnn.predict_files(run, test_set.images[:2])[0][0][0] in DIGITS
    with pytest.raises(RowrnnError, match=r"\(N, 1, 8, 8\), \(N, 8, 8\) or \(8, 8\)"):
        rowrnn.predict_files(run, torch.zeros(2, 28, 28, dtype=torch.uint8))


def test_predict_explain_plot_summary_and_compare_use_the_runs_size(digits, tmp_path, capsys):
    _, run, cnn, strips = digits
    figure = tmp_path / "explained.png"
    assert main(["predict", str(run), "--test-index", "3", "--explain", str(figure)]) == 0
    assert Image.open(figure).size[0] > 400
    assert main(["plot", str(run)]) == 0
    assert (run / "reading.png").exists() and (run / "confusion.png").exists()
    capsys.readouterr()
    assert main(["summary", str(run)]) == 0
    table = capsys.readouterr().out
    assert "[1, 1, 8, 8]" in table and "[1, 10]" in table
    model, _ = rowrnn.load_model(run)
    assert f"trainable parameters: {count_parameters(model):,}" in table
    for path in (run, cnn, strips):
        loaded, saved = rowrnn.load_model(path)
        assert parameter_count(saved.config.model, num_classes=10, image_size=8) == count_parameters(loaded)
        from rowrnn.compare import leaderboard_row
        row = leaderboard_row(path, saved.config.preset, 0)
        assert row["parameters"] == count_parameters(loaded)
    assert main(["summary", str(cnn)]) == 0
    assert "[1, 1, 8, 8]" in capsys.readouterr().out


def test_attribution_and_readings_name_the_runs_classes(digits):
    _, run, cnn, strips = digits
    model, _ = rowrnn.load_model(run)
    test_set = rowrnn.evaluation.load_test_set(run)
    x = test_set.images[:2]                                                        # (2, 8, 8) uint8
    scores = rowrnn.step_attribution(model, x, target="7")
    assert scores.shape == (2, 1, 8)
    torch.testing.assert_close(scores, rowrnn.step_attribution(model, x, target=7))
    with pytest.raises(RowrnnError, match=r"^target must be a class index 0-9 or a class name of the model's "
                                          r"classes \(0, 1, 2, 3, 4, 5, 6, 7, 8, 9\), got 'Shirt'$"):
        rowrnn.step_attribution(model, x, target="Shirt")
    view = reading.reading_view(model, x[0])
    assert view["steps"].shape == (8, 10) and view["hidden"].shape == (8, 16)
    assert {t["class"] for t in view["top"]} <= set(DIGITS) and view["attribution"]["class"] in DIGITS
    assert view["attribution"]["occlusion"].shape == (1, 8) and view["unrolled"]["steps"] == 8
    info = reading.panel_info(model, None, "gru")
    assert (info["classes"], info["image_size"], info["steps"]) == (DIGITS, 8, 8)
    assert info["step_lines"] == [[t, t] for t in range(8)]
    both, _ = rowrnn.load_model(strips)
    info = reading.panel_info(both, None, "strips")
    assert info["steps"] == 4 and info["step_lines"] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert reading.reading_view(both, x[0])["attribution"]["occlusion"].shape == (2, 4)
    with pytest.raises(RowrnnError, match="^classes names 2 classes, but the model has 10 outputs"):
        reading.reading_view(model, x[0], classes=["a", "b"])
    # an attribution map at the run's size: rows of 1, strips of 2 rows and columns
    assert plots.attribution_map(torch.arange(8.0), "rows", image_size=8)[:, 3].tolist() == list(range(8))
    painted = plots.attribution_map(torch.stack([torch.arange(4.0), 10 * torch.arange(4.0)]), "rows+columns",
                                    rows_per_step=2, image_size=8)
    assert painted.shape == (8, 8) and painted[5, 7] == 2 + 30
    with pytest.raises(RowrnnError, match=r"rows_per_step must be one of 1, 2, 4, 8 \(the model's\), got 7"):
        plots.attribution_map(torch.arange(4.0), "rows", rows_per_step=7, image_size=8)
    figure = plots.plot_attribution(x[0], scores[0], target=7, classes=DIGITS)
    assert "attribution to 7" in figure.axes[-1].get_ylabel()


def test_a_teacher_of_other_classes_is_refused_naming_the_students(digits, tmp_path, capsys):
    folder, _, _, _ = digits
    fashion = tmp_path / "fashion"
    from conftest import write_dataset
    data = write_dataset(tmp_path / "fm", n_train=200, n_test=50)
    assert main([*TRAIN, "--epochs", "1", "--data-dir", str(data), "--no-verify", "--out", str(fashion)]) == 0
    student = tmp_path / "student"
    assert main([*TRAIN, "--epochs", "1", "--dataset", str(folder), "--image-size", "8", "--distill-from",
                 str(fashion), "--out", str(student)]) == 2
    assert capsys.readouterr().err == (
        f"rowrnn: error: --distill-from {fashion}: the teacher was tested on the classes "
        f"{', '.join(CLASSES)}, not this run's 10 (0, 1, 2, 3, 4, 5, 6, 7, 8, 9): distill from a run trained on "
        "this run's classes\n")
    assert not student.exists()


# ------------------------------------------------------------------------------------------- serve

@pytest.fixture(scope="module")
def served(digits):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from rowrnn import serve
    _, run, cnn, strips = digits
    app = serve.create_app([run, cnn, strips])
    return TestClient(app, base_url="http://127.0.0.1:8000"), run


def test_serve_sends_the_runs_classes_and_size(served):
    client, run = served
    info = client.get("/api/runs").json()
    assert info["classes"] == DIGITS and info["image_size"] == 8 and info["dataset"] == "digits"
    test_set = rowrnn.evaluation.load_test_set(run)
    assert info["test_images"] == len(test_set) == 359
    gru, cnn, strips = info["runs"]
    assert (gru["steps"], gru["image_size"], gru["classes"]) == (8, 8, DIGITS)
    assert strips["step_lines"] == [[0, 1], [2, 3], [4, 5], [6, 7]] and cnn["step_lines"] is None
    image = client.get("/api/test-image/4").json()
    assert image["pixels"] == test_set.images[4].tolist() and len(image["pixels"]) == 8
    assert image["class"] == DIGITS[int(test_set.labels[4])]


def test_serve_reads_pixels_and_pictures_at_the_runs_size(served):
    client, run = served
    test_set = rowrnn.evaluation.load_test_set(run)
    answer = client.post("/api/predict", json={"pixels": test_set.images[4].tolist()}).json()
    assert answer["image"] == test_set.images[4].tolist()
    gru, cnn, strips = answer["models"]
    assert np.shape(gru["steps"]) == (8, 10) and np.shape(strips["steps"]) == (4, 10) and gru["hidden"]
    assert len(cnn["final"]) == 10 and cnn["steps"] is None
    assert {t["class"] for m in answer["models"] for t in m["top"]} <= set(DIGITS)
    model, _ = rowrnn.load_model(run)
    view = reading.jsonable(reading.reading_view(model, test_set.images[4], attribution=False))
    assert gru["final"] == view["final"] and gru["top"] == view["top"]
    refused = client.post("/api/predict", json={"pixels": [[0] * 28] * 28})
    assert refused.status_code == 422 and refused.json() == {"error": "pixels must be 8 rows of 8 numbers"}
    refused = client.post("/api/predict", json={"nothing": 1})
    assert refused.json() == {"error": 'send {"pixels": 8 rows of 8 values 0-255} or {"test_index": N}'}
    drawn = client.post("/api/predict", content=_drawn_digit(), headers={"content-type": "image/png"}).json()
    info = datasets.dataset_of(run)
    assert drawn["image"] == datasets.prepare_picture(_drawn_digit(), "d", info).image.tolist()
    assert np.shape(drawn["image"]) == (8, 8)
    refused = client.post("/api/predict?fit=trim", content=_drawn_digit(), headers={"content-type": "image/png"})
    assert refused.status_code == 422 and refused.json()["error"].startswith("fit trim: this run's images")
    explained = client.post("/api/explain?run=0", json={"test_index": 4}).json()["models"][0]["attribution"]
    assert explained["class"] in DIGITS and np.shape(explained["occlusion"]) == (1, 8)


def test_serve_refuses_runs_of_other_classes_or_sizes_in_one_line(digits, tmp_path):
    pytest.importorskip("starlette")
    from rowrnn import serve
    _, run, _, _ = digits
    fashion = rowrnn.fit(build_config("notebook", {"epochs": 1, "batch_size": 64, "verify": False,
                                                   "data_dir": str(_fashion_data(tmp_path))}),
                         tmp_path / "fashion", figures=False).path
    with pytest.raises(RowrnnError) as refusal:
        serve.create_app([run, fashion])
    message = str(refusal.value)
    assert message == ("these runs read different classes or image sizes, which one page cannot show side by side: "
                       "gru (digits: 10 classes 0, 1, 2, 3, ... at 8x8); fashion (fashion-mnist: 10 classes "
                       "T-shirt/top, Trouser, Pullover, Dress, ... at 28x28): serve each group with its own "
                       "rowrnn serve")


def _fashion_data(tmp_path):
    from conftest import write_dataset
    return write_dataset(tmp_path / "fm", n_train=200, n_test=50)


# ------------------------------------------------------------------------------------------- widget

def test_the_widget_reads_a_digits_run(digits, tmp_path):
    pytest.importorskip("anywidget")
    _, run, cnn, _ = digits
    widget = rowrnn.show_reading([run, cnn], 6)
    test_set = rowrnn.evaluation.load_test_set(run)
    assert widget.classes == DIGITS and widget.image == test_set.images[6].tolist()
    assert widget.label == int(test_set.labels[6]) and widget.step == 8 and widget.max_steps == 8
    gru, small_cnn = widget.runs
    assert gru["info"]["classes"] == DIGITS and gru["info"]["image_size"] == 8
    assert np.shape(gru["reading"]["steps"]) == (8, 10) and small_cnn["reading"]["steps"] is None
    assert widget.summary().startswith("rowrnn reading of test image 6 at step 8 of 8 — gru: ")
    png = Image.open(io.BytesIO(widget.png()))
    assert png.size[1] > 300
    drawing = tmp_path / "drawn.png"
    drawing.write_bytes(_drawn_digit())
    drawn = rowrnn.show_reading(run, drawing)
    info = datasets.dataset_of(run)
    assert drawn.image == datasets.prepare_picture(_drawn_digit(), "d", info).image.tolist()
    assert rowrnn.show_reading(run, test_set.images[1].numpy()).image == test_set.images[1].tolist()
    with pytest.raises(RowrnnError, match=r"^image has shape \(28, 28\), not 8x8 pixels: rowrnn reads one grey "
                                          r"image shaped \(8, 8\), \(1, 8, 8\) or \(1, 1, 8, 8\)"):
        rowrnn.show_reading(run, torch.zeros(28, 28, dtype=torch.uint8))
    fashion_model = rowrnn.build_model(build_config("notebook").model)
    with pytest.raises(RowrnnError) as refusal:
        rowrnn.show_reading([run, fashion_model], 0)
    assert str(refusal.value) == ("runs_or_models read different classes or image sizes (gru: 10 classes at 8x8; "
                                  "RNNClassifier (rnn, rows): 10 classes at 28x28): show each dataset's models in "
                                  "their own show_reading")


# ------------------------------------------------------------------------------------------- named mnist

def test_a_named_mnist_run_follows_its_dataset(tmp_path, monkeypatch, capsys):
    from test_datasets import patched, write_named
    written = write_named(tmp_path / "m", "mnist", n=(120, 40))
    patched(monkeypatch, "mnist", written, counts=(120, 40))
    run = tmp_path / "run"
    assert main([*TRAIN, "--dataset", "mnist", "--data-dir", str(tmp_path / "m"), "--epochs", "1",
                 "--out", str(run)]) == 0
    info = datasets.dataset_of(run)
    assert (info.name, info.classes, info.image_size, datasets.photo_fit(info)) == ("mnist", tuple(DIGITS), 28, "none")
    drawing = tmp_path / "drawn.png"
    drawing.write_bytes(_drawn_digit())
    capsys.readouterr()
    assert main(["predict", str(run), str(drawing), "--test-index", "2", "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)
    test_set = rowrnn.evaluation.load_test_set(run)
    assert answers[1]["expected"] == DIGITS[int(test_set.labels[2])]
    assert all(t["class"] in DIGITS for a in answers for t in a["top"])
    # pictures for MNIST: the Fashion-MNIST conversion without trimming (fitted whole, light on black)
    model, _ = rowrnn.load_model(run)
    untrimmed = rowrnn.images.decode_image(drawing.read_bytes(), "d", fit="none")
    assert [t["class"] for t in answers[0]["top"]] == [c for c, _ in rowrnn.predict(model, untrimmed[None])[0]]
    assert torch.equal(datasets.prepare_picture(drawing.read_bytes(), "d", info).image, untrimmed)
    assert main(["predict", str(run), str(drawing), "--fit", "trim", "--json"]) == 0       # asked for: allowed
    trimmed = rowrnn.images.decode_image(drawing.read_bytes(), "d", fit="trim")
    top = json.loads(capsys.readouterr().out)[0]["top"]
    assert [t["class"] for t in top] == [c for c, _ in rowrnn.predict(model, trimmed[None])[0]]
    assert main(["summary", str(run)]) == 0
    assert "[1, 1, 28, 28]" in capsys.readouterr().out
    # the ONNX export reads its own dataset's test split for --test-index, not Fashion-MNIST's
    pytest.importorskip("onnxruntime")
    assert main(["export", str(run), "--out", str(tmp_path / "m.onnx"), "--data-dir", str(tmp_path / "m")]) == 0
    capsys.readouterr()
    assert main(["predict", "--onnx", str(tmp_path / "m.onnx"), "--test-index", "2",
                 "--data-dir", str(tmp_path / "m"), "--json"]) == 0
    onnx_answer = json.loads(capsys.readouterr().out)[0]
    assert onnx_answer["expected"] == DIGITS[int(test_set.labels[2])]
    assert [t["class"] for t in onnx_answer["top"]] == [t["class"] for t in answers[1]["top"]]
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from rowrnn import serve
    client = TestClient(serve.create_app([run]), base_url="http://127.0.0.1:8000")
    listed = client.get("/api/runs").json()
    assert listed["classes"] == DIGITS and listed["image_size"] == 28 and listed["dataset"] == "mnist"
    assert listed["test_images"] == 40
    got = client.post("/api/predict", content=drawing.read_bytes(), headers={"content-type": "image/png"}).json()
    assert got["image"] == untrimmed.tolist()
