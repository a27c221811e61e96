import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from rowrnn import plots  # noqa: E402
from rowrnn.data import CLASSES  # noqa: E402
from rowrnn.errors import RowrnnError  # noqa: E402
from rowrnn.models import RNNClassifier  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    matplotlib.pyplot.close("all")


def test_curves_follow_the_notebook_plot():
    history = {"train_loss": [2.0, 1.5, 1.2], "train_metric": [0.3, 0.5, 0.6], "val_loss": [1.9, 1.6, 1.3],
               "val_metric": [0.35, 0.45, 0.55], "lr": [1e-3] * 3, "seconds": [0.2] * 3}
    ax = plots.plot_curves(history).axes[0]
    assert ax.get_xlabel() == "Epoch num." and ax.get_yscale() == "log"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"train_loss", "val_loss", "train_metric", "val_metric"}  # not lr or seconds
    assert list(lines["val_loss"].get_xdata()) == [1, 2, 3] and list(lines["val_loss"].get_ydata()) == [1.9, 1.6, 1.3]


def test_prediction_grid_is_green_when_right_and_red_when_wrong():
    images = torch.randint(0, 255, (25, 28, 28), dtype=torch.uint8)
    labels = torch.arange(25) % 10
    preds = labels.clone()
    preds[[3, 7]] = (labels[[3, 7]] + 1) % 10
    fig = plots.plot_predictions(images, labels, preds)
    axes = fig.axes
    assert len(axes) == 25
    assert axes[0].get_title() == f"Expected: {CLASSES[0]}\nPredicted: {CLASSES[0]}"
    assert axes[3].get_title() == f"Expected: {CLASSES[3]}\nPredicted: {CLASSES[4]}"
    cmaps = [ax.get_images()[0].get_cmap().name for ax in axes]
    assert [i for i, c in enumerate(cmaps) if c == "Reds"] == [3, 7]
    assert cmaps.count("Greens") == 23
    np.testing.assert_array_equal(axes[5].get_images()[0].get_array(), images[5].numpy())


def test_confusion_shows_counts_and_row_normalized_shading():
    confusion = np.diag([90] * 10)
    confusion[6, 0] = 10  # shirts taken for T-shirts
    ax = plots.plot_confusion(confusion).axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 100 and texts[6 * 10 + 0] == "10" and texts[0] == "90"
    shading = ax.get_images()[0].get_array()
    assert shading[6, 0] == pytest.approx(0.1) and shading[6, 6] == pytest.approx(0.9) and shading[0, 0] == 1.0
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASSES)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(CLASSES)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Predicted", "Expected")


def test_reading_shows_each_image_beside_its_per_row_probabilities():
    torch.manual_seed(0)
    model = RNNClassifier().eval()
    images = torch.randint(0, 255, (3, 28, 28), dtype=torch.uint8)
    x = (images.float() / 255 - 0.5) / 0.5
    probs = model.step_probabilities(x.unsqueeze(1))                # (3, 28, 10)
    fig = plots.plot_reading(images, probs, labels=torch.tensor([1, 2, 3]))
    heatmaps = [ax for ax in fig.axes if ax.get_ylabel() == "rows read"]
    assert len(heatmaps) == 3
    shown = heatmaps[1].get_images()[0].get_array()
    assert shown.shape == (28, 10)
    np.testing.assert_allclose(shown.sum(axis=1), np.ones(28), rtol=1e-5)
    np.testing.assert_allclose(shown, probs[1].numpy())
    assert [t.get_text() for t in heatmaps[0].get_xticklabels()] == list(CLASSES)
    final = CLASSES[int(probs[2, -1].argmax())]
    assert heatmaps[2].get_title().startswith(f"Guess after each step: finally {final}")
    assert fig.axes[0].get_title() == f"Expected: {CLASSES[1]}"


@pytest.mark.parametrize("kwargs, message", [
    ({"read": "diagonal"},
     "read must be one of rows, columns, rows+columns, pixels, permuted-pixels (the model's read), got 'diagonal'"),
    ({"rows_per_step": 3}, "rows_per_step must be one of 1, 2, 4, 7, 14, 28 (the model's), got 3"),
    ({"read": "pixels", "rows_per_step": 2}, "rows_per_step must be 1 for read='pixels', got 2"),
    ({"scores": torch.rand(5)},
     "scores must have shape (1, 28) or (28,) for read='rows' with rows_per_step=1 (one image's step_attribution: "
     "R readers x T steps), got (5,)"),
    ({"scores": torch.rand(2, 28)},
     "scores must have shape (1, 28) or (28,) for read='rows' with rows_per_step=1 (one image's step_attribution: "
     "R readers x T steps), got (2, 28)"),
    ({"scores": torch.rand(1, 1, 28)},
     "scores must have shape (1, 28) or (28,) for read='rows' with rows_per_step=1 (one image's step_attribution: "
     "R readers x T steps), got (1, 1, 28)"),
    ({"scores": torch.rand(1, 27)},
     "scores must have shape (1, 28) or (28,) for read='rows' with rows_per_step=1 (one image's step_attribution: "
     "R readers x T steps), got (1, 27)"),
    ({"scores": torch.rand(28), "read": "rows+columns"},
     "scores must have shape (2, 28) for read='rows+columns' with rows_per_step=1 (one image's step_attribution: "
     "R readers x T steps), got (28,)"),
    ({"scores": torch.rand(1, 28), "read": "columns", "rows_per_step": 4},
     "scores must have shape (1, 7) or (7,) for read='columns' with rows_per_step=4 (one image's step_attribution: "
     "R readers x T steps), got (1, 28)"),
    ({"scores": torch.rand(1, 784), "read": "permuted-pixels"},
     "permutation must be given for read='permuted-pixels': pass model.permutation"),
])
def test_plot_attribution_refuses_scores_that_do_not_fit_the_read(kwargs, message):
    """A read it cannot draw, or scores of another shape, were drawn silently (or crashed inside matplotlib)."""
    call = {"scores": torch.rand(1, 28), **kwargs}
    with pytest.raises(RowrnnError) as e:
        plots.plot_attribution(torch.zeros(28, 28, dtype=torch.uint8), call.pop("scores"), **call)
    assert str(e.value) == message
