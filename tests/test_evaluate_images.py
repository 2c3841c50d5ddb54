"""`t2igan evaluate --images DIR`: a captioned folder of images made elsewhere, scored as generated
images against a real dataset."""

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from t2igan import evaluate
from t2igan.cli import main
from t2igan.data.formats.captioned_folder import write_captioned_folder
from t2igan.data.synthetic import SyntheticCaptions
from t2igan.metrics import attributes
from t2igan.metrics.registry import METRICS

# Enough training for the easy attributes (subject, day or night) to be near 100% on real renders,
# in seconds (40 steps); the hard ones (colour, pattern) stay weak, so the test reads only the easy
# ones.
SMALL_RECIPE = {**attributes.RECIPE, "train_images": 320, "val_images": 64, "epochs": 2,
                "batch": 16}
SCENES = 12


class Twice(torch.utils.data.Dataset):
    """Each scene twice in a row, with the same captions: pairs of images of one caption."""

    def __init__(self, scenes: torch.utils.data.Dataset) -> None:
        self.scenes = scenes

    def __len__(self) -> int:
        return 2 * len(self.scenes)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, list[str], dict]:
        return self.scenes[index // 2]


@pytest.fixture(autouse=True)
def small_attribute_classifier(no_user_weights: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attributes, "RECIPE", SMALL_RECIPE)


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 procedural renders, 12 scenes each written twice; 32x32 (the classifier upsamples them)
    as MS-SSIM's 2 x 1000 pairs cost 4x more at 64x64."""
    scenes = SyntheticCaptions("train", (32, 32), seed=0, length=SCENES)
    return write_captioned_folder(Twice(scenes), tmp_path_factory.mktemp("renders") / "imgs",
                                  progress=False)


def error_line(capsys: pytest.CaptureFixture, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_real_renders_scored_as_generated(renders: Path) -> None:
    assert main(["evaluate", "--images", str(renders), "--data", "synthetic",
                 "--metrics", "attributes,ms-ssim"]) == 0
    report = json.loads((renders / "eval.json").read_text())
    assert report["images"] == str(renders) and "run" not in report
    assert report["num_samples"] == 2 * SCENES and report["split"] == "test"
    assert report["real_images"] == 2 * SCENES  # as many real renders as images in the folder
    assert set(report["metrics"]) == {"attributes", "ms-ssim"} and report["skipped"] == {}
    found = report["metrics"]["attributes"]
    assert found["stated_count"]["subject"] == 2 * SCENES
    # Real renders with their own captions: wherever the classifier is sure on held-out renders,
    # it must be right on these too (misaligned images and captions would score ~50%).
    for name in ("subject", "time"):
        if name in found["generated"]:
            assert found["real"][name] >= 0.95, f"SMALL_RECIPE too small for {name}"
            assert found["generated"][name] >= 0.9, name
    # Each caption's two images are the same render: identical pairs score exactly 1.
    ms_ssim = report["metrics"]["ms-ssim"]
    assert ms_ssim["value"] == pytest.approx(1.0)
    assert f"{SCENES} captions with 2 or more, {2 * SCENES} images" in ms_ssim["protocol"]
    assert ms_ssim["real"] is not None and ms_ssim["real"] < 1  # subject+color classes of renders
    table = (renders / "eval.md").read_text()
    assert table.startswith(f"# Evaluation of the images in {renders}\n")
    assert "| attributes |" in table and f"{SCENES} distinct captions" in table
    # --num-samples takes the first N images: 6 scenes, twice each
    assert main(["evaluate", "--images", str(renders), "--data", "synthetic",
                 "--metrics", "attributes", "--num-samples", "12"]) == 0
    report = json.loads((renders / "eval.json").read_text())
    assert report["num_samples"] == 12 and report["real_images"] == 12
    assert report["metrics"]["attributes"]["stated_count"]["subject"] == 12
    assert report["captions"].endswith(": 6 distinct captions")


def test_without_repeated_captions_ms_ssim_is_skipped_or_a_named_error(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_captioned_folder(SyntheticCaptions("train", (32, 32), seed=0, length=SCENES),
                                    tmp_path / "distinct", progress=False)
    assert "ms-ssim: no caption has 2" in error_line(
        capsys, "evaluate", "--images", str(folder), "--data", "synthetic", "--metrics", "ms-ssim")
    # every metric (here the two cheap ones): skipped with the reason, the rest scored
    monkeypatch.setattr(evaluate, "METRICS", {k: METRICS[k] for k in ("ms-ssim", "attributes")})
    assert main(["evaluate", "--images", str(folder), "--data", "synthetic"]) == 0
    report = json.loads((folder / "eval.json").read_text())
    assert set(report["metrics"]) == {"attributes"}
    assert "no caption has 2 or more images" in report["skipped"]["ms-ssim"]


def test_flags_and_bad_folders_are_one_line(renders: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    assert "--images needs --data" in error_line(capsys, "evaluate", "--images", str(renders))
    assert "--truncation applies to --run only" in error_line(
        capsys, "evaluate", "--images", str(renders), "--data", "synthetic", "--truncation", "1")
    assert "holds only 24" in error_line(capsys, "evaluate", "--images", str(renders), "--data",
                                         "synthetic", "--num-samples", "30")
    for argv in ([], ["--run", "r", "--images", str(renders)]):  # exactly one of the two
        with pytest.raises(SystemExit) as stop:
            main(["evaluate", *argv])
        assert stop.value.code == 2
    capsys.readouterr()
    assert "no such folder" in error_line(capsys, "evaluate", "--images", str(tmp_path / "nope"),
                                          "--data", "synthetic")
    assert "not a captioned folder" in error_line(capsys, "evaluate", "--images", str(tmp_path),
                                                  "--data", "synthetic")
    folder = write_captioned_folder(SyntheticCaptions("train", (32, 32), seed=0, length=SCENES),
                                    tmp_path / "mixed", progress=False)
    Image.new("RGB", (40, 32)).save(folder / "images" / "000005.png")
    err = error_line(capsys, "evaluate", "--images", str(folder), "--data", "synthetic")
    assert "images/000005.png is 40x32 but images/000000.png is 32x32" in err
    (folder / "images" / "000005.png").write_bytes(b"not a png")
    err = error_line(capsys, "evaluate", "--images", str(folder), "--data", "synthetic")
    assert "images/000005.png is not a readable image" in err
    (folder / "images" / "000005.png").unlink()
    assert "caption with no image" in error_line(capsys, "evaluate", "--images", str(folder),
                                                 "--data", "synthetic")
    assert not (folder / "eval.json").exists()
