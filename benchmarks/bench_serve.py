"""Latency of `t2igan serve` and throughput of the Python API, on this machine.

The server runs in this process on a free localhost port (the same application and threaded
server as `t2igan serve`), with the bundled model unless --run is given. Each request is what the
page sends when a user presses Generate: POST /api/generate with 4 images. "new prompt" requests
each carry a prompt the server has not seen (the sentence encoder runs: the usual case), "same
prompt" ones only change the seed (the model keeps recent prompts' vectors). The first request is
timed apart (it loads the sentence encoder and warms up G). Then the API's images/s:
`model.generate_arrays` for 64 new prompts, one image each, and the parts of one 4-image request:
sentence encoder, G, PNG encoding.

Usage: python benchmarks/bench_serve.py [--run RUN] [--requests 30]
       python benchmarks/bench_serve.py --tiny   (seconds: 3 requests)
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import urllib.request

from benchmark_tools import parse_args

TINY = dict(requests=3, batch=8)
SUBJECTS = ["ginger cat", "black cat", "white striped cat", "grey spotted cat", "red pickup truck",
            "blue sedan", "yellow sports car", "silver van"]
PLACES = ["on a blue rug", "on the grass at night", "on a sofa", "on a city street",
          "on a country road", "in a parking lot"]


def prompts(count: int, start: int = 0) -> list[str]:
    """Distinct prompts: a subject, a place and a number, so that none is in any cache."""
    return [f"a {SUBJECTS[i % len(SUBJECTS)]} {PLACES[i % len(PLACES)]}, take {i}"
            for i in range(start, start + count)]


def post(url: str, body: dict) -> float:
    """Milliseconds for one request, reply read in full."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as reply:
        assert reply.status == 200 and len(json.loads(reply.read())["images"]) == body["num"]
    return (time.perf_counter() - began) * 1000


def row(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"| {name} | {len(times)} | {statistics.median(times):.0f} | {p90:.0f} |"


def request_latency(model, requests: int) -> list[str]:
    import logging

    from t2igan.serve.app import web_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = web_server(model, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/api/generate"
    try:
        first = post(url, {"prompt": prompts(1, 10_000)[0], "num": 4})
        new = [post(url, {"prompt": p, "num": 4, "seed": 0}) for p in prompts(requests)]
        same = [post(url, {"prompt": "a black cat on the grass", "num": 4, "seed": s})
                for s in range(requests)]
    finally:
        server.shutdown()
        server.server_close()
    return ["| request (4 images) | requests | median ms | p90 ms |",
            "| --- | ---: | ---: | ---: |", row("first request", [first]),
            row("new prompt", new), row("same prompt, new seed", same)]


def api_throughput(model, batch: int) -> list[str]:
    import io

    from PIL import Image

    from t2igan.sampling import generate

    began = time.perf_counter()
    model.generate_arrays(prompts(batch, 20_000))
    images_per_s = batch / (time.perf_counter() - began)
    timed = {}

    def time_part(name: str, work):
        began = time.perf_counter()
        result = work()
        timed[name] = (time.perf_counter() - began) * 1000
        return result

    vectors = time_part("sentence encoder (1 new prompt)", lambda: model.embed(prompts(1, 30_000)))
    images = time_part("G (4 images)", lambda: generate(model.G, vectors, 4, seed=0))
    time_part("PNG encoding (4 images)", lambda: [
        Image.fromarray(image).save(io.BytesIO(), format="PNG")
        for image in images.permute(0, 2, 3, 1).numpy()])
    width, height = model.image_size
    return [f"\nAPI: generate_arrays of {batch} new prompts, one {width}x{height} image each: "
            f"{images_per_s:.0f} images/s", "", "| part of one request | ms |", "| --- | ---: |",
            *[f"| {name} | {ms:.1f} |" for name, ms in timed.items()]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="run folder (default: the bundled model)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests of each kind")
    parser.add_argument("--batch", type=int, default=64, help="prompts for the API's images/s")
    parser.add_argument("--tiny", action="store_true", help="a few requests, for the tests")
    args = parse_args(parser, TINY)

    import torch

    import t2igan

    model = t2igan.load(args.run, device="cpu")
    print(f"{model.description}; {torch.get_num_threads()} CPU threads\n")
    print("\n".join(request_latency(model, args.requests)))
    print("\n".join(api_throughput(model, args.batch)))


if __name__ == "__main__":
    main()
