"""Bad files are skipped and reported, never fatal; the prepared cache round-trips and trains."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import TINY
from t2igan.cli import main
from t2igan.data.cache import CachedImages
from t2igan.data.dataset import CaptionedImages
from t2igan.data.prepare import check_source, prepare_cache
from t2igan.data.sources import open_source
from t2igan.text import embed_texts

EXPECTED_SKIPS = {"corrupt or truncated": 1, "not an image": 1, "decompression bomb": 1,
                  "no caption": 2, "caption with no image": 1}


def photo(seed: int, size: tuple[int, int] = (40, 30)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A CSV dataset of 8 good photos and one of every kind of bad file."""
    root = tmp_path / "messy"
    (root / "img").mkdir(parents=True)
    rows = ["file,caption,label"]
    for seed in range(8):
        photo(seed).save(root / "img" / f"good{seed}.png")
        rows.append(f"good{seed}.png,a photo number {seed},{'car' if seed % 2 else 'cat'}")
    jpeg = io.BytesIO()
    photo(9, (200, 150)).save(jpeg, format="JPEG")
    (root / "img" / "truncated.jpg").write_bytes(jpeg.getvalue()[:3000])  # a download cut short
    (root / "img" / "notes.png").write_text("this is text with an image's name")
    # 11 kB that decode to 90 megapixels
    Image.new("1", (9500, 9500)).save(root / "img" / "bomb.png")
    photo(10).save(root / "img" / "uncaptioned.png")  # in the folder, in no row
    photo(11).save(root / "img" / "empty.png")
    rows += ["truncated.jpg,a truncated photo,cat", "notes.png,a text file,cat",
             "bomb.png,a bomb,cat", "empty.png,,cat", "missing.png,a photo that is not there,cat"]
    (root / "captions.csv").write_text("\n".join(rows) + "\n")
    return root


def test_check_counts_every_kind_of_bad_file(messy: Path, capsys: pytest.CaptureFixture) -> None:
    report = check_source(open_source(messy), progress=False)
    assert report["usable_images"] == 8 and report["skipped"] == 6
    assert report["skipped_by_reason"] == EXPECTED_SKIPS
    reasons = {item["name"]: item["reason"] for item in report["skipped_files"]}
    assert (reasons["img/uncaptioned.png"] == "no caption"
            and reasons["missing.png"] == "caption with no image")
    assert main(["data", "check", str(messy)]) == 0
    out = capsys.readouterr().out
    assert '"usable_images": 8' in out and "skipped img/bomb.png: decompression bomb" in out
    assert list((messy.parent).iterdir()) == [messy]  # check writes nothing


def test_a_file_that_vanishes_after_the_scan_is_skipped(messy: Path) -> None:
    source = open_source(messy)
    (messy / "img" / "good3.png").unlink()
    report = check_source(source, progress=False)
    assert report["usable_images"] == 7 and report["skipped_by_reason"]["unreadable file"] == 1


def test_prepare_writes_a_cache_and_a_report(messy: Path, tmp_path: Path) -> None:
    photo(0).save(messy / "img" / "copy-of-good0.png")  # a near-duplicate (here exact)
    with open(messy / "captions.csv", "a") as handle:
        handle.write("copy-of-good0.png,the same photo again,cat\n")
    info = prepare_cache(open_source(messy), tmp_path / "cache", (32, 24), val_fraction=0.25,
                         dedup=True, text_encoder=None, progress=False)
    assert info["count"] == 8 and info["train"] + info["val"] == 8
    assert info["skipped_by_reason"] == {**EXPECTED_SKIPS, "near-duplicate of img/good0.png": 1}
    report = [json.loads(line)
              for line in (tmp_path / "cache" / "report.jsonl").read_text().splitlines()]
    assert len(report) == 7 and {"name": "img/notes.png", "reason": report[
        [r["name"] for r in report].index("img/notes.png")]["reason"]} in report
    train, val = CachedImages(tmp_path / "cache", "train"), CachedImages(tmp_path / "cache", "val")
    assert len(train) == info["train"] and len(val) == info["val"]
    assert not {i["name"] for i in train.items} & {i["name"] for i in val.items}


def test_cache_round_trips_byte_for_byte_with_its_caption_vectors(messy: Path,
                                                                  tmp_path: Path) -> None:
    source = open_source(messy)
    assert main(["data", "prepare", str(messy), "--out", str(tmp_path / "cache"), "--size", "32x24",
                 "--fit", "pad", "--val-fraction", "0"]) == 0
    cache = CachedImages(tmp_path / "cache", "all", (32, 24))
    decoded = CaptionedImages(source, (32, 24), "pad")
    by_name = {entry.name: index for index, entry in enumerate(source.entries)}
    for index, item in enumerate(cache.items):
        image, captions, extras = decoded[by_name[item["name"]]]
        assert (torch.equal(cache[index][0], image) and cache[index][1] == captions
                and cache[index][2] == extras)
    tensors = cache.tensors()
    assert tensors.text_encoder == "minilm"
    assert torch.equal(tensors.vectors,
                       embed_texts([c for caps in tensors.captions for c in caps], "minilm"))
    again = tmp_path / "again"
    prepare_cache(source, again, (32, 24), "pad", val_fraction=0, text_encoder=None, progress=False)
    assert (again / "images.u8").read_bytes() == (tmp_path / "cache" / "images.u8").read_bytes()


def test_split_is_by_seed_and_stable(messy: Path, tmp_path: Path) -> None:
    def val_names(seed: int, out: str) -> set[str]:
        prepare_cache(open_source(messy), tmp_path / out, (16, 12), val_fraction=0.5, seed=seed,
                      text_encoder=None, progress=False)
        return {item["name"] for item in CachedImages(tmp_path / out, "val").items}

    first = val_names(0, "a")
    assert first == val_names(0, "b") and first != val_names(1, "c")


def test_training_reads_a_cache_and_survives_bad_files(messy: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    prepare_cache(open_source(messy), tmp_path / "cache", (32, 32), val_fraction=0,
                  text_encoder=None, progress=False)
    assert main(["train", "--data", str(tmp_path / "cache"), "--out", str(tmp_path / "r1"), *TINY,
                 "--steps", "2"]) == 0
    config = json.loads((tmp_path / "r1" / "config.json").read_text())
    assert config["data"] == str(tmp_path / "cache")
    capsys.readouterr()
    assert main(["train", "--data", str(messy), "--out", str(tmp_path / "r2"), *TINY,
                 "--steps", "2", "--fit", "stretch", "--augment", "color,translation,cutout"]) == 0
    # 3 found by the scan, 3 when decoded
    assert "skipped 6 unusable files" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "cache"), "--out", str(tmp_path / "r3"), *TINY,
                 "--steps", "1", "--image-size", "64"]) == 2
    assert "holds 32x32 images" in capsys.readouterr().err


def test_prepare_refuses_to_overwrite(messy: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep me")
    assert main(["data", "prepare", str(messy), "--out", str(tmp_path / "busy"),
                 "--text-encoder", "none"]) == 2
    assert "did not write" in capsys.readouterr().err
    # an interrupted preparation (its own folder, no manifest yet) is taken up again
    started = tmp_path / "started"
    started.mkdir()
    (started / ".t2igan-made-by").write_text("data prepare\n")
    (started / "images.u8").write_bytes(b"half")
    assert main(["data", "prepare", str(messy), "--out", str(started),
                 "--text-encoder", "none"]) == 0
    shutil.rmtree(messy)
    assert main(["data", "check", str(messy)]) == 2
    assert "does not exist" in capsys.readouterr().err
