"""`rowrnn site`: the reading page as a static site that runs the networks in the browser (onnxruntime-web).

    report = build_site(["runs/notebook", "runs/pixels"], "site")    # site/index.html opens anywhere
    data, graph = reading_onnx(model)                                 # one run's graph, its outputs named
    check_reading(model, data, graph, images)                         # == rowrnn.reading's numbers, or raises

A site holds the page's own files (web/, as `rowrnn serve` sends them, with a Content-Security-Policy <meta>), each
run as ONNX (models/RUN.onnx: rowrnn.graphs.ReadingGraph), manifest.json (what /api/runs answers, plus each graph's
input and output names, written here once: the page never rebuilds them), the first test images packed as bytes
(test-images.bin, 784 a image, labels in the manifest), the reading of the first of them computed here
(first-reading.json: on screen before the graphs load, then replaced by the browser's own) and onnxruntime-web's
three runtime files (ort/).

The runtime is onnxruntime-web from the npm registry, pinned (RUNTIME: version, tarball, npm's sha512 integrity),
fetched once into rowrnn's cache (rowrnn.data.cache_dir(), as the dataset is) and offline afterwards: its wasm is
15 MB that every pip install would carry otherwise, for the few who build a site.
"""
from __future__ import annotations

import base64
import io
import json
import math
import os
import shutil
import tarfile
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from . import files, reading, runs
from .datasets import dataset_of, drawing_ground, one_page, picture_options, short_name
from .errors import RowrnnError, python_api
from .evaluation import load_test_set
from .graphs import ReadingGraph

WEB = Path(__file__).parent / "web"
# the page's files a site carries (widget.* are the notebook's); convert.js when it exists
PAGE_FILES = ("index.html", "style.css", "favicon.svg", "app.js", "api.js", "render.js", "i18n.js", "draw.js",
              "camera.js", "engine-static.js", "convert.js")
OPSET = 17
FORMAT = "rowrnn-site"
FORMAT_VERSION = 1
TOLERANCE = 1e-4                # what the site's graphs may differ from rowrnn.reading (probabilities, states...)
FIRST_READING = "first-reading.json"   # test image 0's reading, shown before the graphs load
CHECK_IMAGES = 100              # test images whose logits are compared at build time (2 of them whole readings)
DEFAULT_TEST_IMAGES = 1000
# serve's policy (rowrnn.guard) plus what WebAssembly needs, and nothing else; frame-ancestors is ignored in a
# <meta> (a static host sets it, or not), so it is left out
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'")
RUNTIME = {
    "package": "onnxruntime-web", "version": "1.31.1", "license": "MIT",
    "copyright": "Copyright (c) Microsoft Corporation",
    "tarball": "https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-1.31.1.tgz",
    "integrity": "sha512-5GeH+bWQ+HxM10z7erGlsWqryrwMbSvm/1tkIsKTT48g0fI19VXVVC435t4t7VsPdSQeS7NmuZPXrQ73k82URw==",
    "files": ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"),
}
MAX_RUNTIME_FILE = 64 * 2**20
MIT = """MIT License

{copyright}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def dataset_facts(run) -> dict:
    """What a run's images are, as the manifest says them: {"classes": names in label order, "image_size": S (the
    side of its S x S images; 28 for Fashion-MNIST), "normalization": {"mean", "std"}, "picture": how a person's
    picture becomes such an image (datasets.picture_options, as /api/runs says it too), "background": "dark",
    "light" or null (the dataset's, datasets.DatasetInfo.background), "pad": "dark" or "light" (the drawing
    pad's ground, datasets.drawing_ground)}. The one place a site reads them from a run (a Run from
    runs.load_model, or anything rowrnn.datasets.dataset_of takes), through dataset_of. Raises RowrnnError as
    dataset_of does."""
    info = dataset_of(run)
    return {"classes": list(info.classes), "image_size": info.image_size,
            "normalization": {"mean": info.mean, "std": info.std}, "picture": picture_options(info),
            "background": info.background, "pad": drawing_ground(info)}


def _one_dataset(names: list[str], loaded) -> dict:
    """The facts every run shares (dataset_facts), or RowrnnError naming each group of runs as rowrnn serve
    does (rowrnn.datasets.one_page): one page shows one set of classes at one image size, converting a person's
    picture one way on one drawing pad, so the first run's facts are every run's."""
    one_page([(name, dataset_of(run)) for name, (_, run) in zip(names, loaded)],
             "build a site of each group with its own rowrnn site")
    return dataset_facts(loaded[0][1])


# -- one run's graph -------------------------------------------------------------------------------------------

def reading_onnx(model) -> tuple[bytes, ReadingGraph]:
    """(ONNX bytes, the ReadingGraph traced) of a model in eval mode: opset 17, the batch size dynamic, the
    inputs and outputs named as graph.input_names and graph.output_names."""
    from .export import _require
    onnx = _require("onnx")
    graph = ReadingGraph(model.cpu())
    batched = {name: {0: "batch"} for name in graph.input_names + graph.output_names
               if not name.startswith("unrolled.")}          # the recurrence's numbers are the first image's
    buffer = io.BytesIO()
    with warnings.catch_warnings():      # the TorchScript exporter's deprecation notice (see rowrnn.export)
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, graph.example(), buffer, dynamo=False, input_names=graph.input_names,
                          output_names=graph.output_names, dynamic_axes=batched, opset_version=OPSET)
    proto = onnx.load_from_string(buffer.getvalue())
    side = graph.image_size
    proto.doc_string = f"rowrnn reading graph for the static site: normalized images (N, 1, {side}, {side}) -> the reading"
    onnx.checker.check_model(proto)
    return proto.SerializeToString(), graph


def _session(data: bytes):
    from .export import _require
    ort = _require("onnxruntime")
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.intra_op_num_threads = 1
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def run_graph(session, graph: ReadingGraph, images: torch.Tensor, keep: np.ndarray | None = None,
              names: list[str] | None = None) -> dict[str, np.ndarray]:
    """The graph's outputs (all, or `names`) for uint8 images (N, S, S) in onnxruntime (keep: all steps)."""
    from .data import normalize
    x = normalize(images).reshape(-1, 1, *images.shape[-2:]).numpy()
    feeds = {"images": x}
    if graph.recurrent:
        model = graph.model
        feeds["keep"] = keep if keep is not None else np.ones((len(x), len(model.readers), model.num_steps),
                                                               np.float32)
    wanted = names or graph.output_names
    return dict(zip(wanted, session.run(wanted, feeds)))


def occlusion_keep(readers: int, steps: int) -> np.ndarray:
    """The keep input of occlusion's one batched call: (R*T, R, T), copy r*T + t without step t of reader r."""
    keep = np.ones((readers * steps, readers, steps), np.float32)
    keep.reshape(readers * steps, readers * steps)[np.arange(readers * steps), np.arange(readers * steps)] = 0
    return keep


def check_reading(model, data: bytes, graph: ReadingGraph, images: torch.Tensor, *, whole: int = 2) -> float:
    """The largest difference between the ONNX graph in onnxruntime and rowrnn's own numbers, raising RowrnnError
    over TOLERANCE: logits against the model for every image (uint8 (N, S, S), S the model's image size); for the first `whole` images
    every number the page shows against rowrnn.reading.reading_view (final, the probabilities after every step,
    the hidden states, the unrolled vectors, occlusion's scores where reading_view computes them)."""
    session = _session(data)
    worst = 0.0

    def compare(what, got, expected):
        nonlocal worst
        got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
        diff = float(np.abs(got - expected).max()) if got.size else 0.0
        if got.shape != expected.shape or not diff <= TOLERANCE:
            raise RowrnnError(f"the site's graph disagrees with rowrnn on {what} (max difference {diff:.2e}, "
                              f"shapes {got.shape} and {expected.shape}, allowed {TOLERANCE:g}): nothing was "
                              "written; please report this with the run's config.json")
        worst = max(worst, diff)

    from .data import normalize
    with torch.inference_mode():
        logits = model(normalize(images).unsqueeze(1)).numpy()
    compare("the logits", run_graph(session, graph, images, names=["logits"])["logits"], logits)
    for image in images[:whole]:
        view = reading.reading_view(model, image, methods=("occlusion",))
        if "error" in view:
            continue                                # weights that give NaN: the page says so, as serve does
        out = run_graph(session, graph, image[None])
        compare("the final probabilities", out["final"][0], view["final"])
        if graph.recurrent:
            compare("the probabilities after each step", out["probabilities"][0], view["steps"])
            compare("the hidden states", out["hidden"][0], view["hidden"])
            if graph.unrolls:
                for term in view["unrolled"]["terms"]:
                    compare(f"the unrolled {term['name']}", out["unrolled." + term["name"]], term["values"])
            scores = view["attribution"]["occlusion"]
            if scores is not None:
                compare("occlusion's scores", occlusion_scores(session, graph, image, view["attribution"]["target"],
                                                               out["logits"][0]), scores)
    return worst


def occlusion_scores(session, graph: ReadingGraph, image: torch.Tensor, target: int, logits: np.ndarray):
    """(R, T) occlusion scores from one batched run of the graph: logit(x) - logit(x without step t of reader r),
    as rowrnn.attribution's occlusion (what the page's engine computes the same way)."""
    R, T = len(graph.model.readers), graph.model.num_steps
    occluded = run_graph(session, graph, image[None].expand(R * T, -1, -1), occlusion_keep(R, T), ["logits"])
    return (logits[target] - occluded["logits"][:, target]).reshape(R, T)


def first_reading(models, names: list[str], image: torch.Tensor, label: int) -> str:
    """What the page shows before its networks have loaded: the reading of one test image (uint8 (S, S)) by
    every model, as JSON text in the shape of /api/predict's answer ({"image", "label", "models": [{id, name,
    **reading_view without attribution}]}), numbers to reading.DIGITS decimals as serve sends them. The page
    replaces it by the reading its own graphs compute (within TOLERANCE of it, as check_reading made sure)."""
    answer = {"image": image.tolist(), "label": int(label),
              "models": [{"id": index, "name": name, **reading.reading_view(model, image, attribution=False)}
                         for index, (model, name) in enumerate(zip(models, names))]}
    return reading.dumps(answer)


def graph_entry(graph: ReadingGraph, file: str, data: bytes, facts: dict) -> dict:
    """What the manifest says of one run's graph: its file, size and SHA-256, its input and output names with
    their shapes (K classes and S x S images from facts, dataset_facts' dict), whether occlusion is computed, and
    the static part of the unrolled numbers."""
    model = graph.model
    K, S = len(facts["classes"]), facts["image_size"]
    T = model.num_steps if graph.recurrent else None
    H = (model.hidden_size * (2 if model.bidirectional else 1) * len(model.readers)) if graph.recurrent else None
    shapes = {"logits": ["N", K], "final": ["N", K], "probabilities": ["N", T, K],
              "hidden": ["N", T, H]}
    outputs = [{"name": name, "shape": shapes.get(name)} for name in graph.output_names]
    unrolled = None
    if graph.unrolled is not None:
        unrolled = {key: value for key, value in graph.unrolled.items() if key != "terms"}
        unrolled["terms"] = [{key: value for key, value in term.items() if key != "values"}
                             for term in graph.unrolled["terms"]]
        for entry, term in zip(outputs[4:], graph.unrolled["terms"]):
            entry["shape"] = [len(term["values"]), len(term["values"][0])]
    readers = len(model.readers) if graph.recurrent else None
    return {"file": file, "bytes": len(data), "sha256": files.sha256(data),
            "inputs": [{"name": "images", "shape": ["N", 1, S, S]}]
                      + ([{"name": "keep", "shape": ["N", readers, T]}] if graph.recurrent else []),
            "outputs": outputs, "readers": readers,
            "occlusion": bool(graph.recurrent and reading.occlusion_affordable(model)),
            "unrolled": unrolled, "unrolled_reason": graph.unrolled_reason}


# -- the runtime -----------------------------------------------------------------------------------------------

def _integrity_hex(integrity: str) -> str:
    """npm's "sha512-<base64>" -> the hex digest."""
    algorithm, _, digest = integrity.partition("-")
    if algorithm != "sha512":
        raise ValueError(f"not a sha512 integrity: {integrity!r}")
    return base64.b64decode(digest).hex()


def runtime_dir(cache=None, *, url: str | None = None, runtime: dict | None = None) -> Path:
    """The folder holding onnxruntime-web's three files (RUNTIME["files"]) and RUNTIME.json, fetched the first time
    from the npm registry (url, $ROWRNN_RUNTIME_URL, or RUNTIME["tarball"]) into cache (default rowrnn's cache
    folder), checked against npm's sha512 integrity, and used offline afterwards (each file's SHA-256 is checked
    against RUNTIME.json every time). Raises RowrnnError (one line) when it cannot be fetched, does not verify,
    or lacks a file."""
    runtime = runtime or RUNTIME
    from .data import _pooch, cache_dir
    root = Path(cache) if cache is not None else cache_dir()
    folder = root / f"{runtime['package']}-{runtime['version']}"
    if files.exists(folder / "RUNTIME.json"):
        try:
            facts = json.loads((folder / "RUNTIME.json").read_text())
            if all(files.sha256((folder / name).read_bytes()) == facts["sha256"][name] for name in runtime["files"]):
                return folder
        except (OSError, ValueError, KeyError, TypeError):
            pass                                           # damaged: fetched again below
    source = url or os.environ.get("ROWRNN_RUNTIME_URL") or runtime["tarball"]
    pooch = _pooch()
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".runtime-", dir=root))
    try:
        try:
            logger = pooch.get_logger()
            level = logger.level
            logger.setLevel("WARNING")
            try:
                tarball = pooch.retrieve(source, known_hash=f"sha512:{_integrity_hex(runtime['integrity'])}",
                                         fname="package.tgz", path=work, progressbar=False)
            finally:
                logger.setLevel(level)
        except ValueError as e:          # pooch: the hash does not match
            if "hash" not in str(e).lower():
                raise
            raise RowrnnError(f"the {runtime['package']} {runtime['version']} downloaded from {source} does not "
                              "match its pinned sha512 integrity: nothing was kept; check the URL "
                              "($ROWRNN_RUNTIME_URL) or try again") from None
        except Exception as e:           # requests' and pooch's own errors: no network, 404, refused
            raise RowrnnError(f"cannot download {runtime['package']} {runtime['version']} from {source} "
                              f"({type(e).__name__}): connect to the internet (the npm registry) once, or set "
                              "ROWRNN_RUNTIME_URL to a copy of the tarball") from None
        staged = work / "files"
        staged.mkdir()
        wanted = {f"package/dist/{name}": name for name in runtime["files"]}
        found = {}
        try:
            with tarfile.open(tarball, "r:gz") as archive:
                for member in archive:
                    if member.name in wanted and member.isfile() and member.size <= MAX_RUNTIME_FILE:
                        found[wanted[member.name]] = archive.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as e:
            raise RowrnnError(f"the {runtime['package']} tarball from {source} cannot be read ({type(e).__name__}): "
                              "delete it and try again") from None
        missing = [name for name in runtime["files"] if name not in found]
        if missing:
            raise RowrnnError(f"the {runtime['package']} {runtime['version']} tarball lacks {', '.join(missing)}: "
                              "this version is not one rowrnn site can use")
        for name, data in found.items():
            (staged / name).write_bytes(data)
        (staged / "LICENSE").write_text(MIT.format(copyright=runtime["copyright"]))
        facts = {key: (list(value) if isinstance(value, tuple) else value) for key, value in runtime.items()}
        facts["sha256"] = {name: files.sha256(data) for name, data in found.items()}
        facts["source"] = source
        (staged / "RUNTIME.json").write_text(json.dumps(facts, indent=1) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staged, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


# -- the site --------------------------------------------------------------------------------------------------

def page_html(source: str) -> str:
    """serve's index.html made a static site's: links relative (a site may live in a sub-folder, as on GitHub
    Pages), the Content-Security-Policy as a <meta> (static hosts rarely let you set headers), and the engine
    named (api.js answers from the browser when it reads "static")."""
    html = source.replace('"/static/', '"./')
    head = (f'  <meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '  <meta name="referrer" content="no-referrer">\n'
            '  <meta name="rowrnn-engine" content="static">\n')
    if html.count('<meta charset="utf-8">\n') != 1:
        raise ValueError("web/index.html has no single <meta charset=\"utf-8\"> line to put the policy after")
    return html.replace('<meta charset="utf-8">\n', '<meta charset="utf-8">\n' + head, 1)


def _names(paths: list[Path]) -> list[str]:
    """A unique panel name per run: its folder's name, '#2' for a repeat (the page names runs in its URL)."""
    seen: dict[str, int] = {}
    names = []
    for path in paths:
        name = path.resolve().name
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return names


def _accuracy(run) -> float | None:
    """The best weights' test accuracy as metrics.json of a finished run records it, else None."""
    accuracy = (run.metrics or {}).get("accuracy") if run.status == "finished" else None
    finite = isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool) and math.isfinite(accuracy)
    return accuracy if finite else None


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RowrnnError(f"--out {out} already exists and is not an empty folder: name a new folder (nothing is "
                          "overwritten)")
    if not out.parent.is_dir():
        raise RowrnnError(f"--out {out}: its folder {out.parent} does not exist: create it first")


@python_api(names={"--out": "out", "--test-images": "test_images", "RUN": "run_dirs"})
def build_site(run_dirs, out, *, test_images: int | None = None, data_dir=None,
               runtime_cache=None) -> dict:
    """Write the static site of the runs (run directories, their best weights) into out, a new or empty folder.

    Everything is written into a temporary folder beside out, then renamed: a failure leaves nothing. Each run's
    graph is checked first (check_reading, on CHECK_IMAGES test images). test_images: how many of the test
    split's first images the page can pick, at most the split's size (default None: DEFAULT_TEST_IMAGES, 1,000,
    or the whole split when it is smaller). The runtime comes from
    runtime_dir(runtime_cache). Returns {"path", "runs", "test_images", "bytes": {"runtime", "models", "images",
    "code"}} (code: the page's files, the manifest and the first reading). Raises RowrnnError (one line, naming the argument) for no runs, a run that cannot be loaded, runs
    whose datasets differ, test_images out of range, an out folder that is not new or empty, a runtime that
    cannot be fetched, or a graph that disagrees with rowrnn.
    """
    paths = [Path(p) for p in run_dirs]
    if not paths:
        raise RowrnnError("name at least one RUN directory: rowrnn site RUN [RUN ...] --out DIR")
    if test_images is not None and (isinstance(test_images, bool) or not isinstance(test_images, int)
                                    or test_images < 1):
        raise RowrnnError(f"--test-images must be a whole number of at least 1, got {test_images!r}")
    out = Path(out)
    _check_out(out)
    loaded = [runs.load_model(p, "best") for p in paths]
    facts = _one_dataset(_names(paths), loaded)
    test_set = load_test_set(loaded[0][1], data_dir)
    if test_images is None:
        test_images = min(DEFAULT_TEST_IMAGES, len(test_set))
    elif test_images > len(test_set):
        raise RowrnnError(f"--test-images must be at most the test split's {len(test_set)} images, got {test_images}")
    runtime = runtime_dir(runtime_cache)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        work.chmod(0o755)                             # mkdtemp's 0700 would hide the site from a web server
        sizes = {"runtime": 0, "models": 0, "images": 0, "code": 0}
        (work / "models").mkdir()
        (work / "ort").mkdir()
        entries = []
        for index, ((model, run), name) in enumerate(zip(loaded, _names(paths))):
            data, graph = reading_onnx(model)
            check_reading(model, data, graph, test_set.images[:CHECK_IMAGES])
            file = f"models/{index}.onnx"
            (work / file).write_bytes(data)
            sizes["models"] += len(data)
            info = reading.panel_info(model, run, name, index=index, test_accuracy=_accuracy(run))
            entries.append({**info, "graph": graph_entry(graph, file, data, facts)})
        images = test_set.images[:test_images].numpy().astype(np.uint8)          # (N, S, S)
        labels = [int(v) for v in test_set.labels[:test_images]]
        first = first_reading([model for model, _ in loaded], [e["name"] for e in entries], test_set.images[0],
                              labels[0]).encode()
        (work / FIRST_READING).write_bytes(first)
        sizes["code"] += len(first)
        (work / "test-images.bin").write_bytes(images.tobytes())
        sizes["images"] = images.nbytes
        for name in (*RUNTIME["files"], "LICENSE", "RUNTIME.json"):
            shutil.copyfile(runtime / name, work / "ort" / name)
            sizes["runtime"] += (work / "ort" / name).stat().st_size
        for name in PAGE_FILES:
            if not files.exists(WEB / name):
                continue                              # convert.js: uploads say "not available yet" without it
            text = (WEB / name).read_bytes()
            if name == "index.html":
                text = page_html(text.decode()).encode()
            (work / name).write_bytes(text)
            sizes["code"] += len(text)
        manifest = {"format": FORMAT, "version": FORMAT_VERSION, "rowrnn": _version(), **facts,
                    "dataset": short_name(dataset_of(loaded[0][1])),
                    "runtime": {"package": RUNTIME["package"], "version": RUNTIME["version"], "path": "ort/",
                                "files": list(RUNTIME["files"])},
                    "convert": files.exists(work / "convert.js"),      # with facts' "picture": its options
                    "test_images": {"file": "test-images.bin", "count": len(labels), "bytes": images.nbytes,
                                    "sha256": files.sha256(images.tobytes()), "labels": labels},
                    "first_reading": {"file": FIRST_READING, "index": 0, "bytes": len(first),
                                      "sha256": files.sha256(first)},
                    "not_finite": reading.NOT_FINITE, "tolerance": TOLERANCE,
                    "runs": entries}
        text = json.dumps(manifest, indent=1, allow_nan=False) + "\n"
        (work / "manifest.json").write_text(text)
        sizes["code"] += len(text)
        if out.exists():
            out.rmdir()                               # empty (checked above): the rename takes its place
        os.replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return {"path": out, "runs": [e["name"] for e in entries], "test_images": len(labels), "bytes": sizes}


def _version() -> str:
    from ._version import __version__
    return __version__


__all__ = ["build_site", "reading_onnx", "check_reading", "runtime_dir", "dataset_facts", "picture_options",
           "page_html", "CSP", "RUNTIME"]
