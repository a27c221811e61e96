"""`rowrnn serve`: a local web page where you draw, upload or pick a garment and watch each run read it.

    app = create_app(["runs/notebook", "runs/bilstm"])    # an ASGI app: the page and its JSON API
    serve(["runs/notebook"], port=8000)                    # what `rowrnn serve` runs (uvicorn, loopback)

The JSON endpoints are the contract the page uses (and scripts may too):

    GET  /api/runs                -> {"runs": [{id, name, preset, parameters, test_accuracy, recurrent, read,
                                      steps, rows_per_step, hidden_width, hidden_size, permutation, classes,
                                      image_size, step_lines}], "classes": [...], "image_size": S,
                                      "dataset": name, "test_images": N, "background": "dark", "light" or
                                      null (the dataset's: rowrnn.datasets.DatasetInfo.background), "pad":
                                      "dark" or "light" (the drawing pad's ground: datasets.drawing_ground),
                                      "picture": how a person's picture becomes an S x S image for these runs
                                      ({"conversion": "photo", "fit": "trim"|"none", "size": 28} or
                                      {"conversion": "plain", "size": S}: datasets.picture_options, as the
                                      static site's manifest says it)}
                                     (every run served reads the same classes at the same size S: see load_panels)
    GET  /api/test-image/{index}  -> {"index", "label", "class", "pixels": SxS grey values 0-255}
                                     (index: plain ASCII digits, no sign, no leading zero)
    POST /api/predict[?fit=trim|none]   (fit: left out, the runs' dataset's: rowrnn.datasets.photo_fit)
                                  body: an image file (Content-Type image/* or application/octet-stream), a
                                  multipart/form-data upload (its one file part: curl -F file=@shirt.jpg), or
                                  JSON (application/json, text/json, application/*+json) {"pixels": S rows of S
                                  values 0-255} or {"test_index": N}
                                  -> {"image": SxS (what the networks saw), "label": int or null,
                                      "models": [{id, name, steps: T x C probabilities (null for a CNN),
                                      hidden: T x H (null for a CNN), final: C probabilities,
                                      top: [{class, probability} x 3], unrolled: the recurrence's vectors at
                                      every step (rowrnn.unrolling.unroll's dict) for hidden size <= 16, else null,
                                      unrolled_reason: why it is null ("hidden-size", "not-finite",
                                      "not-recurrent"), else null}
                                      or {id, name, error: one line} for a run whose outputs are not finite]}
                                  (each run's part is rowrnn.reading.reading_view's dict, without attribution)
    POST /api/explain?run=ID[&fit=...]
                                  the same bodies (a JSON one may name the run instead: {"run": ID, ...}) ->
                                  {"image", "label", "models": [{id, name, attribution: {target, class,
                                      occlusion: R x T or null (pixel readers), integrated-gradients: R x T}
                                      or null (a CNN, non-finite outputs)}]}: which steps decided the answer of
                                      the one run asked (ID from /api/runs), asked apart because it costs more:
                                      measured on 2 CPU cores shared with other work, integrated gradients on
                                      a pixels GRU-8 or GRU-64 (784 steps) took 0.1-0.3 s when the cores were
                                      free and 18-25 s when they were busy (the same with n_steps 8, 16 or 32:
                                      torch's 2 threads waiting on each other at every step; 0.1 s with
                                      torch.set_num_threads(1)); a rows reader, well under a second. One run a
                                      request, so a request's cost is one model's whatever the number of runs
                                      served (the page asks once per panel). One explanation at a time; the
                                      others wait for it up to 2 s, then 503; and at most 8 request bodies
                                      (guard.Limits.max_uploads) are held at once, each until its answer, so
                                      in a burst the 9th and later requests get 503 at once.

Every error is {"error": "one line"} with its status (400, 403, 404, 405 with Allow, 408, 413, 415, 416, 422,
503 with Retry-After, 500); no answer ever holds NaN or Infinity. Runs are fixed at start (the page names
them by id, never by path) and nothing is ever written into them. Who may ask, and how much, is rowrnn.guard's.
"""
from __future__ import annotations

import asyncio
import errno
import functools
import logging
import math
import re
import socket
import sys
import threading
from pathlib import Path

import torch

from . import files, guard, reading, runs
from .constants import IMAGE_SIZE
from .datasets import dataset_of, drawing_ground, one_page, picture_options, prepare_picture, short_name
from .errors import RowrnnError
from .evaluation import load_test_set
from .images import FITS
from .reading import DIGITS, dumps as _dumps  # noqa: F401  (serve's names for them)

WEB = Path(__file__).parent / "web"
LIMITS = guard.Limits()             # serve's defaults (tests shorten them)
MAX_UPLOAD_BYTES = LIMITS.max_upload_bytes
EXTRA_MODULES = (("starlette", "starlette"), ("uvicorn", "uvicorn"), ("python_multipart", "python-multipart"))
IMAGE_TYPES = "image/* (PNG, JPEG, WebP, GIF, BMP, TIFF) or application/octet-stream"
ACCEPTED = (f"send an image file as {IMAGE_TYPES}, a multipart/form-data upload with one file "
            "(curl -F file=@shirt.jpg), or application/json with pixels or test_index")


def require_serve_extra() -> None:
    """RowrnnError naming `pip install 'rowrnn[serve]'` when a package serve needs is not installed."""
    import importlib.util
    missing = []
    for module, package in EXTRA_MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found or sys.modules.get(module, True) is None:
            missing.append(package)
    if missing:
        raise RowrnnError(f"rowrnn serve needs {', '.join(missing)}, which is not installed: "
                          "pip install 'rowrnn[serve]'")


class Panel:
    """One run's panel on the page: its weights, loaded once (the model in eval mode), and what the page shows
    about it (rowrnn.reading's panel_info). (Not RNNClassifier.readers, the recurrent layers that read an image.)"""

    def __init__(self, index: int, path: Path, name: str):
        self.model, run = runs.load_model(path, "best")
        self.recurrent = reading.is_recurrent(self.model)
        self.info = reading.panel_info(self.model, run, name, index=index,
                                       test_accuracy=weights_accuracy(path, run))
        self.config = run.config
        self.dataset_info = dataset_of(run.config)          # the run's classes, image size and conversion
        self.dataset = short_name(self.dataset_info)
        self.model.requires_grad_(False)

    def read(self, image: torch.Tensor) -> dict:
        """uint8 (S, S) -> {id, name, **rowrnn.reading.reading_view}: probabilities and hidden states at every
        step, or {id, name, error} when the weights give NaN or infinite outputs (the other panels are unaffected).
        Without the attribution, which /api/explain computes on its own (0.1 s to 25 s a run: see above)."""
        return {"id": self.info["id"], "name": self.info["name"],
                **reading.reading_view(self.model, image, attribution=False)}

    def explain(self, image: torch.Tensor) -> dict:
        """uint8 (S, S) -> {id, name, attribution: rowrnn.reading.attribution_view (None for a CNN or
        non-finite outputs)}."""
        return {"id": self.info["id"], "name": self.info["name"],
                "attribution": reading.attribution_view(self.model, image)}


def weights_accuracy(path, run) -> float | None:
    """The test accuracy of exactly the weights served, or None when nothing recorded it.

    The best weights (a run directory, or RUN/best.safetensors): metrics.json of a finished run. Other
    weights (RUN/last.safetensors, a copy): the metrics `rowrnn evaluate WEIGHTS --save` wrote for them, if
    no newer than them and without test-time augmentation (serve reads each image once).
    """
    run_dir, weights_path = runs.resolve_weights(path, "best")
    name = weights_path.stem
    if name == "best" and weights_path.parent.resolve() == Path(run_dir).resolve():
        metrics = run.metrics if run.status == "finished" else None
    else:
        metrics_path = runs.extra_metrics_path(run_dir, name)
        try:
            fresh = (files.exists(metrics_path)
                     and metrics_path.stat().st_mtime_ns >= weights_path.stat().st_mtime_ns)
            metrics = files.read_json(metrics_path) if fresh else None
        except (OSError, RowrnnError):
            metrics = None
        if not isinstance(metrics, dict) or metrics.get("weights") != name or metrics.get("tta"):
            metrics = None
    accuracy = metrics.get("accuracy") if metrics else None
    finite = isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool) and math.isfinite(accuracy)
    return accuracy if finite else None


def _names(paths: list[Path]) -> list[str]:
    """A unique panel name per weights: the run directory's name, with as many parent folders as it takes to
    tell runs apart (a/exp/run, b/exp/run), '(last)' for weights other than best, '#2' for a repeat."""
    resolved = [runs.resolve_weights(p, "best") for p in paths]
    dirs = [Path(d).resolve() for d, _ in resolved]
    suffixes = ["" if w.stem == "best" and w.parent.resolve() == d else f" ({w.stem})"
                for d, (_, w) in zip(dirs, resolved)]
    keys = list(dict.fromkeys(zip(dirs, suffixes)))              # the same weights twice are told apart by #2
    depth, deepest = 1, max(len(d.parts) - 1 for d in dirs)
    while depth < deepest and len({"/".join(d.parts[-depth:]) + s for d, s in keys}) < len(keys):
        depth += 1
    names = ["/".join(d.parts[-depth:]) + s for d, s in zip(dirs, suffixes)]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return unique


def load_panels(run_dirs, data_dir=None):
    """(panels, test split) for the runs given at start: run directories (their best weights) or weights files
    beside their run's config.json (RUN/last.safetensors). Every problem is a one-line RowrnnError.

    Runs are shown side by side only when they read the same classes (names, in order) at the same image size and
    convert a person's picture alike on the same drawing pad (datasets.one_page): one picture, one conversion, one
    set of class names and one test set (the first run's dataset's) serve them all. Runs that differ so are
    refused in one line naming each group, to serve one group at a time (MNIST and a folder of digits named 0-9 at
    28 share classes and size, but not MNIST's photo conversion: a dark folder converted plain is its own group)."""
    paths = [Path(p) for p in run_dirs]
    if not paths:
        raise RowrnnError("name at least one run directory: rowrnn serve RUN [RUN ...]")
    panels = [Panel(i, p, name) for i, (p, name) in enumerate(zip(paths, _names(paths)))]
    one_page([(panel.info["name"], panel.dataset_info) for panel in panels],
             "serve each group with its own rowrnn serve")
    # the first run's recorded folder, named as the run's if missing (a weights file's run is its folder)
    test_set = load_test_set(runs.resolve_weights(paths[0], "best")[0], data_dir)
    return panels, test_set


class Refused(Exception):
    """An answer other than 200, raised anywhere in a request's handling: status, one line, extra headers."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers or {}


def media_type(header: str | None) -> str:
    """'Application/JSON; charset=utf-8' -> 'application/json' ('' when absent)."""
    return (header or "").split(";", 1)[0].strip().lower()


def body_kind(header: str | None) -> str:
    """What a POST /api/predict body is, from its Content-Type: 'image', 'form' or 'json'; Refused 415 else."""
    kind = media_type(header)
    if kind.startswith("image/") or kind == "application/octet-stream":
        return "image"
    if kind == "multipart/form-data":
        return "form"
    if kind in ("application/json", "text/json") or re.fullmatch(r"application/[\w.+-]+\+json", kind):
        return "json"
    shown = f"Content-Type {kind}" if kind else "a request without Content-Type"
    raise Refused(415, f"{shown} is not accepted: {ACCEPTED}")


def run_index_of(text: str, count: int) -> int | None:
    """The run a URL's ?run= names: plain ASCII digits (test_index_of's spelling), below count; None otherwise."""
    return test_index_of(text, count)


def test_index_of(text: str, size: int) -> int | None:
    """The test image a URL names: plain ASCII decimal digits, no sign, space, underscore or leading zero
    (one spelling per image), within the test set; None otherwise."""
    if not re.fullmatch(r"0|[1-9][0-9]{0,8}", text, flags=re.ASCII):
        return None
    index = int(text)
    return index if index < size else None


def create_app(run_dirs, data_dir=None, *, host: str = "127.0.0.1", limits: guard.Limits | None = None,
               allow_hosts=()):
    """The ASGI app: the page (web/), its static files and the JSON API over the given runs, behind
    rowrnn.guard.Guard (Host allow-list for `host`, the address served on, and the names and addresses in
    allow_hosts, rowrnn.guard.allowed_hosts's spellings; same-origin API; headers). Raises RowrnnError naming
    allow_hosts for a name that is not one."""
    require_serve_extra()
    allowed = guard.allowed_hosts(allow_hosts, "allow_hosts")
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.formparsers import MultiPartException, MultiPartParser
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import FileResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    limits = limits or LIMITS
    panels, test_set = load_panels(run_dirs, data_dir)
    predictions = threading.BoundedSemaphore(limits.max_predictions)
    # one explanation at a time (it takes seconds for a large or pixel reader): the other prediction slots stay
    # free for readings whatever a page asks
    explanations = threading.BoundedSemaphore(1)
    uploads = threading.BoundedSemaphore(limits.max_uploads)
    mb = limits.max_upload_bytes // 2**20

    def answer(value, status: int = 200, headers: dict | None = None) -> Response:
        return Response(_dumps(value), status_code=status, headers=headers, media_type="application/json")

    def test_image(index) -> tuple[torch.Tensor, int]:
        if isinstance(index, bool) or not isinstance(index, int):
            raise RowrnnError(f"test_index must be an integer, got {guard.one_line(repr(index), 60)}")
        if not 0 <= index < len(test_set):
            raise RowrnnError(f"test image {index} does not exist: the test set has {len(test_set)} images "
                              f"(0-{len(test_set) - 1})")
        return test_set.images[index], int(test_set.labels[index])

    async def index(request: Request):
        return FileResponse(WEB / "index.html")

    classes, side = panels[0].info["classes"], panels[0].info["image_size"]    # every panel's (load_panels)
    dataset = panels[0].dataset
    # every panel's conversion and pad are the first's (load_panels' one_page); the background too, where it counts
    drawn = {"background": panels[0].dataset_info.background, "pad": drawing_ground(panels[0].dataset_info),
             "picture": picture_options(panels[0].dataset_info)}      # the manifest's too (site.dataset_facts)

    async def list_runs(request: Request):
        return answer({"runs": [p.info for p in panels], "classes": classes, "image_size": side,
                       "dataset": dataset, "test_images": len(test_set), **drawn})

    def get_test_image(request: Request):
        index = test_index_of(request.path_params["index"], len(test_set))
        if index is None:
            raise Refused(404, f"no test image {request.path_params['index']!r}: the test set has images "
                               f"0-{len(test_set) - 1}, named by plain digits (/api/test-image/7)")
        image, label = test_set.images[index], int(test_set.labels[index])
        return answer({"index": index, "label": label, "class": classes[label], "pixels": image.tolist()})

    async def read_body(request: Request) -> bytes:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limits.max_upload_bytes:
                raise Refused(413, f"the upload is over the limit of {mb} MB: send a smaller image",
                              {"connection": "close"})
        return bytes(body)

    async def predict(request: Request):
        return await answer_image(request, _predict)

    async def explain(request: Request):
        repeated = request.query_params.getlist("run")
        if len(repeated) > 1:                                      # Starlette's get() would take the last one
            raise Refused(422, f"run is given {len(repeated)} times in the query: name one run to explain (?run=ID)")
        asked = request.query_params.get("run")
        if asked is not None and run_index_of(asked, len(panels)) is None:
            raise Refused(422, f"run must be a run id 0-{len(panels) - 1} (from /api/runs), "
                               f"got {guard.one_line(repr(asked), 40)}")
        return await answer_image(request, functools.partial(_explain, asked=asked))

    async def answer_image(request: Request, work):
        """Receive an image as /api/predict takes it, then work(body, kind, fit) in a thread: the answer."""
        kind = body_kind(request.headers.get("content-type"))
        if len(request.query_params.getlist("fit")) > 1:
            raise Refused(422, f"fit is given {len(request.query_params.getlist('fit'))} times in the query: "
                               f"give it once (?fit={' or ?fit='.join(FITS)})")
        fit = request.query_params.get("fit")
        if fit is not None and fit not in FITS:
            raise Refused(422, f"fit must be one of {', '.join(FITS)}, got {guard.one_line(repr(fit), 40)}")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_upload_bytes:
            raise Refused(413, f"the upload is {int(declared) / 2**20:.1f} MB, over the limit of {mb} MB: "
                               "send a smaller image", {"connection": "close"})
        if not uploads.acquire(blocking=False):
            raise Refused(503, f"{limits.max_uploads} uploads are already being received: try again in a moment",
                          {"retry-after": "1", "connection": "close"})
        try:
            try:
                body = await asyncio.wait_for(read_body(request), limits.body_timeout)
            except asyncio.TimeoutError:
                raise Refused(408, f"the request's body took over {limits.body_timeout:g} s: send it at once",
                              {"connection": "close"}) from None
            except ClientDisconnect:
                return Response(status_code=400)      # nobody is there to read an answer; nothing to log
            if not body:
                raise Refused(400, "the request has no body: " + ACCEPTED)
            if kind == "form":
                body = await form_file(request, body)
            return await _in_daemon_thread(work, body, kind, fit)
        finally:
            uploads.release()

    async def form_file(request: Request, body: bytes) -> bytes:
        async def stream():
            yield body
        parser = MultiPartParser(request.headers, stream(), max_files=1, max_fields=8, max_part_size=64 * 2**10)
        parser.spool_max_size = limits.max_upload_bytes        # the file stays in memory, never on disk
        try:
            form = await parser.parse()
        except MultiPartException as e:
            raise Refused(422, f"the multipart form is malformed or holds more than one file ({e}): "
                               "send one file (curl -F file=@shirt.jpg)") from None
        try:
            upload = next((v for _, v in form.multi_items() if not isinstance(v, str)), None)
            if upload is None:
                raise Refused(422, "the multipart form has no file: send the image as a file field "
                                   "(curl -F file=@shirt.jpg)")
            return await upload.read()
        finally:
            await form.close()

    def request_of(body: bytes, kind: str) -> dict | None:
        """A JSON body's object (holding pixels or test_index); None for an image file."""
        if kind != "json":
            return None
        request = _request_json(body)
        if not isinstance(request, dict) or not ({"pixels", "test_index"} & set(request)):
            raise RowrnnError(f'send {{"pixels": {side} rows of {side} values 0-255}} or {{"test_index": N}}')
        return request

    def image_of(body: bytes, kind: str, fit: str, request: dict | None) -> tuple[torch.Tensor, int | None]:
        """(uint8 (S, S), the test image's label or None) from a request's body (request: request_of's); an
        image file is converted for the runs' dataset (rowrnn.datasets.prepare_picture; fit None: its own)."""
        if request is None:
            return prepare_picture(body, "the uploaded image", panels[0].dataset_info, fit=fit).image, None
        if "test_index" in request:
            return test_image(request["test_index"])
        return _pixels(request["pixels"], side), None

    def panel_asked(asked: str | None, request: dict | None) -> Panel:
        """The one run /api/explain explains: ?run=ID, or a JSON body's "run" (both: the same id)."""
        given = request.get("run") if request is not None else None
        ids = f"0-{len(panels) - 1}"
        if given is not None and (isinstance(given, bool) or not isinstance(given, int)
                                  or not 0 <= given < len(panels)):
            raise RowrnnError(f"run must be a run id {ids} (from /api/runs), got {guard.one_line(repr(given), 40)}")
        if asked is not None and given is not None and int(asked) != given:
            raise RowrnnError(f"?run={asked} and the body's run {given} differ: name one run to explain")
        if asked is None and given is None:
            raise RowrnnError(f"name the run to explain, one a request: ?run=ID or {{\"run\": ID}} with an id "
                              f"{ids} from /api/runs")
        return panels[int(asked) if asked is not None else given]

    def in_slot(work):
        # the slot bounds what parsing and decoding may hold in memory at once (8 MB of JSON is ~100 MB of lists),
        # and the model work of /api/explain (up to a few seconds a run) as much as /api/predict's
        if not predictions.acquire(timeout=limits.slot_wait):
            raise Refused(503, f"{limits.max_predictions} images are already being read: try again in a moment",
                          {"retry-after": "1"})
        try:
            return answer(work())
        finally:
            predictions.release()

    def _predict(body: bytes, kind: str, fit: str):
        def work():
            image, label = image_of(body, kind, fit, request_of(body, kind))
            return {"image": image.tolist(), "label": label, "models": [p.read(image) for p in panels]}
        return in_slot(work)

    def _explain(body: bytes, kind: str, fit: str, asked: str | None):
        def work():
            request = request_of(body, kind)
            panel = panel_asked(asked, request)                 # before any decoding: a request without a run
            image, label = image_of(body, kind, fit, request)
            return {"image": image.tolist(), "label": label, "models": [panel.explain(image)]}
        if not explanations.acquire(timeout=limits.slot_wait):
            raise Refused(503, "an image is already being explained: try again in a moment", {"retry-after": "1"})
        try:
            return in_slot(work)
        finally:
            explanations.release()

    async def refused(request: Request, exc: Refused):
        return answer({"error": guard.one_line(str(exc))}, exc.status, exc.headers)

    async def user_error(request: Request, exc: RowrnnError):
        return answer({"error": guard.one_line(str(exc))}, 422)

    async def http_error(request: Request, exc: HTTPException):
        headers = dict(exc.headers or {})
        if "Allow" in headers:                                    # Starlette keeps methods in a set: one order
            headers["Allow"] = ", ".join(sorted(m.strip() for m in headers["Allow"].split(",")))
        if exc.status_code == 405:
            allowed = headers.get("Allow", "GET")
            message = f"method {request.method} not allowed on {request.scope['path']}: use {allowed}"
        elif exc.status_code == 404:
            message = f"not found: {request.scope['path']}"
        else:
            message = exc.detail
        return answer({"error": guard.one_line(message)}, exc.status_code, headers)

    async def internal(request: Request, exc: Exception):
        return answer({"error": f"internal error ({type(exc).__name__}): please report it with what you sent"}, 500)

    routes = [Route("/", index), Route("/api/runs", list_runs),
              Route("/api/test-image/{index}", get_test_image), Route("/api/predict", predict, methods=["POST"]),
              Route("/api/explain", explain, methods=["POST"]),
              Mount("/static", StaticFiles(directory=WEB), name="static")]
    app = Starlette(routes=routes, exception_handlers={Refused: refused, RowrnnError: user_error,
                                                       HTTPException: http_error, Exception: internal})
    return guard.Guard(app, guard.Origins(host, allowed))


async def _in_daemon_thread(function, *args):
    """function(*args) in a daemon thread, awaited: a stop cancels the wait and the process exits at once,
    where a worker pool's thread would hold it until a long decode finished (anyio's and concurrent.futures'
    threads are joined at exit). Threads are bounded by the upload limit: each holds an upload slot."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(result, error):
        if not future.done():
            future.set_exception(error) if error is not None else future.set_result(result)

    def work():
        try:
            outcome = (function(*args), None)
        except BaseException as e:                     # handed to the awaiting request, raised there
            outcome = (None, e)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:                           # the loop is gone: the server stopped meanwhile
            pass

    threading.Thread(target=work, name="rowrnn-predict", daemon=True).start()
    return await future


def _request_json(body: bytes):
    """The request's JSON, with rowrnn's bounds on nesting and numbers; errors worded for a request."""
    try:
        return files.parse_json(body, "the request's JSON")
    except RowrnnError as e:
        message = str(e)
        detail = re.search(r"not valid JSON \((.*)\): ", message)
        if detail:
            raise RowrnnError(f"the request's JSON is malformed ({detail.group(1)}): "
                              'send {"pixels": [[...], ...]} or {"test_index": N}') from None
        raise RowrnnError("the request's JSON is nested too deeply: "
                          'send {"pixels": [[...], ...]} or {"test_index": N}') from None


def _pixels(value, size: int = IMAGE_SIZE) -> torch.Tensor:
    """A size x size JSON array of grey values 0-255 (size: the runs' image size) -> uint8 (size, size)."""
    if (not isinstance(value, list) or len(value) != size
            or not all(isinstance(row, list) and len(row) == size for row in value)):
        raise RowrnnError(f"pixels must be {size} rows of {size} numbers")
    flat = [v for row in value for v in row]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 255 for v in flat):
        raise RowrnnError("pixels must be numbers from 0 (black) to 255 (white)")
    return torch.tensor(flat, dtype=torch.float32).round().to(torch.uint8).reshape(size, size)


class _QuietLog(logging.Filter):
    """uvicorn's log without what clients can cause at will: a flood of bad requests must not flood the log.

    Dropped: tracebacks of requests cancelled by a stop or abandoned by their client, the count of requests a
    stop cancelled, and the warnings for invalid HTTP (the client got a JSON 400) and upgrade requests (this
    server has no WebSockets). Everything else (a bug's traceback above all) stays.
    """

    DROPPED = ("Cancel %s running task", "Invalid HTTP request received", "Unsupported upgrade request",
               "No supported WebSocket library")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is not None:
            from starlette.requests import ClientDisconnect
            if issubclass(record.exc_info[0], (asyncio.CancelledError, ClientDisconnect)):
                return False
        return not str(record.msg).startswith(self.DROPPED)


def machine_addresses(host: str) -> list[str]:
    """The addresses other machines may reach this one at, when serving on `host`: itself when it is one
    address; for a wildcard (0.0.0.0: IPv4, "::": both), the addresses of this machine's name and the one its
    default route leaves from (a UDP socket's connect sends nothing), without loopback ones. Best effort, in
    order, without repeats: a machine with no network gives []."""
    import ipaddress
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return []
    if not ip.is_unspecified:
        return [] if ip.is_loopback else [str(ip)]
    families = [socket.AF_INET] + ([socket.AF_INET6] if ip.version == 6 else [])
    found = []
    for family in families:
        probe = "192.0.2.1" if family == socket.AF_INET else "2001:db8::1"     # documentation addresses
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                found.append(s.getsockname()[0])
        except OSError:
            pass
        try:
            found += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, family, socket.SOCK_STREAM)]
        except (OSError, UnicodeError):
            pass
    out = []
    for address in found:
        try:
            a = ipaddress.ip_address(address)
        except ValueError:                          # fe80::1%eth0: a zone, which no URL takes
            continue
        if not (a.is_loopback or a.is_unspecified or a.is_link_local) and str(a) not in out:
            out.append(str(a))
    return out


def serve(run_dirs, host: str = "127.0.0.1", port: int = 8000, data_dir=None,
          limits: guard.Limits | None = None, allow_hosts=()) -> int:
    """Load the runs, bind host:port, print the address (stdout), and serve until SIGINT/SIGTERM.

    allow_hosts: the names and addresses other machines may open the page by (--allow-host; each value one or
    several, comma-separated: rowrnn.guard.allowed_hosts); beyond loopback, serve also prints the URLs other
    machines can open (those names, then this machine's addresses) and, without names, how to allow one.
    A stop waits at most limits.graceful_shutdown seconds for running requests, whatever the clients do;
    the signal then ends the process as the CLI's handlers say (one line, exit 130/143). Raises RowrnnError
    for a run that cannot be loaded, a port outside 0-65535, a host that is not this machine's, a name in
    allow_hosts that is not one (naming --allow-host), or an address that cannot be listened on.
    """
    require_serve_extra()
    import uvicorn
    limits = limits or LIMITS
    if not 0 <= port <= 65535:
        raise RowrnnError(f"--port must be from 0 to 65535, got {port}")
    allowed = guard.allowed_hosts(allow_hosts, "--allow-host")
    if re.fullmatch(r"\[[0-9A-Fa-f:.]+\]", host):       # [::1], as written in a URL
        host = host[1:-1]
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]     # IPv4 or IPv6 (::1)
    except (socket.gaierror, UnicodeError):
        raise RowrnnError(f"--host {host}: not an address of this machine: use 127.0.0.1 (or 0.0.0.0)") from None
    app = create_app(run_dirs, data_dir, host=host, limits=limits, allow_hosts=allowed)
    try:
        sock = socket.create_server((host, port), family=family, backlog=limits.backlog)
    except OSError as e:
        if e.errno == errno.EADDRNOTAVAIL:
            raise RowrnnError(f"--host {host}: not an address of this machine: use 127.0.0.1 (or 0.0.0.0)") from None
        reason = "the port is in use" if e.errno == errno.EADDRINUSE else e.strerror
        raise RowrnnError(f"cannot listen on {host}:{port} ({reason}): choose another --port (0 picks a free one)") from None
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    origins = guard.Origins(host, allowed)
    if not origins.local_only:      # the Host check's own rule: 127.0.0.0/8, ::1, localhost (any case)
        print(f"rowrnn: warning: --host {host} makes the page reachable from other machines; it has no password",
              file=sys.stderr, flush=True)
    elif allowed:
        print(f"rowrnn: warning: --allow-host names what other machines open, but --host {host} answers only this "
              "one: add --host 0.0.0.0", file=sys.stderr, flush=True)
    print(f"rowrnn serve: http://{shown}:{bound_port}/ ({len(run_dirs)} run{'s' if len(run_dirs) > 1 else ''}; "
          "Ctrl-C to stop)", flush=True)
    if not origins.local_only:
        urls = origins.urls(bound_port, machine_addresses(host))
        if urls:
            print(f"rowrnn serve: other machines open {' or '.join(urls)}", flush=True)
        if not origins.has_names:
            print("rowrnn serve: to let them use a name this machine has on the network, start with --allow-host "
                  "NAME (several: comma-separated)", flush=True)
    config = uvicorn.Config(
        app, http=guard.http_protocol(limits), ws="none", lifespan="off", log_level="warning", access_log=False,
        proxy_headers=False,            # X-Forwarded-* from any local process would change who the client is
        server_header=False, timeout_keep_alive=limits.keep_alive, backlog=limits.backlog,
        # no limit_concurrency: its 503 is uvicorn's plain text without our headers, and it caps nothing the
        # guard does not (it still runs a task per request); guard.http_protocol caps connections, and a
        # vanished client's task outlives its connection beyond a moment only while it holds an upload slot
        h11_max_incomplete_event_size=limits.max_header_bytes,
        timeout_graceful_shutdown=limits.graceful_shutdown)
    quiet = _QuietLog()
    logging.getLogger("uvicorn.error").addFilter(quiet)
    # python-multipart logs a warning for every malformed form it parses ("Expected boundary character ...")
    # on top of the exception Starlette turns into our 422: a client could fill the log at will
    multipart_log = logging.getLogger("python_multipart")
    multipart_level = multipart_log.level
    multipart_log.setLevel(logging.ERROR)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        logging.getLogger("uvicorn.error").removeFilter(quiet)
        multipart_log.setLevel(multipart_level)
        sock.close()
    return 0
