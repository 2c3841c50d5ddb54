"""The web application of `t2igan serve`: one loaded model behind a page and a JSON API.

    GET  /                  the page (page.html)
    GET  /api/info          the model, its image size and the limits
    POST /api/generate      {"prompt", "num", "seed", "truncation"} -> {"images": [PNG data
                            URLs], "prompt" (as cleaned), "seed", "width", "height", "ms"}
    POST /api/interpolate   {"from", "to", "steps", "seed", "truncation"} -> the same, one image
                            per step from the first text to the second at fixed noise

Bad input is a 4xx with {"error": "one line"}, never a traceback: the seed and the truncation are
checked by the Python API, as its callers' and the command line's are; a request beyond
--max-concurrent is a 503 at once rather than an ever longer queue. Werkzeug (Pallets; already
installed with TensorBoard, so it adds no package) parses requests and serves them, a thread each.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from t2igan.api import TextToImage
from t2igan.errors import UserError
from t2igan.prompts import clean_prompt
from t2igan.serve.limits import Limits

PAGE = Path(__file__).with_name("page.html")
MAX_BODY = 64 * 1024  # bytes of JSON a request may send


class BadRequest(Exception):
    """A request the API refuses: its status and one line for the user."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class App:
    """A WSGI application around one model; `App(model, limits)(environ, start_response)`."""

    def __init__(self, model: TextToImage, limits: Limits | None = None) -> None:
        self.model = model
        self.limits = limits or Limits()
        self.slots = threading.BoundedSemaphore(self.limits.max_concurrent)
        self.page = PAGE.read_bytes()
        self.routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("GET", "/"): lambda _: Response(self.page, content_type="text/html; charset=utf-8"),
            ("GET", "/api/info"): lambda _: _json(self.info()),
            ("POST", "/api/generate"): self.generate,
            ("POST", "/api/interpolate"): self.interpolate,
        }

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        return self.respond(Request(environ))(environ, start_response)

    def respond(self, request: Request) -> Response:
        handler = self.routes.get((request.method, request.path))
        try:
            if handler is None:
                methods = [m for m, path in self.routes if path == request.path]
                raise (BadRequest(f"{request.path} takes {', '.join(methods)}", 405) if methods
                       else BadRequest(f"no page or endpoint {request.path}", 404))
            return handler(request)
        except BadRequest as error:
            return _json({"error": str(error)}, error.status)
        except UserError as error:  # a value the model refuses, e.g. a truncation it cannot use
            return _json({"error": str(error)}, 400)
        except HTTPException as error:  # Werkzeug's own (a body it cannot read)
            return _json({"error": error.description or error.name}, error.code or 400)
        except Exception as error:  # logged here, never shown: the page gets one line
            print(f"t2igan serve: {request.method} {request.path} failed: {error!r}",
                  file=sys.stderr)
            return _json({"error": "the server failed to make the images"}, 500)

    def info(self) -> dict:
        width, height = self.model.image_size
        return {"model": self.model.description, "bundled": self.model.bundled,
                "width": width, "height": height, "limits": vars(self.limits)}

    def generate(self, request: Request) -> Response:
        body = _body(request)
        prompt = self._prompt(body, "prompt")
        num = _integer(body, "num", 4, 1, self.limits.max_images)
        seed, truncation = _whole(body.get("seed", 0)), body.get("truncation")
        # a run trained on a few captions draws a prompt that is none of them as the nearest
        drawn_as = self.model.drawn_as(prompt)[0]
        return self._images(lambda: self.model.generate(prompt, num, seed, truncation),
                            {"prompt": prompt, "drawn_as": drawn_as, "seed": seed})

    def interpolate(self, request: Request) -> Response:
        body = _body(request)
        start, end = self._prompt(body, "from"), self._prompt(body, "to")
        steps = _integer(body, "steps", 8, 2, self.limits.max_steps)
        seed, truncation = _whole(body.get("seed", 0)), body.get("truncation")
        return self._images(
            lambda: self.model.interpolate(start, end, steps, 1, seed, truncation),
            {"from": start, "to": end, "seed": seed})

    def _prompt(self, body: dict, key: str) -> str:
        value = body.get(key)
        if not isinstance(value, str):
            raise BadRequest(f"{key!r} must be a text, e.g. \"a ginger cat lying on a blue rug\"")
        prompt = clean_prompt(value)
        if not prompt:
            raise BadRequest(f"{key!r} is empty: describe the image")
        if len(prompt) > self.limits.max_prompt_chars:
            raise BadRequest(f"{key!r} has {len(prompt):,} characters; at most "
                             f"{self.limits.max_prompt_chars:,}")
        return prompt

    def _images(self, make: Callable[[], list[Image.Image]], echo: dict) -> Response:
        """Run `make` in a free slot, or refuse with 503 when every slot is taken."""
        if not self.slots.acquire(blocking=False):
            raise BadRequest("the server is busy with other requests; try again in a moment", 503)
        try:
            began = time.perf_counter()
            images = make()
            urls = [_png_data_url(image) for image in images]
            ms = round((time.perf_counter() - began) * 1000, 1)
        finally:
            self.slots.release()
        width, height = images[0].size
        return _json({**echo, "images": urls, "width": width, "height": height, "ms": ms})


def _json(value: dict, status: int = 200) -> Response:
    return Response(json.dumps(value), status=status, content_type="application/json")


def _body(request: Request) -> dict:
    """The request's JSON object, or a 4xx saying what is wrong with it."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadRequest(f"the request is over {MAX_BODY // 1024} KB", 413)
    try:
        data = request.stream.read(MAX_BODY + 1)
    except OSError:  # a malformed chunked body, a client gone mid-body
        raise BadRequest("the request body could not be read") from None
    if len(data) > MAX_BODY:
        raise BadRequest(f"the request is over {MAX_BODY // 1024} KB", 413)
    try:
        body = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8 or JSON, a 5,000-digit number, deep nesting
        raise BadRequest("the request body is not JSON t2igan reads (send a JSON object)") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _integer(body: dict, key: str, default: int, low: int, high: int) -> int:
    """A count bounded by --max-images or --max-steps, which are this server's own."""
    value = _whole(body.get(key, default))
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{key!r} must be a whole number from {low} to {high:,}")
    return value


def _whole(value: Any) -> Any:
    """4.0 -> 4: JSON writers may send a whole number with a point; anything else unchanged."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _png_data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def web_server(model: TextToImage, host: str = "127.0.0.1", port: int = 8000,
               limits: Limits | None = None) -> BaseWSGIServer:
    """A listening server (a thread per request); port 0 takes any free port. The caller runs
    `serve_forever()` and, from another thread, `shutdown()`."""
    # Werkzeug exits the process when it cannot bind; try the address first for a one-line error
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Werkzeug binds
            probe.bind((host, port))
    except (OSError, OverflowError) as error:
        reason = getattr(error, "strerror", None) or error
        raise UserError(f"cannot listen on {host}:{port} ({reason}); choose another --port "
                        "or --host") from None
    return make_server(host, port, App(model, limits), threaded=True)


def serve(model: TextToImage, host: str = "127.0.0.1", port: int = 8000,
          limits: Limits | None = None) -> None:
    """Serve the page and the API until Ctrl-C."""
    server = web_server(model, host, port, limits)
    print(f"t2igan serve: {model.description}\n  http://{host}:{server.server_port}/  "
          "(Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
