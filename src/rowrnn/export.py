"""A trained run outside PyTorch: ONNX export, checked against onnxruntime before it is kept, and a
classifier that runs the exported file with onnxruntime alone.

    report = export_onnx("runs/demo")                 # runs/demo/model.onnx; raises if onnxruntime disagrees
    model = OnnxClassifier("runs/demo/model.onnx")
    model(images)                                     # uint8 or normalized (N, 1, 28, 28) -> logits (N, 10)

The ONNX graph takes normalized images (x/255 - 0.5)/0.5 of a fixed 28x28 size and any batch size;
the class names, the normalization and where the weights came from are in its metadata.
"""
from __future__ import annotations

import io
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import torch

from . import files
from .constants import CLASSES, IMAGE_SIZE, MEAN, STD
from .datasets import DEFAULT, dataset_of
from .errors import RowrnnError, python_api
from .pixels import model_input

# OnnxClassifier needs none of rowrnn's model code: runs (and with it models) are imported by the
# functions that export, not by this module.
OPSET = 17
CHECK_IMAGES = 1000
TOLERANCE = 1e-4            # max |logit difference| accepted between PyTorch and onnxruntime
MAX_ONNX_BYTES = 2 * 2**30
NORMALIZATION = {"mean": MEAN, "std": STD, "formula": "(pixel / 255 - mean) / std", "input": "float32 (N, 1, 28, 28)"}
# What every model rowrnn exports takes and gives; OnnxClassifier checks a file against it when loading.
INPUT_NAME, INPUT_SHAPE, OUTPUT_SHAPE = "images", ("N", 1, IMAGE_SIZE, IMAGE_SIZE), ("N", len(CLASSES))


def _require(module: str):
    """onnx or onnxruntime, or a one-line error naming the extra that installs it.

    onnxruntime writes a device id and a telemetry database under $XDG_CACHE_HOME (~/.cache/Microsoft/...)
    as soon as it is imported, unless ORT_DISABLE_TELEMETRY is set: rowrnn sets it (a user's own value
    wins) so that loading a model writes nothing under HOME.
    """
    if module == "onnxruntime":
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        imported = __import__(module)
    except ImportError:
        raise RowrnnError(f"ONNX needs the {module} package: pip install 'rowrnn[onnx]'") from None
    if module == "onnxruntime" and hasattr(imported, "disable_telemetry_events"):
        imported.disable_telemetry_events()
    return imported


def to_onnx_bytes(model: torch.nn.Module, metadata: dict[str, str]) -> bytes:
    """The model as ONNX bytes (opset 17, dynamic batch), metadata stored as string properties."""
    onnx = _require("onnx")
    model = model.cpu().eval()
    buffer = io.BytesIO()
    S = getattr(model, "image_size", IMAGE_SIZE)                  # the run's image size (datasets.dataset_of)
    example = torch.zeros(2, 1, S, S)
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice: it is the one that
        warnings.simplefilter("ignore")  # turns nn.RNN/GRU/LSTM into ONNX's own RNN/GRU/LSTM operators
        torch.onnx.export(model, (example,), buffer, dynamo=False, input_names=["images"], output_names=["logits"],
                          dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, opset_version=OPSET)
    proto = onnx.load_from_string(buffer.getvalue())
    C = getattr(model, "num_classes", len(CLASSES))
    proto.doc_string = f"rowrnn classifier: normalized {S}x{S} grey images (N, 1, {S}, {S}) -> logits over {C} classes"
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


class OnnxClassifier:
    """An exported rowrnn model run by onnxruntime: images (N, 1, 28, 28) in any form of rowrnn.pixels.model_input's
    table (uint8 pixels or normalized floats) -> logits (N, 10). It needs torch (the checker's tensors) but none
    of rowrnn's model code."""

    def __init__(self, source):
        self._ort = ort = _require("onnxruntime")
        if isinstance(source, (bytes, bytearray)):
            data, self.source = bytes(source), "ONNX model"
        else:
            path = Path(source)
            if path.suffix.lower() != ".onnx":
                raise RowrnnError(f"{path}: not an .onnx file: give a model written by rowrnn export")
            data, self.source = files.read_file(path, limit=MAX_ONNX_BYTES, what="ONNX model"), str(path)
        try:
            options = ort.SessionOptions()
            options.log_severity_level = 4  # fatal only: its warnings and error logs would garble the one line
            self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for damaged files
            raise RowrnnError(f"{self.source}: not a valid ONNX model ({type(e).__name__}): "
                              "export it again with rowrnn export") from None
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        try:
            self.classes = tuple(json.loads(self.metadata["rowrnn.classes"]))
            normalization = json.loads(self.metadata["rowrnn.normalization"])
        except (KeyError, ValueError, TypeError):
            raise RowrnnError(f"{self.source}: has no rowrnn metadata (classes, normalization): "
                              "export it with rowrnn export") from None
        if (normalization.get("mean"), normalization.get("std")) != (MEAN, STD) or not self.classes:
            raise RowrnnError(f"{self.source}: expects a normalization or classes this rowrnn does not produce: "
                              "export it again with this version")
        self._check_contract()
        self.input_name = INPUT_NAME

    @property
    def data_section(self) -> dict:
        """The data section of the run this model was exported from (rowrnn.config's "data": a folder's
        --test-split, --conversion and split digests, the run's verify), with the dataset, image size and classes
        its export recorded; exports without a config: those alone. Its data_dir is None: the training machine's
        folder is not this one's (a --data-dir says where the data are here; see evaluation.exported_test_set)."""
        try:
            recorded = json.loads(self.metadata.get("rowrnn.config") or "{}").get("data") or {}
        except (ValueError, AttributeError):
            recorded = {}
        return {**(recorded if isinstance(recorded, dict) else {}), "data_dir": None,
                "dataset": self.metadata.get("rowrnn.dataset") or DEFAULT, "image_size": self.image_size,
                "classes": list(self.classes)}

    def _check_contract(self) -> None:
        """The graph's input and output against what rowrnn exports: one float32 input "images" of shape
        (N, 1, 28, 28) and a first output of shape (N, 10) (N any batch size); anything else is refused here,
        in one line naming what was expected and what was found, instead of failing on the first image."""
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        # the run's image size and classes, as its export recorded them (Fashion-MNIST's 28 and 10 before datasets)
        side = int(self.metadata.get("rowrnn.image_size", IMAGE_SIZE)) if str(
            self.metadata.get("rowrnn.image_size", IMAGE_SIZE)).isdigit() else IMAGE_SIZE
        INPUT_SHAPE, OUTPUT_SHAPE = ("N", 1, side, side), ("N", len(self.classes))   # noqa: N806
        self.image_size = side
        expected = f"one float32 input {INPUT_NAME!r} of shape {_shape(INPUT_SHAPE)}"
        found = ", ".join(f"{i.type.removeprefix('tensor(').removesuffix(')')} {i.name!r} of shape {_shape(i.shape)}"
                          for i in inputs) or "no input"
        if (len(inputs) != 1 or inputs[0].name != INPUT_NAME or inputs[0].type != "tensor(float)"
                or not _fits(inputs[0].shape, INPUT_SHAPE)):
            raise RowrnnError(f"{self.source}: expected {expected}, found {found}: this is not a model that "
                              "rowrnn export wrote; export the run again with rowrnn export")
        if not outputs or outputs[0].type != "tensor(float)" or not _fits(outputs[0].shape, OUTPUT_SHAPE):
            got = (f"{outputs[0].type.removeprefix('tensor(').removesuffix(')')} of shape {_shape(outputs[0].shape)}"
                   if outputs else "no output")
            raise RowrnnError(f"{self.source}: expected float32 logits of shape {_shape(OUTPUT_SHAPE)}, found {got}: "
                              "this is not a model that rowrnn export wrote; export the run again with rowrnn export")

    def __call__(self, images, *, value_range=None) -> np.ndarray:
        """Images -> float32 logits (N, 10). images: a tensor or numpy array (N, 1, 28, 28), (N, 28, 28) or one
        image (28, 28), in the forms of rowrnn.pixels.model_input's table: uint8 pixels 0-255 (normalized here as
        the export's metadata says), or floats normalized to [-1, 1]; value_range=(0, 1) declares ToTensor()
        floats. Raises RowrnnError (one line) for images model_input refuses (colour, another size or dtype, NaN,
        undeclared floats in [0, 1]), a failure of onnxruntime (memory, a broken graph) or a non-finite or
        misshapen answer."""
        x = model_input(images, value_range=value_range, size=self.image_size).detach().cpu().numpy()  # (N, 1, S, S)
        try:
            run_options = self._ort.RunOptions()
            run_options.log_severity_level = 4
            logits = self.session.run(None, {self.input_name: x}, run_options)[0]
        except MemoryError:
            raise RowrnnError(f"{self.source}: running the model ran out of memory: it is not a model rowrnn "
                              "export wrote, or the batch is too large") from None
        except Exception as e:  # onnxruntime's own exception types (Fail, RuntimeException, InvalidArgument...)
            detail = _short(str(e))
            raise RowrnnError(f"{self.source}: onnxruntime could not run the model ({type(e).__name__}: {detail}): "
                              "export the run again with rowrnn export") from None
        logits = np.asarray(logits)
        if logits.shape != (len(x), len(self.classes)) or logits.dtype != np.float32:
            raise RowrnnError(f"{self.source}: answered {logits.dtype} of shape {logits.shape} for {len(x)} images, "
                              f"expected float32 logits of shape ({len(x)}, {len(self.classes)}): export the run again")
        bad = int((~np.isfinite(logits)).any(axis=1).sum())
        if bad:
            raise RowrnnError(f"{self.source}: gives NaN or infinite outputs for {bad} of {len(x)} images, so there "
                              "is no answer: the exported weights are damaged or diverged; retrain and export again")
        return logits


def _short(message: str) -> str:
    """onnxruntime's message on one line, without its status codes and C++ source locations:
    "[ONNXRuntimeError] : 1 : FAIL : Non-zero status ... running ConstantOfShape node. Name:'' Status Message:
    /onnxruntime_src/.../bfc_arena.cc:360 void* onnxruntime::BFCArena::...(size_t, ...) Failed to allocate memory
    for requested buffer of size 4398046511104" -> "... running ConstantOfShape node: Failed to allocate memory
    for requested buffer of size 4398046511104"."""
    text = " ".join(message.split())
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = re.sub(r"\. Name:'[^']*' Status Message: (\S+\.(cc|h):\d+ .*?\) )?", ": ", text)
    return text[:200]


def _shape(shape) -> str:
    """(N, 1, 28, 28) as a person reads it: named (symbolic) or unknown sizes as N or '?'."""
    return "(" + ", ".join(str(d) if isinstance(d, int) else ("N" if d else "?") for d in shape) + ")"


def _fits(found, expected) -> bool:
    """Does an onnxruntime shape (ints, names for symbolic sizes, None) match the expected one ("N": any size)?"""
    if found is None or len(found) != len(expected):
        return False
    return all(e == "N" or d == e for d, e in zip(found, expected))


def check_parity(model: torch.nn.Module, onnx_bytes: bytes, images: torch.Tensor, source="the model") -> float:
    """Max |logit difference| between PyTorch and onnxruntime on uint8 images (N, 28, 28). Raises RowrnnError for
    a mismatch (a top class that differs, or logits apart by more than the tolerance) and for NaN or infinite
    logits from PyTorch (source names the weights in that message)."""
    from .evaluation import check_finite
    x = model_input(images, size=getattr(model, "image_size", IMAGE_SIZE))   # (N, 1, S, S)
    with torch.no_grad():
        logits = model.cpu().eval()(x)
    check_finite(logits, source)
    expected = logits.numpy()
    got = OnnxClassifier(onnx_bytes)(images)             # the uint8 pixels themselves: the classifier normalizes
    diff = float(np.abs(got - expected).max()) if len(x) else 0.0
    same_top = bool((got.argmax(1) == expected.argmax(1)).all())
    if not (diff <= TOLERANCE and same_top):
        raise RowrnnError(f"the ONNX model disagrees with PyTorch on {len(x)} images (max |logit difference| "
                          f"{diff:.2e}, allowed {TOLERANCE:g}; top classes {'equal' if same_top else 'differ'}): "
                          "nothing was written; please report this with the run's config.json")
    return diff


@python_api
def export_onnx(path, out=None, *, weights: str = "best", data_dir=None, test_set=None) -> dict:
    """Export a run's weights to ONNX (default RUN/model.onnx, or RUN/model-last.onnx), checked first.

    The check runs the first 1,000 test images through PyTorch and onnxruntime: every logit within
    1e-4 and every top class equal, else nothing is written.
    """
    from . import runs
    from ._version import __version__
    from .evaluation import load_test_set
    model, run = runs.load_model(path, weights)
    name = runs.weights_name(path, weights)
    default = runs.ONNX_FILE if name == "best" else f"model-{name}.onnx"
    out = Path(out) if out is not None else run.path / default
    if out.resolve() != (run.path / default).resolve():
        runs.check_output_path(out, suffix=".onnx")
    if test_set is None:
        test_set = load_test_set(run, data_dir)
    metrics = run.metrics or {}
    info = dataset_of(run)                            # the run's classes and image size, as config.json records
    metadata = {"rowrnn.classes": json.dumps(list(info.classes)), "rowrnn.normalization": json.dumps(NORMALIZATION),
                "rowrnn.dataset": info.name, "rowrnn.image_size": str(info.image_size),
                "rowrnn.version": __version__, "rowrnn.preset": run.config.preset,
                "rowrnn.config": json.dumps(run.config.to_dict()), "rowrnn.weights": name,
                "rowrnn.weights_sha256": files.sha256(files.read_file(runs.resolve_weights(path, weights)[1],
                                                                      limit=runs.MAX_WEIGHTS_BYTES, what="weights file"))}
    if metrics.get("weights") == name and "accuracy" in metrics:
        metadata["rowrnn.test_accuracy"] = f"{metrics['accuracy']:.4f}"
    data = to_onnx_bytes(model, metadata)
    images = test_set.images[:CHECK_IMAGES]
    diff = check_parity(model, data, images, source=runs.resolve_weights(path, weights)[1])
    if files.exists(run.path / runs.CONFIG_FILE) and out.parent.resolve() == run.path.resolve():
        with runs.RunLock(run.path, purpose="export"):
            files.atomic_write(out, data)
    else:
        files.atomic_write(out, data)
    return {"path": out, "opset": OPSET, "images": len(images), "max_abs_diff": diff, "bytes": len(data)}
