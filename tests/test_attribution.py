"""rowrnn.attribution: which reading steps decided. Pinned by a hand-made reader whose answer depends on one known
step (for rows, columns, strips, pixels, permuted pixels and rows+columns), by occlusion recomputed by hand, and by
integrated gradients' completeness; plus the figures that show it (plot_attribution, predict --explain)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from rowrnn import plots  # noqa: E402
from rowrnn.attribution import METHODS, step_attribution  # noqa: E402
from rowrnn.data import normalize  # noqa: E402
from rowrnn.errors import RowrnnError  # noqa: E402
from rowrnn.models import READS, RECURRENT_CELLS, CNNClassifier, RNNClassifier, pixel_permutation  # noqa: E402

M = 1e4      # the gate's weight: any step but the chosen one drives the capturing unit far below zero


def one_step_reader(step: int, target_class: int, read="rows", rows_per_step=1, seed=0) -> RNNClassifier:
    """A relu RNN set by hand whose logit for target_class is w . x_step + K, whatever the other steps hold.

    Hidden units: c (the clock, c_t = t + 1), a = relu(t - k) and b = relu(k - t) read from the clock (k = step - 1),
    e = 1 once a step has passed, s = relu(w . x_t + K - M (|t - step| + 1 - e)) captures step `step` only, and m
    adds up s; the readout reads m at the last step. Other classes get 0. For rows+columns the columns reader's
    weights are zero: every score belongs to the rows reader."""
    model = RNNClassifier(cell="rnn", hidden_size=6, nonlinearity="relu", read=read, rows_per_step=rows_per_step)
    features = model.rnn.weight_ih_l0.shape[1]
    w = torch.randn(features, generator=torch.Generator().manual_seed(seed))
    K = float(w.abs().sum()) + 1.0                      # w . x + K > 0 for every x in [-1, 1]
    k = step - 1
    W_ih, W_hh, b = torch.zeros(6, features), torch.zeros(6, 6), torch.zeros(6)
    W_hh[0, 0], b[0] = 1, 1                             # c_t = c_{t-1} + 1
    W_hh[1, 0], b[1] = 1, -k                            # a_t = relu(c_{t-1} - k) = relu(t - k)
    W_hh[2, 0], b[2] = -1, k                            # b_t = relu(k - t)
    W_ih[3] = w                                         # s_t = relu(w . x_t + K - M (a + b + 1 - e)_{t-1})
    W_hh[3, 1], W_hh[3, 2], W_hh[3, 4], b[3] = -M, -M, M, K - M
    b[4] = 1                                            # e_t = 1
    W_hh[5, 5], W_hh[5, 3] = 1, 1                       # m_t = m_{t-1} + s_{t-1}
    with torch.no_grad():
        for reader in model.readers:
            for p in reader.parameters():
                p.zero_()
        model.rnn.weight_ih_l0.copy_(W_ih)
        model.rnn.weight_hh_l0.copy_(W_hh)
        model.rnn.bias_ih_l0.copy_(b)
        model.fc.weight.zero_()
        model.fc.bias.zero_()
        model.fc.weight[target_class, 5] = 1
    model.w = w
    return model


def what_step_reads(x: torch.Tensor, read: str, rows_per_step: int, step: int) -> torch.Tensor:
    """The pixels step `step` reads, cut from the normalized images (B, 28, 28) by hand, not by model.sequences."""
    k = rows_per_step
    if read in ("rows", "rows+columns"):
        return x[:, step * k:(step + 1) * k, :].reshape(len(x), -1)
    if read == "columns":
        return x[:, :, step * k:(step + 1) * k].transpose(1, 2).reshape(len(x), -1)
    if read == "pixels":
        return x.reshape(len(x), -1)[:, step:step + 1]
    return x.reshape(len(x), -1)[:, pixel_permutation(0)[step]].reshape(len(x), 1)


def _images(n=3, seed=1):
    return torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("read, rows_per_step, step", [
    ("rows", 1, 13), ("columns", 1, 13), ("rows", 2, 6), ("columns", 4, 3),
    ("pixels", 1, 13 * 28 + 5), ("permuted-pixels", 1, 400), ("rows+columns", 1, 13)])
def test_all_the_attribution_lands_on_the_one_step_that_decides(read, rows_per_step, step, method):
    model = one_step_reader(step, target_class=4, read=read, rows_per_step=rows_per_step)
    images = _images()
    x = normalize(images)
    logits = model(x.unsqueeze(1))
    expected = what_step_reads(x, read, rows_per_step, step) @ model.w + model.w.abs().sum() + 1  # w . x + K
    assert torch.allclose(logits[:, 4], expected, atol=1e-3) and logits[:, [0, 9]].abs().max() == 0
    scores = step_attribution(model, images, method=method, target=4)
    R, T = (2 if read == "rows+columns" else 1), model.num_steps
    assert scores.shape == (3, R, T) and scores.dtype == torch.float32
    # the blank is a black pixel, -1 after normalization: the logit drops by w . (x_step - (-1))
    drop = (what_step_reads(x, read, rows_per_step, step) + 1) @ model.w
    assert torch.allclose(scores[:, 0, step], drop, atol=1e-3), (scores[:, 0, step], drop)
    rest = scores.clone()
    rest[:, 0, step] = 0
    assert rest.abs().max() < 1e-4


def test_occlusion_is_the_drop_of_the_logit_with_one_row_blanked_by_hand():
    torch.manual_seed(0)
    model = RNNClassifier(cell="gru", hidden_size=16)
    images = _images(2)
    x = normalize(images).unsqueeze(1)
    scores = step_attribution(model, images, target=[3, 7])
    for row in (0, 13, 27):
        blanked = x.clone()
        blanked[:, :, row] = -1.0                                   # a black row
        with torch.no_grad():
            drop = model(x)[:, [3, 7]].diagonal() - model(blanked)[:, [3, 7]].diagonal()
        assert torch.allclose(scores[:, 0, row], drop, atol=1e-5)


@pytest.mark.parametrize("kwargs", [
    dict(cell="gru", hidden_size=64), dict(cell="lstm", read="columns"), dict(cell="mingru", read="rows+columns"),
    dict(cell="gru", bidirectional=True, rows_per_step=2), dict(cell="lstm", bidirectional=True, readout="mean+max"),
    dict(cell="minlstm", bidirectional=True), dict(cell="lru"), dict(cell="elman", read="columns", rows_per_step=7)])
def test_integrated_gradients_adds_up_to_the_logit_gained_from_the_blank(kwargs):
    torch.manual_seed(0)
    model = RNNClassifier(**kwargs).train()                         # attribution scores in eval mode, then restores
    images = _images(2)
    x = normalize(images).unsqueeze(1)
    scores = step_attribution(model, images, method="integrated-gradients")
    assert model.training
    with torch.no_grad():
        model.eval()
        logits, blank = model(x), model(torch.full_like(x, -1.0))
    predicted = logits.argmax(dim=1, keepdim=True)
    gained = (logits - blank).gather(1, predicted).squeeze(1)
    assert scores.shape == (2, len(model.readers), model.num_steps)
    assert torch.allclose(scores.sum(dim=(1, 2)), gained, atol=2e-3, rtol=1e-3), (scores.sum(dim=(1, 2)), gained)
    occlusion = step_attribution(model, images)
    assert occlusion.shape == scores.shape and not torch.equal(occlusion, scores)


@pytest.mark.parametrize("cell", list(RECURRENT_CELLS))
@pytest.mark.parametrize("read", READS)
def test_read_sequences_is_forward_after_the_image_is_cut_into_steps(cell, read):
    torch.manual_seed(0)
    model = RNNClassifier(cell=cell, read=read, hidden_size=4).eval()
    x = normalize(_images(2)).unsqueeze(1)
    with torch.no_grad():
        assert torch.equal(model.read_sequences(model.sequences(x)), model(x))


def test_images_as_uint8_or_normalized_and_a_baseline_of_choice_give_the_same_scores():
    torch.manual_seed(0)
    model = RNNClassifier(cell="gru")
    images = _images(2)
    a = step_attribution(model, images)
    assert torch.equal(step_attribution(model, normalize(images).unsqueeze(1)), a)
    assert torch.equal(step_attribution(model, normalize(images), baseline=-1.0), a)
    white = step_attribution(model, images, baseline=1.0)
    assert not torch.allclose(white, a)


def test_refusals_are_one_line_and_name_the_argument():
    images = _images(1)
    with pytest.raises(RowrnnError) as e:
        step_attribution(CNNClassifier(), images)
    assert str(e.value) == ("step_attribution scores the steps of a recurrent model (an RNNClassifier); "
                            "model is a CNNClassifier, which does not read step by step")
    with pytest.raises(RowrnnError) as e:
        step_attribution(RNNClassifier(), images, method="saliency")
    assert str(e.value) == "method must be one of occlusion, integrated-gradients, got 'saliency'"
    with pytest.raises(RowrnnError) as e:
        step_attribution(RNNClassifier(), images, target=10)
    assert str(e.value) == "target must be a class index 0-9, or one per image (1), got [10]"
    with pytest.raises(RowrnnError) as e:
        step_attribution(RNNClassifier(), images, method="integrated-gradients", n_steps=0)
    assert str(e.value) == "n_steps must be a whole number of at least 1, got 0"


ACCEPTED = ("uint8 pixels 0-255, or floats normalized to [-1, 1] as ToTensor() + Normalize(0.5, 0.5) gives them "
            "(ToTensor() floats in [0, 1]: pass value_range=(0, 1))")


@pytest.mark.parametrize("images, message", [      # every form and refusal: test_inputs.py; these are the reasons
    (torch.full((1, 1, 28, 28), 24.0).index_fill_(3, torch.tensor([0]), 255.0),
     "images holds floats from 24 to 255, like pixels 0-255 held as floats: pass value_range=(0, 255), or give "
     "uint8 pixels (.to(torch.uint8))"),
    (torch.zeros(2, 28, 28).index_fill_(2, torch.tensor([3]), float("nan")),
     f"images holds NaN or infinite values: give {ACCEPTED}"),
    (torch.rand(0, 1, 28, 28),
     "images is an empty batch (shape (0, 1, 28, 28)): give at least one image, shaped (N, 1, 28, 28), "
     "(N, 28, 28) or (28, 28)"),
])
def test_images_not_as_the_model_takes_them_are_refused(images, message):
    """Floats 0-255 are not normalized (they would be read as pixels far brighter than white), NaN would give NaN
    scores, an empty batch nothing to average."""
    with pytest.raises(RowrnnError) as e:
        step_attribution(RNNClassifier(), images)
    assert str(e.value) == message


def test_numpy_float64_images_score_as_the_float32_tensor():
    import numpy as np
    torch.manual_seed(0)
    model = RNNClassifier(cell="gru", hidden_size=8)
    x = normalize(_images(3))
    expected = step_attribution(model, x)
    got = step_attribution(model, x.numpy().astype(np.float64))
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(step_attribution(model, _images(3).numpy()), expected)   # uint8 array: the same


def test_target_may_be_a_class_name_in_any_case():
    torch.manual_seed(0)
    model = RNNClassifier(cell="gru", hidden_size=8)
    x = _images(2)
    expected = step_attribution(model, x, target=6)
    torch.testing.assert_close(step_attribution(model, x, target="Shirt"), expected)
    torch.testing.assert_close(step_attribution(model, x, target="sHIRT"), expected)
    torch.testing.assert_close(step_attribution(model, x, target=["ankle boot", "T-shirt/top"]),
                               step_attribution(model, x, target=[9, 0]))
    with pytest.raises(RowrnnError) as e:
        step_attribution(model, x, target="Shirts")
    assert str(e.value) == ("target must be a class index 0-9 or a class name of the model's classes (T-shirt/top, "
                            "Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot), got 'Shirts'")



@pytest.mark.parametrize("target, shown", [(3.7, "3.7"), (True, "True"), ([1.0, 2.5], "[1.0, 2.5]"),
                                           (torch.tensor(2.0), "tensor(2.)")])
def test_a_target_that_is_not_an_int_class_is_refused_not_truncated(target, shown):
    with pytest.raises(RowrnnError) as e:
        step_attribution(RNNClassifier(), _images(2), target=target)
    assert str(e.value) == f"target must be a class index as an int 0-9 (or one int per image), got {shown}"


@pytest.mark.parametrize("baseline, shape", [(torch.zeros(27), "(27,)"), (torch.zeros(3, 1, 28, 28), "(3, 1, 28, 28)"),
                                             (torch.zeros(2, 28, 28), "(2, 28, 28)")])
def test_a_baseline_that_does_not_broadcast_is_one_line_naming_the_shape_it_must_take(baseline, shape):
    with pytest.raises(RowrnnError) as e:
        step_attribution(RNNClassifier(), _images(2), baseline=baseline)
    assert str(e.value) == (f"baseline has shape {shape}, which does not broadcast to the images' (2, 1, 28, 28): "
                            "give a number or a tensor broadcastable to (2, 1, 28, 28)")


def test_integrated_gradients_on_the_cpu_leaves_cudnn_alone(monkeypatch):
    # torch.backends.cudnn.flags is process-wide: a server's thread explaining a CPU model must not switch it
    def flags(**kwargs):
        raise AssertionError(f"cudnn.flags({kwargs}) entered for a CPU model")
    monkeypatch.setattr(torch.backends.cudnn, "flags", flags)
    scores = step_attribution(one_step_reader(5, target_class=4), _images(1), method="integrated-gradients")
    assert scores.shape == (1, 1, 28)

def test_the_attribution_map_paints_each_step_over_the_pixels_it_read():
    scores = torch.arange(14, dtype=torch.float32)
    strips = plots.attribution_map(scores, "rows", rows_per_step=2)
    assert strips.shape == (28, 28) and strips[5].tolist() == [2.0] * 28 and strips[:, 9].tolist() == [
        float(i // 2) for i in range(28)]
    assert plots.attribution_map(scores, "columns", rows_per_step=2)[:, 27].tolist() == [13.0] * 28
    both = plots.attribution_map(torch.stack([torch.arange(28.0), 100 * torch.arange(28.0)]), "rows+columns")
    assert both[3, 5] == 3 + 500 and both[27, 0] == 27
    permutation = pixel_permutation(0)
    painted = plots.attribution_map(torch.arange(784.0), "permuted-pixels", permutation=permutation)
    assert painted.reshape(-1)[permutation[400]] == 400 and painted.reshape(-1)[permutation[0]] == 0
    assert plots.attribution_map(torch.arange(784.0), "pixels")[13, 5] == 13 * 28 + 5


@pytest.mark.parametrize("read, rows_per_step, xlabels, ylabels", [
    ("rows", 2, ["", "attribution to Coat (logit)", ""], ["", "step", "attribution to Coat (logit)"]),
    ("columns", 1, ["", "step", ""], ["", "attribution to Coat (logit)", "attribution to Coat (logit)"]),
    ("rows+columns", 1, ["", "attribution to Coat (logit)", "step (columns read)", ""],
     ["", "step (rows read)", "attribution to Coat (logit)", "attribution to Coat (logit)"]),
    ("permuted-pixels", 1, ["pixel column", ""], ["pixel row", "attribution to Coat (logit)"])])
def test_plot_attribution_labels_its_axes_and_centres_its_colours_on_zero(read, rows_per_step, xlabels, ylabels):
    model = one_step_reader(5, target_class=4, read=read, rows_per_step=rows_per_step)
    images = _images(1)
    scores = step_attribution(model, images, target=4)
    fig = plots.plot_attribution(images[0], scores[0], read=read, rows_per_step=rows_per_step,
                                 permutation=getattr(model, "permutation", None), target=4, label=4)
    assert [ax.get_xlabel() for ax in fig.axes] == xlabels and [ax.get_ylabel() for ax in fig.axes] == ylabels
    colour_bar = fig.axes[-1]
    bound = float(scores.abs().max())
    low, high = (colour_bar.get_ylim())
    assert low == pytest.approx(-bound) and high == pytest.approx(bound)
    if read in ("rows", "columns"):                                 # the decisive step's bar is the longest
        bars = fig.axes[1].patches
        lengths = [abs(b.get_width() if read == "rows" else b.get_height()) for b in bars]
        assert len(bars) == model.num_steps and lengths.index(max(lengths)) == 5
        assert max(lengths) == pytest.approx(bound)
    plt.close(fig)


def test_the_explain_figure_shows_which_steps_decided_beside_each_image(monkeypatch):
    from rowrnn.inference import reading_figure
    model = one_step_reader(13, target_class=4)
    images = _images(2)
    seen = []
    real = plots.plot_reading
    monkeypatch.setattr(plots, "plot_reading", lambda *a, **kw: seen.append(kw) or real(*a, **kw))
    fig = reading_figure(model, images)
    kwargs = seen[0]
    assert kwargs["targets"].tolist() == [4, 4] and kwargs["attribution_method"] == "occlusion"
    assert torch.equal(kwargs["attributions"], step_attribution(model, images, target=4))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[1] == titles[4] == "Which steps decided (occlusion)"
    assert [ax.get_ylabel() for ax in fig.axes[-4:]] == ["attribution to Coat (logit)", "probability"] * 2
    painted = fig.axes[1].get_images()[1].get_array()             # over the 28x28: row 13 holds all of it
    assert painted[13].tolist() == [float(kwargs["attributions"][0, 0, 13])] * 28
    assert abs(painted[:13]).max() == 0 and abs(painted[14:]).max() == 0
    plt.close(fig)



def test_the_figure_draws_scores_given_without_computing_them_again(monkeypatch):
    import rowrnn.attribution
    from rowrnn.inference import reading_figure
    model = one_step_reader(13, target_class=4)
    images = _images(1)
    given = torch.zeros(1, 1, 28)
    given[0, 0, 13] = 2.5
    monkeypatch.setattr(rowrnn.attribution, "step_attribution", lambda *a, **kw: pytest.fail("computed again"))
    fig = reading_figure(model, images, attributions=given, attribution_method="integrated-gradients")
    assert fig.axes[1].get_title() == "Which steps decided (integrated-gradients)"
    assert fig.axes[1].get_images()[1].get_array()[13].tolist() == [2.5] * 28
    plt.close(fig)
    with pytest.raises(RowrnnError) as e:
        reading_figure(model, images, attributions=torch.zeros(1, 28))
    assert str(e.value) == ("attributions has shape (1, 28), not (N, R, T) = (1, 1, 28): give step_attribution's "
                            "scores for these images")

def test_the_package_exports_both():
    import rowrnn
    assert rowrnn.step_attribution is step_attribution and rowrnn.plot_attribution is plots.plot_attribution
    assert {"step_attribution", "plot_attribution"} <= set(rowrnn.__all__)


def test_explain_uses_occlusion_for_28_steps_or_fewer_and_integrated_gradients_for_pixels(monkeypatch):
    from rowrnn.inference import explain_method, reading_figure
    assert [explain_method(T) for T in (14, 28, 784)] == ["occlusion", "occlusion", "integrated-gradients"]
    model = one_step_reader(13 * 28 + 5, target_class=4, read="pixels")
    images = _images(1)
    fig = reading_figure(model, images)
    assert fig.axes[1].get_title() == "Which steps decided (integrated-gradients)"
    painted = fig.axes[1].get_images()[1].get_array()
    drop = (normalize(images)[0, 13, 5] + 1) * model.w[0]            # all on pixel (13, 5), in the same unit
    assert float(painted[13, 5]) == pytest.approx(float(drop), abs=1e-3)
    painted[13, 5] = 0
    assert abs(painted).max() < 1e-4
    plt.close(fig)


@pytest.mark.integration
def test_on_real_garments_a_black_row_decides_nothing_and_the_scores_add_up(real_data):
    from rowrnn.data import load_split
    images = load_split(real_data, "test").images[:200]
    images = images[(images == 0).all(dim=2).any(dim=1)][:4]      # the first four with a wholly black row
    black_rows = (images == 0).all(dim=2)                         # (4, 28): rows blanking cannot change
    assert len(images) == 4 and not black_rows.all(dim=1).any()
    torch.manual_seed(0)
    model = RNNClassifier(cell="gru", hidden_size=32, bidirectional=True)
    occlusion = step_attribution(model, images)
    assert occlusion[:, 0][black_rows].abs().max() == 0 and occlusion[:, 0][~black_rows].abs().min() > 0
    ig = step_attribution(model, images, method="integrated-gradients", n_steps=64)
    x = normalize(images).unsqueeze(1)
    with torch.no_grad():
        logits, blank = model(x), model(torch.full_like(x, -1.0))
    gained = (logits - blank).gather(1, logits.argmax(dim=1, keepdim=True)).squeeze(1)
    assert torch.allclose(ig.sum(dim=(1, 2)), gained, atol=1e-3, rtol=1e-3)
    assert ig[:, 0][black_rows].abs().max() == 0                  # x equals the blank there: no path to integrate


def test_rowrnn_predict_explain_draws_the_attribution_of_the_printed_guess(tmp_path, capsys, monkeypatch):
    import json

    from conftest import write_dataset
    from PIL import Image

    from rowrnn.cli import main
    data = write_dataset(tmp_path / "data", n_train=100, n_test=20)
    assert main(["train", "--data-dir", str(data), "--no-verify", "--epochs", "1", "--batch-size", "50",
                 "--hidden-size", "8", "--out", str(tmp_path / "run"), "--seed", "1"]) == 0
    capsys.readouterr()
    seen = []
    real = plots.plot_reading
    monkeypatch.setattr(plots, "plot_reading", lambda *a, **kw: seen.append(kw) or real(*a, **kw))
    assert main(["predict", str(tmp_path / "run"), "--test-index", "0", "--test-index", "3", "--json", "--no-verify",
                 "--data-dir", str(data), "--explain", str(tmp_path / "why.png")]) == 0
    answers = json.loads(capsys.readouterr().out)
    from rowrnn.constants import CLASSES
    assert [CLASSES[int(t)] for t in seen[0]["targets"]] == [a["top"][0]["class"] for a in answers]
    assert seen[0]["attributions"].shape == (2, 1, 28) and seen[0]["attribution_method"] == "occlusion"
    assert Image.open(tmp_path / "why.png").size[0] > 1000         # image, attribution, heat map side by side
