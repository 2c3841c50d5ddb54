"""Every benchmark runs end to end in its --tiny mode (seconds, stand-in data, tiny models).

The benchmarks print measured tables and are no tests; --tiny makes each take every step it
takes for real on the smallest inputs, so that one that stops working is seen here, not months
later. The numbers they print in this mode mean nothing and are not checked. They run in this
process (as `python benchmarks/NAME.py --tiny` would, with its own argv and working folder):
a process each would spend most of the time importing torch and loading the sentence encoder.
"""

import ast
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
HELPERS = {"benchmark_tools.py"}  # imported by benchmarks, not one
# script -> lines its output must hold (its tables' headers; the grids it writes)
EXPECTED = {
    "cats_to_cars.py": ["| run | steps on cars | img/s | FID | KID | precision | recall | "
                        "recognised |",
                        "| cats, then cars (--init-from) | 2 |", "| cars from scratch | 2 |"],
    "bench_backbones.py": ["| strided depthwise conv, batch 2 | fp32 (ms) | bf16 (ms) |",
                           "| 672 ch, 5x5, 8 -> 4 |",
                           "| generator | D backbone | size | batch | precision | images/s |",
                           "| fastgan | mobilenet-v2 | 64 |", "| tac-gan | none | 64 |"],
    "bench_cars.py": ["| config | steps | img/s | images seen | body type (judge) |",
                      "| FID | KID | precision | recall |", "FID etc.: "],
    "bench_cuda.py": ["| model | size | precision | compiled | img/s | first 2 steps (s) |",
                      "| df-gan | 64 | fp32 | no |"],
    "gpu_check.sh": ["| model | size | precision | compiled | img/s | first 2 steps (s) |"],
    "bench_data.py": ["| step | size | images | seconds | images/s |"],
    "bench_inception.py": ["| extraction | images/s | GFLOP/s | share of matmul rate |",
                           "t2igan now, batch 8 (default)"],
    "bench_metrics.py": ["| extractor (64x64 input, 2 CPU cores) | images/s |",
                         "| evaluation of a 32x32 GAN-INT-CLS run | minutes |", "| DAMSM metric ("],
    "bench_models.py": ["| model | width (ngf/ndf) | steps | images/s | subject | colour |",
                        "| FID | KID | precision | recall |"],
    "bench_params.py": ["| configuration | G | D |"],
    "bench_renderer.py": ["size (WxH)   images/s   ms/image"],
    "bench_sizes.py": ['"step": 2', "df-64x64/typed.png", "| fid |", "| kid |"],
    "bench_serve.py": ["| request (4 images) | requests | median ms | p90 ms |",
                       "| new prompt | 3 |", "images/s", "| G (4 images) |"],
    "bench_sampling.py": ["measured matmul rate: fp32 ", "| df-gan | 64 | 4 | ",
                          "| model | size | width (ngf) | GFLOPs/image | mode | ms/image, batch 1"],
    "bench_ema_norms.py": ["| run | statistics | fid | kid | precision | recall | recognised |",
                          "| tiny | copied from G |", "| tiny | its own |"],
    "bench_demo.py": ["| variant | seed | all stated | MS-SSIM |",
                      "| demo | 0 |", "| raw+lr=1e-3 | 0 |", "| raw+lr=1e-3, mean | |"],
    "bench_training.py": ["| model (64x64 unless said) | precision | images/s | GFLOPs/image |"],
    "real_vs_real.py": ["| set | held-out vs other real | FID | KID | precision | recall |",
                        "| procedural cats and cars | 6 vs 6 |"],
    "real_photos.py": ['"step": 2', "cat-breeds/typed.png",
                       "| set | step | generated vs real | FID | KID | precision | recall | "
                       "recognised (real) |"],
}
WRITES = {"bench_cars.py", "bench_data.py", "bench_metrics.py", "bench_models.py",
          "bench_sizes.py", "bench_demo.py", "real_photos.py",
          "bench_ema_norms.py"}  # these take --out


def test_every_benchmark_is_run_here() -> None:
    scripts = {p.name for p in BENCHMARKS.iterdir() if p.suffix in (".py", ".sh")}
    assert scripts - HELPERS == set(EXPECTED)


def usage(script: Path) -> str:
    """A Python benchmark's docstring, a shell one's header comment."""
    text = script.read_text(encoding="utf-8")
    return text.split("\n\n")[0] if script.suffix == ".sh" else ast.get_docstring(ast.parse(text))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_usage_names_tiny(name: str) -> None:
    assert "--tiny" in usage(BENCHMARKS / name)


def test_the_gpu_check_runs_tiny() -> None:
    """The shell script runs as a user would run it, with this interpreter as its Python."""
    done = subprocess.run(["bash", str(BENCHMARKS / "gpu_check.sh"), "--tiny"],
                          env={**os.environ, "PYTHON": sys.executable}, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for line in EXPECTED["gpu_check.sh"]:
        assert line in done.stdout


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.endswith(".py")))
def test_benchmark_runs_tiny(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture) -> None:
    script = BENCHMARKS / name
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # as for a script: its folder first
    monkeypatch.chdir(tmp_path)
    out = ["--out", str(tmp_path / "out")] if name in WRITES else []
    monkeypatch.setattr(sys, "argv", [str(script), "--tiny", *out])
    threads = torch.get_num_threads()
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        torch.set_num_threads(threads)  # bench_data measures its feed on one thread
    printed = capsys.readouterr().out
    for line in EXPECTED[name]:
        assert line in printed, f"{name} did not print {line!r}:\n{printed[-3000:]}"


def test_real_photos_starts_each_set_from_init_from(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    """--init-from RUN: the set's run starts from RUN's weights, in a folder named after RUN."""
    script, out = BENCHMARKS / "real_photos.py", tmp_path / "out"
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.chdir(tmp_path)
    for extra in ([], ["--init-from", str(out / "cat-breeds")]):
        monkeypatch.setattr(sys, "argv", [str(script), "--tiny", "--out", str(out), *extra])
        runpy.run_path(str(script), run_name="__main__")
    config = json.loads((out / "cat-breeds-from-cat-breeds" / "config.json").read_text())
    assert config["init_from"] == str(out / "cat-breeds")
    assert "cat-breeds-from-cat-breeds/typed.png" in capsys.readouterr().out
