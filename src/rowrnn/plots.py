"""The pictures: learning curves, the prediction grid, the confusion matrix, and how the RNN reads.

Every function takes data (histories, arrays) and returns a matplotlib Figure;
callers decide where to save it.

    fig = plot_curves(history)        # the notebook's pd.DataFrame(history).plot(logy=True)
    fig.savefig("curves.png")
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .constants import CLASSES, IMAGE_SIZE

CURVE_KEYS = ("train_loss", "val_loss", "train_metric", "val_metric")


def _np(a):
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


def plot_curves(history: dict):
    """Loss and metric per epoch, train vs validation, log y axis, as the notebook plots its history."""
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    for key in CURVE_KEYS:
        if history.get(key):
            values = history[key]
            ax.plot(range(1, len(values) + 1), values, label=key,
                    linestyle="-" if key.startswith("train") else "--", marker="o", markersize=3)
    ax.set_yscale("log")
    ax.set_xlabel("Epoch num.")
    ax.set_ylabel("loss / macro accuracy (log scale)")
    ax.set_title("Learning curves")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return fig


def plot_predictions(images, labels, predictions, classes=CLASSES, columns=5):
    """The notebook's grid: each image titled with the expected and predicted class, green if right, red if wrong."""
    images, labels, predictions = _np(images), _np(labels), _np(predictions)
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.3 * columns, 2.6 * rows), layout="constrained",
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, y, y_hat in zip(axes.flat, images, labels, predictions):
        right = int(y) == int(y_hat)
        ax.imshow(image.reshape(IMAGE_SIZE, IMAGE_SIZE), cmap="Greens" if right else "Reds")
        ax.set_title(f"Expected: {classes[int(y)]}\nPredicted: {classes[int(y_hat)]}", fontsize=8,
                     color="darkgreen" if right else "darkred")
    return fig


def plot_confusion(confusion, classes=CLASSES, ax=None, title=None):
    """Counts in each cell, shading by the row-normalized rate (recall along the diagonal).

    ax draws into an existing Axes (confusion matrices side by side); title replaces the default.
    """
    counts = _np(confusion).astype(int)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(8, 7), layout="constrained") if ax is None else (ax.figure, ax)
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("Expected")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(title or f"Confusion matrix ({counts.sum()} images, accuracy {accuracy:.3f})")
    fig.colorbar(im, ax=ax, label="fraction of the expected class")
    return fig


def plot_reading(images, step_probabilities, classes=CLASSES, labels=None, read="rows", total_steps=None,
                 originals=None):
    """Each image beside a heat map of its class probabilities after every step read (T x 10).

    With total_steps > T (a long pixel sequence sampled at T evenly spaced points), the rows are
    labelled with the number of steps each point had read. originals: a list as long as images of
    uint8 RGB pictures (h, w, 3) or None; when given, each row starts with the picture as the person
    gave it beside the 28x28 the network saw (plot_original).
    """
    images, probs = _np(images), _np(step_probabilities)
    n, steps = len(images), probs.shape[1]
    read_at = np.rint(np.linspace(1, total_steps or steps, steps)).astype(int)  # steps read at each row
    extra = originals is not None
    fig, axes = plt.subplots(n, 2 + extra, figsize=(9 + 3 * extra, 3.2 * n), layout="constrained", squeeze=False,
                             gridspec_kw={"width_ratios": [1] * extra + [1, 1.6]})
    unit = _unit(read)
    for k in range(n):
        if extra:
            plot_original(axes[k][0], originals[k])
        img_ax, heat_ax = axes[k][extra:]
        if extra:
            img_ax.set_title("the 28x28 the network saw", fontsize=9)
        img_ax.imshow(images[k].reshape(IMAGE_SIZE, IMAGE_SIZE), cmap="gray")
        img_ax.set_xticks([])
        img_ax.set_yticks([])
        if labels is not None:
            img_ax.set_title(f"Expected: {classes[int(_np(labels)[k])]}", fontsize=9)
        im = heat_ax.imshow(probs[k], aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        heat_ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
        heat_ax.set_ylabel(f"{unit} read")
        heat_ax.set_yticks(range(0, steps, 3), [str(read_at[t]) for t in range(0, steps, 3)], fontsize=7)
        final = probs[k][-1]
        heat_ax.set_title(f"Guess after each step: finally {classes[int(final.argmax())]} ({final.max():.0%})",
                          fontsize=9)
        fig.colorbar(im, ax=heat_ax, label="probability")
    return fig


def plot_original(ax, original, title="original") -> None:
    """The picture as given (uint8 RGB (h, w, 3), upright, transparency composited) in `ax`, titled; None
    (a test image, already 28x28) leaves the panel empty but for a note."""
    ax.set_xticks([])
    ax.set_yticks([])
    if original is None:
        ax.text(0.5, 0.5, "a test image:\nalready 28x28", ha="center", va="center", fontsize=9,
                transform=ax.transAxes)
        ax.set_frame_on(False)
        return
    ax.imshow(_np(original))
    ax.set_title(title, fontsize=9)


def _unit(read: str) -> str:
    return {"rows": "rows", "columns": "columns", "rows+columns": "rows and columns"}.get(read, "pixels")


def plot_hidden_states(image, states, read="rows", label=None, classes=CLASSES):
    """One image beside its hidden state h_t at every step: a T x H heat map, read top to bottom."""
    image, states = _np(image), _np(states)
    steps, width = states.shape
    fig, (img_ax, heat_ax) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained",
                                          gridspec_kw={"width_ratios": [1, 2.2]})
    img_ax.imshow(image.reshape(IMAGE_SIZE, IMAGE_SIZE), cmap="gray")
    img_ax.set_xticks([])
    img_ax.set_yticks([])
    if label is not None:
        img_ax.set_title(f"Expected: {classes[int(label)]}", fontsize=9)
    bound = max(float(np.abs(states).max()), 1e-6)
    im = heat_ax.imshow(states, aspect="auto", cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest")
    heat_ax.set_xlabel(f"hidden unit (of {width})")
    heat_ax.set_ylabel(f"step t ({_unit(read)} read)")
    heat_ax.set_title(f"Hidden state h_t while reading ({steps} steps)", fontsize=9)
    fig.colorbar(im, ax=heat_ax, label="activation")
    return fig


def plot_leaderboard(summary: list[dict], references: dict | None = None):
    """Horizontal bars of mean test accuracy per preset (seed range as error bars), reference lines beside."""
    names = [r["preset"] for r in summary][::-1]
    acc = np.array([r["test_accuracy"] for r in summary][::-1])
    lo = acc - np.array([min(r["test_accuracy_each"]) for r in summary][::-1])
    hi = np.array([max(r["test_accuracy_each"]) for r in summary][::-1]) - acc
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(names) + 2), layout="constrained")
    bars = ax.barh(names, acc, xerr=[lo, hi], color="tab:blue", capsize=3)
    for bar, a, up in zip(bars, acc, hi):
        ax.text(a + up + 0.006, bar.get_y() + bar.get_height() / 2, f"{a:.3f}", va="center", fontsize=8)
    for (label, value), style in zip((references or {}).items(), ("--", "-.", ":")):
        ax.axvline(value, color="gray", linestyle=style, label=f"{label}: {value:.3f}")
    ax.set_xlim(min(0.5, float(acc.min()) - 0.05), 1.0)
    ax.set_xlabel("test accuracy (10,000 images)")
    ax.set_title("rowrnn leaderboard")
    if references:
        ax.legend(loc="lower right", fontsize=7)
    return fig


def pareto_front(points):
    """The (minutes, accuracy) points no other point beats on both: less time and at least as accurate."""
    front, best = [], -np.inf
    for minutes, accuracy in sorted(points, key=lambda p: (p[0], -p[1])):
        if accuracy > best:
            front.append((minutes, accuracy))
            best = accuracy
    return front


def plot_accuracy_vs_minutes(rows: list[dict]):
    """Test accuracy against training minutes, one point per run (preset x seed), the Pareto front drawn."""
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    presets = list(dict.fromkeys(r["preset"] for r in rows))
    colors = plt.get_cmap("tab10")
    for i, preset in enumerate(presets):
        group = [r for r in rows if r["preset"] == preset]
        ax.scatter([r["train_minutes"] for r in group], [r["test_accuracy"] for r in group], color=colors(i % 10),
                   label=preset, s=28, zorder=3)
    front = pareto_front([(r["train_minutes"], r["test_accuracy"]) for r in rows])
    if front:
        xs, ys = zip(*front)
        ax.step(xs, ys, where="post", color="black", linewidth=1, alpha=0.6, label="Pareto front", zorder=2)
    ax.set_xscale("log")
    ax.set_xlabel("training minutes (sum of epoch times, log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Accuracy against training time, every run")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig
