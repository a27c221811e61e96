"""rowrnn.show_reading without a browser: the inlined ES module, the arguments, the state sent to the JavaScript,
the static fallback (a PNG in the output), and what nbclient and nbconvert keep of it. The widget in a real
JupyterLab: tests/test_widget_browser.py."""
import base64
import io
import subprocess
import sys

import nbformat
import numpy as np
import pytest
import torch
from PIL import Image

import rowrnn
from conftest import needs_node, run_module, write_dataset
from rowrnn import reading, runs, widget
from rowrnn.cli import main
from rowrnn.config import ModelConfig
from rowrnn.data import load_split, normalize
from rowrnn.errors import RowrnnError
from rowrnn.models import build_model

@needs_node
def test_the_widget_module_is_the_page_modules_inlined_and_exports_render(tmp_path):
    module = widget.widget_module()
    for name in ("i18n.js", "render.js", "widget.js"):
        assert f"// {name}\n" in module
    # every function render.js exports is in the bundle as written there (reused, not rewritten)
    render_js = (widget.WEB / "render.js").read_text()
    glimpse = render_js.split("export function drawGlimpse", 1)[1].split("\nexport ", 1)[0]
    assert len(glimpse) > 200 and f"function drawGlimpse{glimpse}" in module
    keys = run_module(tmp_path, module, "[typeof m.render, m.stepOf({recurrent: true, steps: 14}, 28, 28), "
                                         "m.stepOf({recurrent: true, steps: 14}, 3, 28), m.stepOf({recurrent: false}, 9, 28)]")
    assert keys == ["function", 14, 2, 1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(run directory, data folder): a one-epoch run on synthetic data, hidden size 6, reading rows."""
    tmp = tmp_path_factory.mktemp("widget")
    data = write_dataset(tmp / "data")
    assert main(["train", "--no-verify", "--epochs", "1", "--batch-size", "64", "--quiet", "--no-figures",
                 "--hidden-size", "6", "--data-dir", str(data), "--out", str(tmp / "tiny")]) == 0
    return tmp / "tiny", data


def test_show_reading_sends_the_pages_dicts_for_a_test_image(tiny):
    run, data = tiny
    view = rowrnn.show_reading(run, 3, data_dir=data)
    test = load_split(data, "test", verify=False)
    model, loaded = runs.load_model(run)
    assert view.index == 3 and view.label == int(test.labels[3])
    assert view.image == test.images[3].tolist()
    assert view.language == "en" and view.step == 28 == view.max_steps
    [sent] = view.runs
    # the page's dict, with the one attribution the widget draws (occlusion for a rows reader)
    assert sent["reading"] == reading.jsonable(reading.reading_view(model, test.images[3], methods=("occlusion",)))
    assert sent["reading"]["attribution"]["integrated-gradients"] is None
    assert sent["info"] == reading.panel_info(model, loaded, "tiny", test_accuracy=loaded.metrics["accuracy"])
    with torch.no_grad():
        probabilities = model.step_probabilities(normalize(test.images[3]).reshape(1, 1, 28, 28))[0]
    assert torch.tensor(sent["reading"]["steps"]).sub(probabilities).abs().max() <= 5e-5   # 4 decimals


def test_images_of_every_kind_give_the_same_pixels(tiny, tmp_path):
    run, data = tiny
    pixels = load_split(data, "test", verify=False).images[5]
    path = tmp_path / "garment.png"
    Image.fromarray(pixels.numpy()).save(path)
    expected = rowrnn.load_image(path).tolist()
    given = {"file": str(path), "path": path, "pil": Image.open(path), "uint8 tensor": pixels,
             "numpy": pixels.numpy(), "floats in [0, 1]": (pixels.float() / 255, (0, 1)), "(1, 28, 28)": pixels[None],
             "normalized": (pixels.float() / 255 - 0.5) / 0.5}
    for kind, image in given.items():
        image, value_range = image if isinstance(image, tuple) else (image, None)
        view = rowrnn.show_reading(run, image, value_range=value_range)
        want = expected if kind in ("file", "path", "pil") else pixels.tolist()
        assert view.image == want, kind
        assert view.label is None and view.index is None


def test_each_model_is_explained_once_by_the_method_drawn_and_the_png_reuses_it(tiny, monkeypatch):
    import rowrnn.attribution
    from rowrnn import plots
    run, data = tiny
    torch.manual_seed(0)
    pixels = build_model(ModelConfig(hidden_size=3, read="pixels"))
    calls, drawn = [], []
    real = rowrnn.attribution.step_attribution

    def counting(model, images, **kwargs):
        calls.append((type(model).__name__, model.read, kwargs["method"]))
        return real(model, images, **kwargs)
    monkeypatch.setattr(reading, "step_attribution", counting)
    monkeypatch.setattr(rowrnn.attribution, "step_attribution", counting)     # what inference.reading_figure calls
    real_plot = plots.plot_reading
    monkeypatch.setattr(plots, "plot_reading", lambda *a, **kw: drawn.append(kw) or real_plot(*a, **kw))
    view = rowrnn.show_reading([run, pixels], 4, data_dir=data)
    view._repr_mimebundle_()                                  # the widget and its static PNG
    view._repr_mimebundle_()
    assert calls == [("RNNClassifier", "rows", "occlusion"), ("RNNClassifier", "pixels", "integrated-gradients")]
    assert [kw["attribution_method"] for kw in drawn] == ["occlusion", "integrated-gradients"]
    for kw, sent in zip(drawn, view.runs):                    # the PNG draws the scores the widget was sent
        method = kw["attribution_method"]
        assert sent["reading"]["attribution"][method] is not None
        np.testing.assert_allclose(kw["attributions"][0].numpy(), sent["reading"]["attribution"][method], atol=5e-5)
        assert kw["targets"].tolist() == [sent["reading"]["attribution"]["target"]]


def test_several_models_side_by_side_with_names_told_apart(tiny):
    run, data = tiny
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden_size=4, read="columns"))
    model.train()
    view = rowrnn.show_reading([run, model, run], 0, data_dir=data, language="es", step=7)
    assert [r["info"]["name"] for r in view.runs] == ["tiny", "RNNClassifier (rnn, columns)", "tiny #2"]
    assert [r["info"]["read"] for r in view.runs] == ["rows", "columns", "rows"]
    assert view.language == "es" and view.step == 7
    assert model.training                       # the caller's model is left as it was


def test_a_cnn_has_no_steps_and_the_slider_one(tiny):
    run, data = tiny
    torch.manual_seed(0)
    cnn = build_model(ModelConfig(arch="cnn", hidden_size=4, num_layers=1))
    view = rowrnn.show_reading(cnn, 0, data_dir=data, verify=False)
    assert view.max_steps == 1 and view.step == 1
    assert view.runs[0]["info"]["recurrent"] is False and view.runs[0]["reading"]["steps"] is None
    png = Image.open(io.BytesIO(view.png()))
    assert png.format == "PNG" and png.width > 300


def test_the_output_holds_the_widget_a_png_of_the_reading_and_a_line(tiny):
    run, data = tiny
    view = rowrnn.show_reading([run, run], 2, data_dir=data)
    data_, metadata = view._repr_mimebundle_()
    assert set(data_) == {"application/vnd.jupyter.widget-view+json", "image/png", "text/plain"}
    assert data_["application/vnd.jupyter.widget-view+json"]["model_id"] == view.model_id
    png = Image.open(io.BytesIO(base64.b64decode(data_["image/png"])))
    one = Image.open(io.BytesIO(rowrnn.widget.reading_figure_png(
        rowrnn.widget.load_models(run), torch.tensor(view.image, dtype=torch.uint8))))
    assert png.size == (one.width, 2 * one.height)           # one reading figure per run, stacked
    first = view.runs[0]["reading"]["top"][0]
    line = f"tiny: {first['class']} {100 * first['probability']:.1f}%"
    assert data_["text/plain"] == f"rowrnn reading of test image 2 at step 28 of 28 — {line}; {line.replace('tiny', 'tiny #2')}"


@pytest.mark.parametrize("args, kwargs, message", [
    ((), {"runs_or_models": [], "image": 0}, "runs_or_models is empty: give a run directory"),
    ((), {"runs_or_models": 3, "image": 0}, "runs_or_models must be a run directory, a weights file or a rowrnn "
                                            "model (or a list of them), got int"),
    ((), {"runs_or_models": [torch.nn.Linear(2, 2)], "image": 0}, "runs_or_models[0] is a Linear, not a rowrnn model"),
    ((), {"image": True}, "image must be a test index, an image file, a PIL image or a 28x28 array, got True"),
    ((), {"image": 10_000}, "image=10000 is not a test index: the test split has 100 images (0-99)"),
    ((), {"image": [1, 2]}, "image must be a test index, an image file, a PIL image or a 28x28 array, got list"),
    ((), {"image": torch.zeros(3, 32, 32)}, "image has shape (3, 32, 32), not 28x28 pixels: rowrnn reads one grey "
                                            "image shaped (28, 28), (1, 28, 28) or (1, 1, 28, 28)"),
    ((), {"image": torch.full((28, 28), 0.5)}, "image holds floats from 0.5 to 0.5: looks like ToTensor() floats in "
                                               "[0, 1]: pass value_range=(0, 1)"),
    ((), {"image": np.full((28, 28), 300)}, "image has dtype int64, not uint8: convert pixels 0-255 with "
                                            ".astype(np.uint8)"),
    ((), {"image": 0, "value_range": (0, 2)}, "value_range must be (-1, 1), (0, 1) or (0, 255)"),
    ((), {"image": 0, "language": "fr"}, "language must be one of en, es, got 'fr'"),
    ((), {"image": 0, "step": 29}, "step must be from 1 to 28, got 29"),
    ((), {"image": 0, "step": "5"}, "step must be an int from 1 to 28, got '5'"),
    ((), {"image": 0, "fit": "crop"}, "fit must be one of"),
])
def test_every_bad_argument_is_one_line_naming_it(tiny, args, kwargs, message):
    run, data = tiny
    kwargs = {"runs_or_models": run, "data_dir": data, **kwargs}
    with pytest.raises(RowrnnError) as error:
        rowrnn.show_reading(*args, **kwargs)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_a_missing_image_file_names_it(tiny, tmp_path):
    run, _ = tiny
    with pytest.raises(RowrnnError, match="nowhere.png"):
        rowrnn.show_reading(run, tmp_path / "nowhere.png")


def test_without_anywidget_the_message_names_the_extra(monkeypatch, tiny):
    run, data = tiny
    widget.widget_class.cache_clear()
    monkeypatch.setitem(sys.modules, "anywidget", None)
    try:
        with pytest.raises(RowrnnError) as error:
            rowrnn.show_reading(run, 0, data_dir=data)
        assert str(error.value) == "show_reading needs anywidget, which is not installed: pip install 'rowrnn[notebooks]'"
    finally:
        widget.widget_class.cache_clear()


@pytest.mark.slow
@pytest.mark.notebooks
def test_an_executed_notebook_keeps_the_widget_and_its_png_and_nbconvert_shows_the_png(tiny, tmp_path):
    """What nbclient writes into the notebook, and what `jupyter nbconvert --to html` shows of it: the PNG where
    the notebook holds no widget state (a viewer that cannot run widgets), the widget where it does."""
    from nbclient import NotebookClient
    run, data = tiny
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"import rowrnn\nrowrnn.show_reading({str(run)!r}, 1, data_dir={str(data)!r})")]
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    [output] = nb.cells[0].outputs
    assert output.output_type == "execute_result"
    assert set(output.data) == {"application/vnd.jupyter.widget-view+json", "image/png", "text/plain"}
    assert output.data["text/plain"].startswith("rowrnn reading of test image 1 at step 28 of 28 — tiny: ")
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    model_id = output.data["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert state[model_id]["state"]["index"] == 1 and state[model_id]["state"]["_esm"] == widget.widget_module()
    png = output.data["image/png"]
    with_state = tmp_path / "with-state.ipynb"
    nbformat.write(nb, with_state)
    del nb.metadata["widgets"]
    without_state = tmp_path / "without-state.ipynb"
    nbformat.write(nb, without_state)
    done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(with_state),
                           str(without_state)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    without = (tmp_path / "without-state.html").read_text()
    assert f'src="data:image/png;base64,{png}' in without
    assert "application/vnd.jupyter.widget-view+json" not in without
    shown = (tmp_path / "with-state.html").read_text()
    assert f'"model_id": "{model_id}"' in shown and png not in shown


def test_the_widget_builds_its_panels_from_the_pages_template():
    template = widget.panel_template()
    assert template.startswith('<article class="panel card" data-testid="panel">')
    for testid in ("glimpse", "bars", "steps-map", "hidden-map", "attribution", "numbers", "top3"):
        assert f'data-testid="{testid}"' in template


@pytest.mark.parametrize("given", ["ES", "Es", " es "])
def test_language_is_taken_in_any_case(tiny, given):
    """show_reading(language="ES") was refused; the widget's trait takes the same spellings."""
    run, data = tiny
    view = rowrnn.show_reading(run, 0, data_dir=data, language=given)
    assert view.language == "es"
    view.language = "EN"
    assert view.language == "en"
