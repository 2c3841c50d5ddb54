"""Every model through the real `t2igan train` command: 2 steps, save, resume, generate."""

import json
from pathlib import Path

import pytest
from PIL import Image
from safetensors.torch import load_file

from t2igan.cli import main
from t2igan.runs import latest_checkpoint, read_meta

COMMON = ["--batch-size", "4", "--num-images", "24", "--log-every", "1", "--sample-every", "2",
          "--checkpoint-every", "2", "--nz", "8"]
TINY_MODELS = {
    "df-gan": ["--model", "df-gan", "--ngf", "4", "--ndf", "4"],
    "stackgan": ["--model", "stackgan", "--ngf", "8", "--ndf", "4", "--text-code", "8"],
    "tac-gan": ["--model", "tac-gan", "--image-size", "32", "--ngf", "8", "--ndf", "8",
                "--text-code", "8"],
    "tac-gan-d2d-ce": ["--model", "tac-gan", "--aux-loss", "d2d-ce", "--image-size", "32",
                       "--ngf", "8", "--ndf", "8", "--text-code", "8"],
}


def train_resume_generate(run: Path, flags: list[str], tmp_path: Path) -> dict:
    assert main(["train", "--out", str(run), *COMMON, *flags, "--steps", "2"]) == 0
    assert main(["train", "--out", str(run), "--resume", "--steps", "4"]) == 0
    meta = read_meta(latest_checkpoint(run))
    assert meta["step"] == 4
    out = tmp_path / f"{run.name}.png"
    # the run alone says which model and settings to build
    assert main(["generate", "--run", str(run), "--prompt", "a black cat on the grass at night",
                 "--num", "2", "--out", str(out)]) == 0
    assert Image.open(out).size[0] > 0
    return meta


@pytest.mark.parametrize("name", list(TINY_MODELS))
def test_model_trains_saves_resumes_and_generates(name: str, tmp_path: Path) -> None:
    meta = train_resume_generate(tmp_path / name, TINY_MODELS[name], tmp_path)
    config = json.loads((tmp_path / name / "config.json").read_text())
    assert meta["config"]["model"] == config["model"] == TINY_MODELS[name][1]
    # fully resolved
    assert None not in (config["lr"], config["lr_d"], config["beta1"], config["image_size"])
    weights = load_file(latest_checkpoint(tmp_path / name) / "weights.safetensors")
    assert {key.split(".")[0] for key in weights} == {"G", "D", "G_ema"}


def test_stackgan_stage2_trains_on_a_frozen_stage1(tmp_path: Path) -> None:
    stage1 = tmp_path / "stage1"
    assert main(["train", "--out", str(stage1), *COMMON, *TINY_MODELS["stackgan"],
                 "--steps", "2"]) == 0
    stage2 = tmp_path / "stage2"
    meta = train_resume_generate(stage2, ["--model", "stackgan", "--stage", "2",
                                          "--stage1-run", str(stage1), "--ndf", "2"], tmp_path)
    # shared settings come from stage I
    assert meta["image_size"] == [256, 256] and meta["config"]["ngf"] == 8
    first = load_file(latest_checkpoint(stage1) / "weights.safetensors")
    second = load_file(latest_checkpoint(stage2) / "weights.safetensors")
    frozen = [key for key in first if key.startswith("G_ema.") and ".text_norm." not in key]
    assert frozen and all((second[f"G.stage1.{key[6:]}"] == first[key]).all() for key in frozen)
    # stage II reads its text as stage I learned to: standardised by stage I's statistics
    for name in ("mean", "scale"):
        assert (second[f"G.text_norm.{name}"] == first[f"G_ema.text_norm.{name}"]).all()
    assert not any(key.startswith("G.stage1.text_norm") for key in second)


def test_stage2_settings_that_contradict_stage1_are_an_error(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    stage1 = tmp_path / "stage1"
    assert main(["train", "--out", str(stage1), *COMMON, *TINY_MODELS["stackgan"],
                 "--steps", "1"]) == 0
    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "s2"), "--model", "stackgan", "--stage", "2",
                 "--stage1-run", str(stage1), "--ngf", "16"]) == 2
    assert "differs from the stage-I run" in capsys.readouterr().err


def test_tac_gan_without_labels_is_a_clear_error(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "photos"
    (data / "images").mkdir(parents=True)
    Image.new("RGB", (32, 32), "red").save(data / "images" / "a.png")
    (data / "captions.jsonl").write_text(json.dumps({"file": "images/a.png",
                                                     "captions": ["a red square"]}) + "\n")
    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "r"), *COMMON, *TINY_MODELS["tac-gan"],
                 "--data", str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the image-loading progress bar
    assert (err.startswith("t2igan: error: ") and "needs a class label for every image" in err
            and "'label'" in err)


def test_ema_weights_sample_by_default_and_raw_weights_on_request(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *COMMON, *TINY_MODELS["df-gan"], "--steps", "3"]) == 0
    grids = {}
    for flags in ([], ["--no-ema"], ["--truncation", "0.5"]):
        out = tmp_path / f"{len(grids)}.png"
        assert main(["generate", "--run", str(run), "--prompt", "a red car", "--out", str(out),
                     *flags]) == 0
        grids[" ".join(flags)] = out.read_bytes()
    assert len(set(grids.values())) == 3  # EMA, raw and truncated noise each give other images
