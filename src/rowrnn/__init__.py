"""rowrnn: train, understand and compare recurrent networks that read images row by row.

The course notebook runs unchanged with `import rowrnn as utils`:

    history = utils.train(model, train_loader, 25, criterion, optimizer,
                          validation_split=0.1, metric_fn=MulticlassAccuracy(num_classes=10))
"""
__version__ = "0.1.0"

from .config import PRESETS, RunConfig, build_config  # noqa: E402
from .data import CLASSES, Batches, FashionMNIST, ImageDataset, load_fashion_mnist  # noqa: E402
from .errors import RowrnnError  # noqa: E402
from .models import CNNClassifier, ElmanRNN, RNNClassifier, build_model, count_parameters  # noqa: E402
from .evaluation import evaluate_run  # noqa: E402
from .inference import load_image, predict, predict_files  # noqa: E402
from .runs import load_model, load_run  # noqa: E402
from .training import evaluate, fit, get_device, train  # noqa: E402


def __getattr__(name):
    """rowrnn.plots imports matplotlib, so it loads on first use only."""
    if name == "plots":
        import importlib
        return importlib.import_module(".plots", __name__)
    raise AttributeError(f"module 'rowrnn' has no attribute {name!r}")

__all__ = ["PRESETS", "RunConfig", "build_config", "CLASSES", "Batches", "FashionMNIST", "ImageDataset",
           "load_fashion_mnist", "RowrnnError", "CNNClassifier", "ElmanRNN", "RNNClassifier", "build_model",
           "count_parameters", "evaluate_run", "load_image", "predict", "predict_files", "load_model", "load_run",
           "evaluate", "fit", "get_device", "train"]
