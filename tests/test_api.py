"""The Python API (t2igan.load) and the commands built on it: generate to a folder, interpolate,
export, and the bundled model."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import t2igan
from t2igan.cli import main
from t2igan.errors import UserError

CAT, CAR = "a ginger cat lying on a blue rug", "a red pickup truck on a street at night"


@pytest.fixture(scope="module")
def model(tiny_run: Path) -> t2igan.TextToImage:
    return t2igan.load(tiny_run, device="cpu")


def close(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to float rounding: a batch's sums run in another order (see sampling.generate)."""
    return np.abs(a.astype(int) - b.astype(int)).max() <= 2


def test_generate_gives_pil_images_and_arrays_prompt_major(model: t2igan.TextToImage) -> None:
    images = model.generate([CAT, CAR], num=3, seed=5)
    arrays = model.generate_arrays([CAT, CAR], num=3, seed=5)
    assert len(images) == 6 and all(isinstance(i, Image.Image) for i in images)
    assert arrays.shape == (6, 32, 32, 3) and arrays.dtype == np.uint8
    assert all(np.array_equal(np.asarray(i), a) for i, a in zip(images, arrays))
    # prompt-major: the first three are the cat's, the same as asking for the cat alone
    assert close(arrays[:3], model.generate_arrays(CAT, num=3, seed=5))


def test_same_seed_same_images_other_seed_other_images(model: t2igan.TextToImage) -> None:
    a, b = model.generate_arrays(CAT, 2, seed=1), model.generate_arrays(CAT, 2, seed=1)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, model.generate_arrays(CAT, 2, seed=2))


def test_embed_is_what_g_reads(model: t2igan.TextToImage) -> None:
    vectors = model.embed([CAT, CAR])
    assert vectors.shape == (2, 384)
    assert vectors.square().mean(dim=1).allclose(vectors.new_ones(2), atol=1e-3)


def test_text_interpolation_runs_from_one_text_to_the_other_at_fixed_noise(
        model: t2igan.TextToImage) -> None:
    frames = np.stack([np.asarray(i) for i in model.interpolate(CAT, CAR, steps=5, rows=2, seed=3)])
    assert frames.shape == (10, 32, 32, 3)
    rows = frames.reshape(2, 5, 32, 32, 3)
    # row r starts at the cat and ends at the car drawn with noise r
    assert close(rows[:, 0], model.generate_arrays(CAT, num=2, seed=3))
    assert close(rows[:, -1], model.generate_arrays(CAR, num=2, seed=3))
    assert not np.array_equal(rows[0, 0], rows[0, 2])


def test_noise_interpolation_runs_from_one_seed_to_the_other_at_fixed_text(
        model: t2igan.TextToImage) -> None:
    frames = [np.asarray(i) for i in model.interpolate_noise(CAT, steps=4, seed=3, to_seed=8)]
    assert len(frames) == 4
    assert close(frames[0], model.generate_arrays(CAT, seed=3)[0])
    assert close(frames[-1], model.generate_arrays(CAT, seed=8)[0])


@pytest.mark.parametrize("call", [
    lambda m: m.generate(CAT, num=0),
    lambda m: m.generate(""),
    lambda m: m.generate(CAT, truncation=-1.0),
    lambda m: m.interpolate(CAT, CAR, steps=1),
    lambda m: m.interpolate(CAT, CAR, rows=0),
    lambda m: m.generate(CAT, seed=10**23),
    lambda m: m.generate(CAT, seed=-1),
    lambda m: m.generate(CAT, num=True),
    lambda m: m.generate(CAT, num=None),
    lambda m: m.interpolate_noise(CAT, to_seed=None),
    lambda m: m.generate(CAT, num=2.0),
    lambda m: m.generate(CAT, num=100_000_000),
    lambda m: m.generate([CAT, CAR], num=5001),  # 10,002 images at once
    lambda m: m.grid(CAT, num=20_000),
    lambda m: m.generate(CAT, truncation=float("nan")),
    lambda m: m.generate(CAT, truncation=float("inf")),
    lambda m: m.generate(CAT, truncation="1"),
    lambda m: m.interpolate(CAT, CAR, steps=100_000),
    lambda m: m.interpolate(CAT, CAR, steps=256, rows=64),
    lambda m: m.interpolate_noise(CAT, to_seed=2**64),
    lambda m: m.interpolate_noise(CAT, steps=1),
    lambda m: m.write_folder([CAT], "unused", batch_size=0),
    lambda m: m.write_folder([CAT], None),
    lambda m: t2igan.load(5),
    lambda m: t2igan.load(None, device=5),
])
def test_bad_arguments_are_user_errors(model: t2igan.TextToImage, call) -> None:
    with pytest.raises(UserError):
        call(model)


def test_prompts_file_makes_a_captioned_folder_of_the_same_images(
        tiny_run: Path, model: t2igan.TextToImage, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(f"{CAT}\n{CAR}\n", encoding="utf-8")
    out = tmp_path / "made"
    assert main(["generate", "--run", str(tiny_run), "--prompts-file", str(prompts),
                 "--num", "2", "--seed", "4", "--out", str(out), "--batch-size", "3"]) == 0
    records = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert [r["captions"] for r in records] == [[CAT], [CAT], [CAR], [CAR]]
    files = np.stack([np.asarray(Image.open(out / r["file"])) for r in records])
    assert close(files, model.generate_arrays([CAT, CAR], num=2, seed=4))
    # the folder is a dataset t2igan reads
    from t2igan.data.sources import open_source

    assert len(open_source(str(out)).entries) == 4


def test_generate_never_replaces_a_folder_it_did_not_write(tiny_run: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"x")
    (mine / "captions.jsonl").write_text("")  # a dataset of the user's, not generated
    generate = ["generate", "--run", str(tiny_run), "--prompt", CAT, "--no-grid", "--out"]
    assert main([*generate, str(mine)]) == 2
    assert "holds files that `t2igan generate` did not write" in capsys.readouterr().err
    assert (mine / "holiday.jpg").exists()
    made = tmp_path / "made"
    assert main([*generate, str(made)]) == 0 and main([*generate, str(made)]) == 0  # its own


def test_interpolate_writes_a_grid_and_an_animation(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "interp.png"
    assert main(["interpolate", "--run", str(tiny_run), "--from", CAT, "--to", CAR,
                 "--steps", "5", "--rows", "3", "--out", str(out)]) == 0
    grid = Image.open(out)
    assert grid.width >= 5 * 32 and grid.height >= 3 * 32
    animation = Image.open(out.with_suffix(".gif"))
    assert animation.n_frames == 8  # 5 forward, 3 back (the ends are not repeated)
    assert animation.size[0] == 3 * animation.size[1]  # one frame: the 3 rows side by side


def test_export_keeps_only_what_sampling_reads(tiny_run: Path, model: t2igan.TextToImage,
                                               tmp_path: Path) -> None:
    out = tmp_path / "exported"
    assert main(["export", "--run", str(tiny_run), "--out", str(out)]) == 0
    from safetensors.torch import load_file

    from t2igan.runs import latest_checkpoint

    keys = load_file(latest_checkpoint(out) / "weights.safetensors").keys()
    assert keys and all(k.startswith("G_ema.") for k in keys)
    assert not (latest_checkpoint(out) / "state.pt").exists()
    exported = t2igan.load(out, device="cpu")
    assert np.array_equal(exported.generate_arrays(CAT, 2), model.generate_arrays(CAT, 2))


def test_the_bundled_model_loads_without_a_run_folder(capsys: pytest.CaptureFixture,
                                                      tmp_path: Path) -> None:
    bundled = t2igan.load(device="cpu")
    assert bundled.bundled and "bundled" in bundled.description
    assert bundled.generate_arrays(CAT).shape[0] == 1
    assert main(["generate", "--prompt", CAT, "--num", "2", "--out", str(tmp_path / "g.png")]) == 0
    assert "using the bundled procedural model" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--from", CAT], "go together"),
    ([], "give --from TEXT --to TEXT"),
    (["--from", CAT, "--to", CAR, "--prompt", CAT], "give --from TEXT --to TEXT"),
    (["--from", CAT, "--to", " "], "prompt is empty"),
    (["--prompt", CAT, "--steps", "1"], "--steps must be from 2 to 256 (got 1)"),
    (["--prompt", CAT, "--steps", "100000"], "--steps must be from 2 to 256 (got 100000)"),
    (["--from", CAT, "--to", CAR, "--rows", "0"], "--rows must be from 1 to 64"),
    (["--prompt", CAT, "--seed", str(2**63)], "--seed must be from 0 to 2**63 - 1"),
    (["--prompt", CAT, "--to-seed", "-1"], "--to-seed must be from 0 to 2**63 - 1"),
    (["--prompt", CAT, "--truncation", "nan"], "--truncation must be a finite number"),
    (["--prompt", CAT, "--animation", "x.mp4"], ".gif or .webp"),
])
def test_interpolate_flags_that_cannot_work_are_one_line(
        tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture, flags: list[str],
        message: str) -> None:
    code = main(["interpolate", "--run", str(tiny_run), "--out", str(tmp_path / "i.png"), *flags])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and message in err, err


def test_the_wheel_carries_the_bundled_model_and_the_page() -> None:
    """pyproject's package-data globs match every file sampling and the server read."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    root = Path(__file__).resolve().parents[1]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["t2igan"]
    package = root / "src" / "t2igan"
    carried = {path for pattern in globs for path in package.glob(pattern)}
    needed = {path for path in (package / "bundled").rglob("*") if path.is_file()}
    assert len(needed) >= 3 and needed | {package / "serve" / "page.html"} <= carried


def test_the_readme_python_example_runs() -> None:
    """The README's API example, as a user would paste it (with the bundled model)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    names: dict = {}
    exec(compile(example, "README.md", "exec"), names)
    assert len(names["images"]) == 4 and names["arrays"].shape[0] == 2
    assert len(names["frames"]) == 8


@pytest.mark.parametrize("flags, message", [
    (["--seed", "99999999999999999999999"], "--seed must be from 0 to 2**63 - 1"),
    (["--seed", "-1"], "--seed must be from 0 to 2**63 - 1"),
    (["--num", "100000000"], "--num must be from 1 to 1,000,000 (got 100000000)"),
    (["--num", "0"], "--num must be from 1 to 1,000,000"),
    (["--batch-size", "0"], "--batch-size must be from 1 to 4,096"),
    (["--truncation", "inf"], "--truncation must be a finite number"),
    (["--truncation", "0"], "--truncation must be above 0 and at most 10"),
    (["--num", "5001", "--prompt", CAR], "10,002 images at once (2 prompts x 5,001)"),
])
def test_generate_numbers_out_of_range_are_one_line(
        tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture, flags: list[str],
        message: str) -> None:
    out = tmp_path / "g.png"
    code = main(["generate", "--run", str(tiny_run), "--prompt", CAT, "--out", str(out), *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_numpy_integers_are_whole_numbers(model: t2igan.TextToImage) -> None:
    arrays = model.generate_arrays(CAT, num=np.int64(2), seed=np.int64(3))
    assert np.array_equal(arrays, model.generate_arrays(CAT, num=2, seed=3))


def test_precision_bf16_samples_near_fp32_and_says_so(tiny_run: Path, tmp_path: Path,
                                                      model: t2igan.TextToImage) -> None:
    fast = t2igan.load(tiny_run, device="cpu", precision="bf16")
    assert model.meta["precision"] == "fp32" and fast.meta["precision"] == "bf16"
    exact, near = model.generate_arrays(CAT, 2, seed=3), fast.generate_arrays(CAT, 2, seed=3)
    assert np.abs(exact.astype(int) - near.astype(int)).max() <= 16
    out = tmp_path / "fast.png"
    assert main(["generate", "--run", str(tiny_run), "--prompt", CAT, "--num", "2",
                 "--precision", "bf16", "--out", str(out)]) == 0
    assert Image.open(out).size[0] > 0
