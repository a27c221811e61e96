"""`rowrnn serve`: a local web page where you draw, upload or pick a garment and watch each run read it.

    app = create_app(["runs/notebook", "runs/bilstm"])    # a Starlette app: the page and its JSON API
    serve(["runs/notebook"], port=8000)                    # what `rowrnn serve` runs (uvicorn, loopback)

The JSON endpoints are the contract the page uses (and scripts may too):

    GET  /api/runs                -> {"runs": [{id, name, preset, parameters, test_accuracy, recurrent, read,
                                      steps, rows_per_step, hidden_width, permutation}], "classes": [...],
                                      "test_images": N}
    GET  /api/test-image/{index}  -> {"index", "label", "class", "pixels": 28x28 grey values 0-255}
    POST /api/predict             body: a PNG or JPEG file (converted as `rowrnn predict` does), or JSON
                                  {"pixels": 28x28 values 0-255} or {"test_index": N}
                                  -> {"image": 28x28, "label": int or null, "models": [{id, name, steps: T x 10
                                      probabilities (null for a CNN), hidden: T x H (null for a CNN),
                                      final: 10 probabilities, top: [{class, probability} x 3]}]}

A mistake in a request is a 4xx answer {"error": "one line"}, never a stack trace. Runs are fixed at
start (the page names them by id, never by path) and nothing is ever written into them.
"""
from __future__ import annotations

import errno
import io
import json
import socket
import sys
from pathlib import Path

import numpy as np
import torch

from . import runs
from .constants import CLASSES, IMAGE_SIZE
from .data import load_split, normalize
from .errors import RowrnnError
from .inference import decode_image
from .models import count_parameters

WEB = Path(__file__).parent / "web"
MAX_UPLOAD_BYTES = 8 * 2**20        # a phone photo fits; larger bodies are refused before they are read
DIGITS = 4                          # probabilities and activations are sent rounded to this many decimals


class Reader:
    """One run, loaded once: its model in eval mode and what the page shows about it."""

    def __init__(self, index: int, path: Path, name: str):
        self.model, run = runs.load_model(path, "best")
        metrics = run.metrics if run.status == "finished" else None
        self.recurrent = hasattr(self.model, "step_logits")
        read = run.config.model.read if self.recurrent else None
        self.info = {
            "id": index, "name": name, "preset": run.config.preset,
            "parameters": count_parameters(self.model),
            "test_accuracy": metrics["accuracy"] if metrics else None,
            "recurrent": self.recurrent,
            "read": read,
            "steps": self.model.num_steps if self.recurrent else None,
            "rows_per_step": run.config.model.rows_per_step if self.recurrent else None,
            "hidden_width": (self.model.hidden_size * (2 if self.model.bidirectional else 1) * len(self.model.readers)
                             if self.recurrent else None),
            # the order a permuted-pixels reader takes the pixels in, so the page can light them up
            "permutation": self.model.permutation.tolist() if read == "permuted-pixels" else None,
        }
        self.config = run.config
        self.model.requires_grad_(False)

    @torch.inference_mode()
    def read(self, image: torch.Tensor) -> dict:
        """uint8 (28, 28) -> the step-by-step reading: probabilities and hidden states at every step."""
        x = normalize(image).reshape(1, 1, IMAGE_SIZE, IMAGE_SIZE)
        if self.recurrent:
            logits, hidden = self.model.reading(x)
            steps, hidden = logits[0].softmax(-1), hidden[0]                     # (T, 10), (T, H)
            final = steps[-1]
        else:
            steps = hidden = None
            final = self.model(x)[0].softmax(-1)
        values, indices = final.topk(3)
        return {"id": self.info["id"], "name": self.info["name"],
                "steps": steps, "hidden": hidden, "final": _rounded(final),
                "top": [{"class": CLASSES[int(i)], "probability": round(float(v), DIGITS)}
                        for v, i in zip(values, indices)]}


def _rounded(t: torch.Tensor):
    return (torch.round(t * 10**DIGITS) / 10**DIGITS).tolist()


def _dumps(value) -> str:
    """JSON text, with each 2-D tensor (the steps and hidden states) written by numpy to DIGITS decimals: a
    pixel reader's answer holds about 60,000 numbers, and Python's float repr alone took longer than the model."""
    if isinstance(value, torch.Tensor):
        buffer = io.StringIO()
        np.savetxt(buffer, value.float().numpy(), fmt=f"%.{DIGITS}f", delimiter=",", newline="],[")
        return "[[" + buffer.getvalue()[:-3] + "]]"                  # (T, K) -> [[...], ..., [...]]
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{_dumps(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dumps(item) for item in value) + "]"
    return json.dumps(value)


def _names(paths: list[Path]) -> list[str]:
    """Each run's directory name; the parent too where two runs share a name."""
    names = [p.resolve().name for p in paths]
    return [f"{p.resolve().parent.name}/{n}" if names.count(n) > 1 else n for p, n in zip(paths, names)]


def load_readers(run_dirs, data_dir=None):
    """(readers, test split) for the runs given at start; every problem is a one-line RowrnnError."""
    paths = [Path(p) for p in run_dirs]
    if not paths:
        raise RowrnnError("name at least one run directory: rowrnn serve RUN [RUN ...]")
    readers = [Reader(i, p, name) for i, (p, name) in enumerate(zip(paths, _names(paths)))]
    first = readers[0].config.data
    test_set = load_split(data_dir or first.data_dir, "test", verify=first.verify)
    return readers, test_set


def create_app(run_dirs, data_dir=None):
    """The Starlette app: the page (web/), its static files and the JSON API over the given runs."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    readers, test_set = load_readers(run_dirs, data_dir)

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def test_image(index) -> tuple[torch.Tensor, int]:
        if isinstance(index, bool) or not isinstance(index, int):
            raise RowrnnError(f"test_index must be an integer, got {index!r}")
        if not 0 <= index < len(test_set):
            raise RowrnnError(f"test image {index} does not exist: the test set has {len(test_set)} images "
                              f"(0-{len(test_set) - 1})")
        return test_set.images[index], int(test_set.labels[index])

    async def index(request: Request):
        return FileResponse(WEB / "index.html", headers={"Cache-Control": "no-store"})

    async def list_runs(request: Request):
        return JSONResponse({"runs": [r.info for r in readers], "classes": list(CLASSES),
                             "test_images": len(test_set)})

    def get_test_image(request: Request):
        try:
            index = int(request.path_params["index"])
            image, label = test_image(index)
        except (ValueError, RowrnnError):
            return error(404, f"no test image {request.path_params['index']!r}: the test set has images "
                              f"0-{len(test_set) - 1}")
        return JSONResponse({"index": index, "label": label, "class": CLASSES[label], "pixels": image.tolist()})

    async def predict(request: Request):
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
            return error(413, f"the upload is {int(declared) / 2**20:.1f} MB, over the limit of "
                              f"{MAX_UPLOAD_BYTES // 2**20} MB: send a smaller image")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_UPLOAD_BYTES:
                return error(413, f"the upload is over the limit of {MAX_UPLOAD_BYTES // 2**20} MB: "
                                  "send a smaller image")
        if not body:
            return error(400, "the request has no body: send a PNG or JPEG file, or JSON with pixels or test_index")
        from starlette.concurrency import run_in_threadpool
        return await run_in_threadpool(_predict, bytes(body), request.headers.get("content-type", ""))

    def _predict(body: bytes, content_type: str):
        label = None
        if content_type.startswith("application/json"):
            from .files import parse_json
            request = parse_json(body, "the request")
            if not isinstance(request, dict) or not ({"pixels", "test_index"} & set(request)):
                raise RowrnnError('send {"pixels": 28 rows of 28 values 0-255} or {"test_index": N}')
            if "test_index" in request:
                image, label = test_image(request["test_index"])
            else:
                image = _pixels(request["pixels"])
        else:
            image = decode_image(body, "the uploaded image")
        answer = {"image": image.tolist(), "label": label, "models": [r.read(image) for r in readers]}
        return Response(_dumps(answer), media_type="application/json")

    async def user_error(request: Request, exc: RowrnnError):
        return error(422, str(exc))

    async def not_found(request: Request, exc: HTTPException):
        return error(exc.status_code, exc.detail if request.url.path.startswith("/api/") else "not found")

    async def internal(request: Request, exc: Exception):
        return error(500, f"internal error ({type(exc).__name__}): please report it with what you sent")

    routes = [Route("/", index), Route("/api/runs", list_runs),
              Route("/api/test-image/{index}", get_test_image), Route("/api/predict", predict, methods=["POST"]),
              Mount("/static", StaticFiles(directory=WEB), name="static")]
    return Starlette(routes=routes, exception_handlers={RowrnnError: user_error, HTTPException: not_found,
                                                        Exception: internal})


def _pixels(value) -> torch.Tensor:
    """A 28x28 JSON array of grey values 0-255 -> uint8 (28, 28)."""
    if (not isinstance(value, list) or len(value) != IMAGE_SIZE
            or not all(isinstance(row, list) and len(row) == IMAGE_SIZE for row in value)):
        raise RowrnnError(f"pixels must be {IMAGE_SIZE} rows of {IMAGE_SIZE} numbers")
    flat = [v for row in value for v in row]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 255 for v in flat):
        raise RowrnnError("pixels must be numbers from 0 (black) to 255 (white)")
    return torch.tensor(flat, dtype=torch.float32).round().to(torch.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE)


def serve(run_dirs, host: str = "127.0.0.1", port: int = 8000, data_dir=None) -> int:
    """Load the runs, bind host:port, print the address (stdout), and serve until interrupted."""
    import uvicorn
    if not 0 <= port <= 65535:
        raise RowrnnError(f"--port must be from 0 to 65535, got {port}")
    app = create_app(run_dirs, data_dir)
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]     # IPv4 or IPv6 (::1)
    except (socket.gaierror, UnicodeError):
        raise RowrnnError(f"--host {host}: not an address of this machine: use 127.0.0.1 (or 0.0.0.0)") from None
    try:
        sock = socket.create_server((host, port), family=family)
    except OSError as e:
        if e.errno == errno.EADDRNOTAVAIL:
            raise RowrnnError(f"--host {host}: not an address of this machine: use 127.0.0.1 (or 0.0.0.0)") from None
        reason = "the port is in use" if e.errno == errno.EADDRINUSE else e.strerror
        raise RowrnnError(f"cannot listen on {host}:{port} ({reason}): choose another --port (0 picks a free one)") from None
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"rowrnn: warning: --host {host} makes the page reachable from other machines; it has no password",
              file=sys.stderr, flush=True)
    print(f"rowrnn serve: http://{shown}:{bound_port}/ ({len(run_dirs)} run{'s' if len(run_dirs) > 1 else ''}; "
          "Ctrl-C to stop)", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    server.run(sockets=[sock])
    return 0

