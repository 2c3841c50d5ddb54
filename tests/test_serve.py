"""`t2igan serve` over HTTP on localhost: the page, the JSON API, its limits and its errors."""

import base64
import io
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import t2igan
from t2igan.serve.app import web_server
from t2igan.serve.limits import Limits

CAT = "a ginger cat lying on a blue rug"


@pytest.fixture(scope="module")
def model(tiny_run: Path) -> t2igan.TextToImage:
    return t2igan.load(tiny_run, device="cpu")


@pytest.fixture(scope="module")
def url(model: t2igan.TextToImage) -> Iterator[str]:
    server = web_server(model, "127.0.0.1", 0, Limits(max_images=6, max_prompt_chars=40,
                                                      max_concurrent=1))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def call(url: str, path: str, body: object = None, raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url + path, data=data,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        assert error.headers["Content-Type"] == "application/json"
        return error.code, json.loads(error.read())


def decode(data_url: str) -> np.ndarray:
    header, encoded = data_url.split(",", 1)
    assert header == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))


def test_the_page_is_served(url: str) -> None:
    with urllib.request.urlopen(url + "/", timeout=30) as reply:
        page = reply.read().decode()
    assert reply.headers["Content-Type"].startswith("text/html")
    for element in ('id="prompt"', 'id="generate"', 'id="images"', 'id="slider"', "/api/generate"):
        assert element in page


def test_info_names_the_model_and_the_limits(url: str) -> None:
    status, info = call(url, "/api/info")
    assert status == 200 and info["width"] == info["height"] == 32
    assert info["limits"]["max_images"] == 6 and not info["bundled"]


def test_generate_returns_the_images_the_api_makes(url: str, model: t2igan.TextToImage) -> None:
    status, reply = call(url, "/api/generate", {"prompt": f"  {CAT} ", "num": 3, "seed": 7})
    assert status == 200 and reply["prompt"] == CAT and reply["seed"] == 7
    assert reply["drawn_as"] == CAT  # many training captions: a prompt draws as itself
    images = np.stack([decode(u) for u in reply["images"]])
    assert np.array_equal(images, model.generate_arrays(CAT, num=3, seed=7))
    assert reply["ms"] > 0


def test_interpolate_returns_one_image_per_step(url: str) -> None:
    status, reply = call(url, "/api/interpolate", {"from": CAT, "to": "a red car", "steps": 5})
    assert status == 200 and len(reply["images"]) == 5


@pytest.mark.parametrize("path, body, status, message", [
    ("/api/generate", {"prompt": ""}, 400, "empty"),
    ("/api/generate", {"prompt": "\x00\u200b "}, 400, "empty"),
    ("/api/generate", {"prompt": 3}, 400, "must be a text"),
    ("/api/generate", {}, 400, "must be a text"),
    ("/api/generate", {"prompt": "a" * 41}, 400, "at most 40"),
    ("/api/generate", {"prompt": CAT, "num": 7}, 400, "from 1 to 6"),
    ("/api/generate", {"prompt": CAT, "num": "4"}, 400, "whole number"),
    ("/api/generate", {"prompt": CAT, "num": True}, 400, "whole number"),
    ("/api/generate", {"prompt": CAT, "seed": -1}, 400, "seed must be from 0"),
    ("/api/generate", {"prompt": CAT, "seed": 2**64}, 400, "seed must be from 0"),
    ("/api/generate", {"prompt": CAT, "seed": 1e300}, 400, "seed must be from 0"),
    ("/api/generate", {"prompt": CAT, "seed": "7"}, 400, "seed must be a whole number"),
    ("/api/generate", {"prompt": CAT, "truncation": float("nan")}, 400, "finite"),
    ("/api/interpolate", {"from": CAT, "to": CAT, "seed": [1]}, 400, "seed must be"),
    ("/api/generate", {"prompt": CAT, "truncation": 0}, 400, "truncation"),
    ("/api/generate", {"prompt": CAT, "truncation": "x"}, 400, "truncation"),
    ("/api/generate", [CAT], 400, "JSON object"),
    ("/api/interpolate", {"from": CAT, "to": CAT, "steps": 1}, 400, "'steps'"),
    ("/api/interpolate", {"from": CAT}, 400, "'to'"),
    ("/api/nothing", {}, 404, "no page or endpoint"),
    ("/api/info", {}, 405, "takes GET"),
])
def test_bad_requests_get_a_4xx_with_one_line(url: str, path: str, body: object, status: int,
                                              message: str) -> None:
    got, reply = call(url, path, body)
    assert got == status and message in reply["error"], reply
    assert "\n" not in reply["error"] and "Traceback" not in reply["error"]


@pytest.mark.parametrize("raw, status", [(b"{not json", 400), (b"\xff\xfe", 400),
                                         (b'{"prompt": "' + b"a" * 70_000 + b'"}', 413),
                                         (b"[" * 30_000 + b"]" * 30_000, 400),
                                         (b'{"prompt": "a cat", "seed": ' + b"9" * 5000 + b"}",
                                          400)])
def test_bodies_that_are_not_json_or_too_large(url: str, raw: bytes, status: int) -> None:
    got, reply = call(url, "/api/generate", raw=raw)
    assert got == status and reply["error"]


def test_a_malformed_chunked_body_is_a_400(url: str) -> None:
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port))) as client:
        client.sendall(b"POST /api/generate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                       b"Content-Type: application/json\r\n\r\nZZZ\r\nabc\r\n")
        assert client.recv(64).startswith(b"HTTP/1.1 400")


def test_a_request_beyond_the_limit_is_refused_at_once(url: str, model: t2igan.TextToImage,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    release, started = threading.Event(), threading.Event()
    original = model.generate

    def slow(*args, **kwargs):
        started.set()
        release.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "generate", slow)
    first: list = []
    thread = threading.Thread(target=lambda: first.append(call(url, "/api/generate",
                                                               {"prompt": CAT})))
    thread.start()
    assert started.wait(30)
    status, reply = call(url, "/api/generate", {"prompt": CAT})  # the one slot is taken
    release.set()
    thread.join(60)
    assert status == 503 and "busy" in reply["error"]
    assert first[0][0] == 200


def test_a_failure_inside_is_a_500_without_details(url: str, model: t2igan.TextToImage,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(model, "generate", broken)
    status, reply = call(url, "/api/generate", {"prompt": CAT})
    assert status == 500 and "secret" not in reply["error"]


def test_a_busy_port_is_one_line(model: t2igan.TextToImage) -> None:
    from t2igan.errors import UserError

    server = web_server(model, "127.0.0.1", 0)
    try:
        with pytest.raises(UserError, match="choose another --port"):
            web_server(model, "127.0.0.1", server.server_port)
    finally:
        server.server_close()
