"""One meaning for every image array (issue 26, family 1): ONE table of inputs, run against EVERY public entry point
that takes images. An accepted form must give exactly what the same entry point gives for the normalized float32
image it stands for (declared value_range=(-1, 1)); a refused one the same one-line RowrnnError fragment everywhere.
"""
import json

import numpy as np
import pytest
import torch
from PIL import Image

import rowrnn
from rowrnn import export, inference, plots, reading
from rowrnn.attribution import step_attribution
from rowrnn.constants import CLASSES
from rowrnn.data import normalize
from rowrnn.errors import RowrnnError
from rowrnn.models import RNNClassifier
from rowrnn.pixels import display_pixels, model_input
from rowrnn.unrolling import unroll

g = torch.Generator().manual_seed(0)
U = torch.randint(0, 256, (1, 28, 28), generator=g, dtype=torch.uint8)      # one garment-like uint8 image
U[:, :3] = 0                                                               # with its black background
X = normalize(U)                                                           # what the model must see, (1, 28, 28)

NAN = X.clone().index_fill_(2, torch.tensor([3]), float("nan"))
INF = X.clone().index_fill_(2, torch.tensor([3]), float("inf"))

# name: (input, value_range, the normalized image it stands for) or (input, value_range, refusal fragment)
TABLE = {
    "uint8 (N, 28, 28)": (U, None, X),
    "uint8 (N, 1, 28, 28)": (U[:, None], None, X),
    "uint8 (28, 28)": (U[0], None, X),
    "uint8 numpy": (U.numpy(), None, X),
    "uint8, value_range=(0, 255)": (U, (0, 255), X),
    "normalized float32": (X, None, X),
    "normalized float32, declared": (X, (-1, 1), X),
    "normalized float64 numpy": (X.double().numpy(), None, X),
    "normalized float16": (X.half(), None, X.half().float()),
    "ToTensor() [0, 1], declared": (U.float() / 255, (0, 1), X),
    "ToTensor() [0, 1] numpy float64, declared": (U.numpy() / 255.0, (0, 1), X),
    "floats 0-255, declared": (U.float(), (0, 255), X),
    "ToTensor() [0, 1], undeclared": (U.float() / 255, None,
                                      "looks like ToTensor() floats in [0, 1]: pass value_range=(0, 1), "
                                      "or normalize with Normalize(0.5, 0.5)"),
    "floats 0-255, undeclared": (U.float(), None, "like pixels 0-255 held as floats: pass value_range=(0, 255)"),
    "dataset mean/std": ((U.float() / 255 - 0.2860) / 0.3530, None, "outside [-1, 1]: rowrnn's models take "
                                                                    "ToTensor() + Normalize(0.5, 0.5)"),
    "[0, 1] declared as (-1, 1) but over": (U.float(), (-1, 1), "outside value_range=(-1, 1)"),
    "uint8 declared (0, 1)": (U, (0, 1), "value_range=(0, 1) describes floats, but"),
    "unknown value_range": (U, (0, 2), "value_range must be (-1, 1), (0, 1) or (0, 255)"),
    "int64": (U.long(), None, "has dtype int64, not uint8: convert pixels 0-255 with .to(torch.uint8)"),
    "int64 numpy": (U.long().numpy(), None, "has dtype int64, not uint8: convert pixels 0-255 with "
                                            ".astype(np.uint8)"),
    "bool": (U > 0, None, "has dtype bool: give uint8 pixels 0-255, or floats normalized to [-1, 1]"),
    "RGB (28, 28, 3)": (U[0, :, :, None].expand(28, 28, 3), None, "a colour image (3 channels)"),
    "RGB (N, 3, 28, 28)": (U[:, None].expand(1, 3, 28, 28), None, "a colour image (3 channels)"),
    "RGBA (N, 28, 28, 4)": (U[..., None].expand(1, 28, 28, 4), None, "a colour image (4 channels)"),
    "wrong size": (torch.zeros(1, 32, 32, dtype=torch.uint8), None, "has shape (1, 32, 32), not 28x28 pixels"),
    "NaN": (NAN, None, "holds NaN or infinite values"),
    "inf": (INF, None, "holds NaN or infinite values"),
    "empty": (torch.zeros(0, 28, 28, dtype=torch.uint8), None, "(0, 28, 28)"),
    "list": (U[0].tolist(), None, "got list"),
    # views and autograd: read as the values they show, whatever their strides
    "uint8 transposed view": (U.transpose(1, 2), None, X.transpose(1, 2).contiguous()),
    "uint8 every other pixel of a 56x56": (U.repeat_interleave(2, 1).repeat_interleave(2, 2)[:, ::2, ::2], None, X),
    "uint8 numpy flipped view (negative strides)": (U.numpy()[:, ::-1], None, X.flip(1)),
    "normalized float32, requires_grad": (X.clone().requires_grad_(True), None, X),
    "normalized float64, requires_grad": (X.double().requires_grad_(True), None, X),
    "normalized bfloat16": (X.bfloat16(), None, X.bfloat16().float()),
    "ToTensor() [0, 1] float16, declared": ((U.float() / 255).half(), (0, 1), (U.float() / 255).half().float() * 2 - 1),
    "numpy float32 of uint8 pixels, declared": (U.numpy().astype(np.float32), (0, 255), X),
    "all-light drawing, normalized and declared": (torch.ones(1, 28, 28), (-1, 1), torch.ones(1, 28, 28)),
    # refusals that name what the thing is and the way out
    "all-light drawing, normalized, undeclared": (torch.ones(1, 28, 28), None,
                                                  "an all-light drawing)? pass value_range=(-1, 1)"),
    "one channel last (N, 28, 28, 1)": (U[..., None], None, "its one channel last: rowrnn reads"),
    "flattened (N, 784)": (U.reshape(1, 784), None, "784 pixels in a row"),
    "floats far beyond float32": (np.full((1, 28, 28), 1e300), None, "holds floats from 1e+300 to 1e+300, outside [-1, 1]"),
    "sparse": (X.to_sparse(), None, "sparse_coo tensor: give a dense one"),
}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return RNNClassifier(cell="gru", hidden_size=3).eval()


@pytest.fixture(scope="module")
def onnx(model):
    data = export.to_onnx_bytes(model, {"rowrnn.classes": json.dumps(list(CLASSES)),
                                        "rowrnn.normalization": json.dumps(export.NORMALIZATION)})
    return export.OnnxClassifier(data)


def _captured(monkeypatch, module, name):
    """Replace module.name by a recorder of its arguments; returns the list of calls."""
    calls = []
    monkeypatch.setattr(module, name, lambda *args, **kwargs: calls.append((args, kwargs)))
    return calls


def _reading_figure(model, images, value_range, monkeypatch):
    calls = _captured(monkeypatch, plots, "plot_reading")
    inference.reading_figure(model, images, value_range=value_range)
    (args, kwargs), = calls
    return args[0].tolist(), args[1].tolist(), kwargs["attributions"].tolist()


def _plot_attribution(images, value_range):
    fig = plots.plot_attribution(images, torch.arange(28.0), value_range=value_range)
    drawn = fig.axes[0].images[0].get_array().tolist()
    import matplotlib.pyplot as plt
    plt.close(fig)
    return drawn


def _show_reading(model, images, value_range):
    view = rowrnn.show_reading(model, images, value_range=value_range)
    return view.image, view.runs


def _predict_files(model, images, value_range, monkeypatch):
    monkeypatch.setattr(rowrnn.runs, "load_model", lambda path, weights: (model, None))
    # no run on disk: its config.json's dataset (sizes, classes) is Fashion-MNIST's, as the model's
    monkeypatch.setattr(rowrnn.runs, "resolve_weights", lambda path, weights: (path, None))
    monkeypatch.setattr(inference, "dataset_of", lambda source: rowrnn.datasets.dataset_of("fashion-mnist"))
    return inference.predict_files("a run", images, value_range=value_range)


# name: (call(model, onnx, images, value_range, monkeypatch) -> a comparable answer, takes one image only)
ENTRY_POINTS = {
    "OnnxClassifier": (lambda m, o, x, vr, mp: o(x, value_range=vr).tolist(), False),
    "predict (torch)": (lambda m, o, x, vr, mp: inference.predict(m, x, value_range=vr), False),
    "predict (ONNX)": (lambda m, o, x, vr, mp: inference.predict(o, x, value_range=vr), False),
    "predict_files (arrays)": (lambda m, o, x, vr, mp: _predict_files(m, x, vr, mp), False),
    "predict_files (list of one image)": (lambda m, o, x, vr, mp: _predict_files(m, [x], vr, mp), True),
    "step_attribution": (lambda m, o, x, vr, mp: step_attribution(m, x, value_range=vr).tolist(), False),
    "step_attribution (integrated gradients)": (
        lambda m, o, x, vr, mp: step_attribution(m, x, method="integrated-gradients", n_steps=4,
                                                 value_range=vr).tolist(), False),
    "unroll": (lambda m, o, x, vr, mp: unroll(m, x, value_range=vr), True),
    "reading_view": (lambda m, o, x, vr, mp: reading.dumps(reading.reading_view(m, x, value_range=vr)), True),
    "attribution_view": (lambda m, o, x, vr, mp: reading.dumps(reading.attribution_view(m, x, value_range=vr)),
                         True),
    "reading.as_image": (lambda m, o, x, vr, mp: reading.as_image(x, value_range=vr).tolist(), True),
    "show_reading": (lambda m, o, x, vr, mp: _show_reading(m, x, vr), True),
    "reading_figure": (lambda m, o, x, vr, mp: _reading_figure(m, x, vr, mp), False),
    "plot_attribution": (lambda m, o, x, vr, mp: _plot_attribution(x, vr), True),
    "RNNClassifier.step_probabilities": (lambda m, o, x, vr, mp: m.step_probabilities(x, value_range=vr).tolist(),
                                         False),
    "RNNClassifier.step_logits": (lambda m, o, x, vr, mp: m.step_logits(x, value_range=vr).tolist(), False),
    "RNNClassifier.hidden_states": (lambda m, o, x, vr, mp: m.hidden_states(x, value_range=vr).tolist(), False),
    "RNNClassifier.reading": (lambda m, o, x, vr, mp: [t.tolist() for t in m.reading(x, value_range=vr)], False),
}


@pytest.mark.parametrize("case", list(TABLE))
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_every_entry_point_reads_every_form_alike(entry, case, model, onnx, monkeypatch):
    call, _ = ENTRY_POINTS[entry]
    images, value_range, expected = TABLE[case]
    if entry == "plot_attribution" and case == "wrong size":
        # no model to say the size: a 32x32 image is one of another dataset's, and the 28 steps' scores are what
        # does not fit it
        expected = "scores must have shape (1, 32) or (32,) for read='rows' with rows_per_step=1"
    if isinstance(expected, str):
        with pytest.raises(RowrnnError) as refusal:
            call(model, onnx, images, value_range, monkeypatch)
        message = str(refusal.value)
        assert expected in message and "\n" not in message, message
        return
    with torch.no_grad():
        want = call(model, onnx, expected.clone(), (-1, 1), monkeypatch)   # the normalized image, declared
    assert call(model, onnx, images, value_range, monkeypatch) == want


def test_the_model_sees_exactly_the_normalized_image():
    for case, (images, value_range, expected) in TABLE.items():
        if not isinstance(expected, str):
            assert torch.equal(model_input(images, value_range=value_range), expected.reshape(-1, 1, 28, 28)), case


def test_single_image_entry_points_refuse_a_batch_of_two(model):
    two = torch.cat([U, U])
    for entry, (call, single) in ENTRY_POINTS.items():
        if single and entry != "predict_files (list of one image)":
            with pytest.raises(RowrnnError, match=r"has shape \(2, 28, 28\): rowrnn reads one grey image shaped "
                                                  r"\(28, 28\), \(1, 28, 28\) or \(1, 1, 28, 28\)"):
                call(model, None, two, None, None)


def test_the_issue_cases(model, onnx):
    """Raw uint8 pixels score as the normalized floats they stand for, ToTensor() floats declared as the uint8,
    and one RGB image is refused instead of giving three answers."""
    test = torch.randint(0, 256, (5, 28, 28), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    logits = onnx(normalize(test).unsqueeze(1))
    np.testing.assert_array_equal(onnx(test), logits)
    np.testing.assert_array_equal(onnx(test.float() / 255, value_range=(0, 1)), logits)
    with torch.no_grad():
        np.testing.assert_allclose(logits, model(normalize(test).unsqueeze(1)).numpy(), atol=1e-4)
    with pytest.raises(RowrnnError, match=r"a colour image \(3 channels\)"):
        onnx(test[0, :, :, None].expand(28, 28, 3).numpy())
    assert torch.equal(step_attribution(model, test.float() / 255, value_range=(0, 1)), step_attribution(model, test))
    assert torch.equal(display_pixels(model_input(test)), test[:, None])          # drawn as given


def test_a_pil_image_is_refused_with_its_way_out_except_where_pictures_are_read(model, onnx, monkeypatch):
    """A PIL image (torchvision's FashionMNIST without a transform gives one) is not guessed at where arrays are
    read: the one line names np.asarray(...). show_reading takes pictures as files are taken, and a 28x28 grey one
    comes through as its own pixels."""
    picture = Image.fromarray(U[0].numpy())
    for entry, (call, _) in ENTRY_POINTS.items():
        if entry == "show_reading":
            image, _ = call(model, onnx, picture, None, monkeypatch)
            assert image == _show_reading(model, U[0], None)[0], entry
            continue
        with pytest.raises(RowrnnError) as refusal:
            call(model, onnx, picture, None, monkeypatch)
        message = str(refusal.value)
        assert "got Image: " in message and "np.asarray(" in message and "\n" not in message, (entry, message)


@pytest.mark.parametrize("images, message", [
    (Image.fromarray(U[0].numpy()), "images must be image files (a path or a list of them) or images as a tensor "
                                    "or numpy array, got Image: save it and give the file (converted as photos "
                                    "are), or np.asarray(image) for a 28x28 grey one"),
    ([Image.fromarray(U[0].numpy())], "images[0] must be an image file or one image as a tensor or numpy array, "
                                      "got Image: save it"),
    (3, "images must be image files (a path or a list of them) or images as a tensor or numpy array, got int"),
    (U[0].tolist(), "images[0] must be an image file or one image as a tensor or numpy array, got list: "
                    "np.array(images, dtype=np.uint8) for one image given as lists of pixel values 0-255"),
])
def test_predict_files_names_the_way_out_for_what_is_neither_a_file_nor_an_array(images, message):
    with pytest.raises(RowrnnError) as refusal:          # before any run is looked for
        inference.predict_files("no such run", images)
    assert str(refusal.value).startswith(message), str(refusal.value)


def test_model_input_messages_in_full():
    """The ways out, whole: lists, PIL images, an all-light drawing, one channel last, flattened pixels."""
    cases = [
        ([U[0]], "images must be a torch tensor or numpy array of uint8 pixels 0-255, or floats normalized to "
                 "[-1, 1] as ToTensor() + Normalize(0.5, 0.5) gives them (ToTensor() floats in [0, 1]: pass "
                 "value_range=(0, 1)), got list: torch.stack(images) for a list of tensors, np.array(images, "
                 "dtype=np.uint8) for pixel values"),
        (torch.ones(28, 28), "images holds floats from 1 to 1: looks like ToTensor() floats in [0, 1]: pass "
                             "value_range=(0, 1), or normalize with Normalize(0.5, 0.5); already normalized, with "
                             "no pixel below mid-grey (an all-light drawing)? pass value_range=(-1, 1)"),
        (U[..., None], "images has shape (1, 28, 28, 1), its one channel last: rowrnn reads grey images shaped "
                       "(N, 1, 28, 28), (N, 28, 28) or (28, 28); drop it with images[..., 0]"),
        (U[0].reshape(784), "images has shape (784,), 784 pixels in a row: rowrnn reads grey images shaped "
                            "(N, 1, 28, 28), (N, 28, 28) or (28, 28); give them as 28x28 with "
                            "images.reshape(-1, 28, 28)"),
    ]
    for images, message in cases:
        with pytest.raises(RowrnnError) as refusal:
            model_input(images)
        assert str(refusal.value) == message


def test_requires_grad_inputs_keep_their_graph_and_raise_no_warning(model, recwarn):
    """Values are checked on a detached view: no 'Converting a tensor with requires_grad=True to a scalar'
    warning, and gradients still reach the caller's images through the helpers (what a saliency map needs)."""
    x = X.clone().requires_grad_(True)
    step_attribution(model, x)                                         # occlusion reads the images' range too
    model.hidden_states(x).sum().backward()
    assert not [w for w in recwarn if "requires_grad" in str(w.message)]
    assert x.grad is not None and x.grad.shape == (1, 28, 28) and float(x.grad.abs().sum()) > 0
    half = ((U.float() / 255).requires_grad_(True))
    model.step_logits(half, value_range=(0, 1)).sum().backward()
    assert float(half.grad.abs().sum()) > 0


def test_a_double_precision_model_reads_float64_images_exactly_at_every_entry_point():
    """A model in float64 (the course's gradient checks): its helpers equal forward to the last bit on float64
    images (no round trip through float32), and predict, attribution_view, reading_view and show_reading work
    for it as for float32 models, a CNN included."""
    torch.manual_seed(0)
    rnn = RNNClassifier(cell="gru", hidden_size=3).double().eval()
    cnn = rowrnn.CNNClassifier().double().eval()
    x = torch.rand(2, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        assert torch.equal(rnn.step_logits(x)[:, -1], rnn(x[:, None]))
        assert torch.equal(rnn.hidden_states(x), rnn.reading(x)[1])
    assert model_input(x, dtype=torch.float64).dtype == torch.float64
    assert torch.equal(model_input(x, dtype=torch.float64)[:, 0], x)
    assert torch.equal(model_input(U, dtype=torch.float64), X[:, None].double())   # uint8: data.normalize, cast
    for m in (rnn, cnn):
        with torch.no_grad():
            probs = m(X[:, None].double()).float().softmax(1)[0]          # predict's float32 answer
        top = inference.predict(m, U)[0][0]
        assert top == (CLASSES[int(probs.argmax())], float(probs.max())), type(m).__name__
        view = reading.reading_view(m, U[0], attribution=False, unrolled=False)
        assert view["top"][0]["class"] == CLASSES[int(probs.argmax())]
        rowrnn.show_reading(m, U[0])
    assert reading.attribution_view(rnn, U[0])["target"] == int(rnn(X[:, None].double()).argmax())


def test_a_noncontiguous_view_gives_the_same_numbers_as_its_contiguous_copy(model):
    """A transposed uint8 batch or a sliced float one: model_input hands the model contiguous memory, so the
    answers equal those of the copy bit for bit (strides change a GRU's float sums otherwise)."""
    view = U.repeat(3, 1, 1).transpose(1, 2)
    assert model_input(view).is_contiguous()
    assert inference.predict(model, view) == inference.predict(model, view.contiguous())
    floats = normalize(torch.randint(0, 256, (2, 56, 56), dtype=torch.uint8, generator=g))[:, ::2, ::2]
    with torch.no_grad():
        assert torch.equal(model.step_logits(floats), model.step_logits(floats.contiguous()))
