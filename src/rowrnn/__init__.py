"""rowrnn: train, understand and compare recurrent networks that read images row by row.

The course notebook runs unchanged with `import rowrnn as utils`:

    history = utils.train(model, train_loader, 25, criterion, optimizer,
                          validation_split=0.1, metric_fn=MulticlassAccuracy(num_classes=10))

Names are imported on first use (PEP 562), so `import rowrnn` and the CLI's start are instant
and torch loads only when something needs it.
"""
from ._version import __version__  # noqa: F401  (one source, read by pyproject.toml too)

_EXPORTS = {
    "config": ("PRESETS", "RunConfig", "build_config"),
    "constants": ("CLASSES", "IMAGE_SIZE", "NUM_CLASSES"),
    "data": ("Batches", "FashionMNIST", "ImageDataset", "load_fashion_mnist"),
    "errors": ("RowrnnError",),
    "models": ("CNNClassifier", "ElmanRNN", "RNNClassifier", "build_model", "count_parameters", "parameter_table"),
    "evaluation": ("evaluate_run",),
    "inference": ("load_image", "predict", "predict_files", "example_images"),
    "runs": ("load_model", "load_run"),
    "training": ("evaluate", "get_device", "train"),
    "lifecycle": ("fit", "resume", "finish"),
    "export": ("export_onnx", "OnnxClassifier"),
    "attribution": ("step_attribution",),
    "plots": ("plot_attribution",),
    "widget": ("show_reading",),
    "unrolling": ("unroll",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
_SUBMODULES = ("plots", "compare", "lifecycle", "runs", "training", "models", "data", "evaluation", "inference",
               "export", "config", "files", "devices", "optim", "constants", "serve", "widget")

__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    import importlib
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'rowrnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
