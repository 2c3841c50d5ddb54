"""The real photo sets in ../shared/data: every layout is detected and read as it is.

These skip where ../shared/data is absent (a user's fresh checkout has none).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import TINY
from t2igan.cli import main
from t2igan.data.dataset import CaptionedImages
from t2igan.data.sources import open_source

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(),
                                  reason=f"{SHARED} is absent (not part of a fresh checkout)")

# folder -> (format detected, images, first caption, label of the first image)
EXPECTED = {
    "stanford-cars-128x96": ("csv", 6184, "a photo of a 2012 Audi TTS Coupe",
                             "Audi TTS Coupe 2012"),
    "cat-breeds": ("csv", 800, "a photo of an Abyssinian cat", "Abyssinian"),
    "coco-mini": ("csv", 239, "a family is sitting down at a table to have cake", None),
    "flickr8k-1000": ("csv", 1000, "A child in a pink dress is climbing up a set of stairs "
                      "in an entry way .", None),
    "petimages-cats-128": ("class-folders", 11499, "a photo of a Cat", "Cat"),
    "dreambooth-cats": ("class-folders", 10, "a photo of a cat", "cat"),
}


@needs_shared
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_shared_layout_is_read_as_it_is(name: str) -> None:
    fmt, count, caption, label = EXPECTED[name]
    source = open_source(SHARED / name)
    assert (source.format, len(source.entries), source.skipped) == (fmt, count, [])
    assert (source.entries[0].captions[0] == caption
            and source.entries[0].extras.get("label") == label)
    image, captions, _ = CaptionedImages(source, (64, 48))[0]
    assert image.shape == (3, 48, 64) and captions[0] == caption


@needs_shared
def test_train_on_cars_then_generate_from_a_typed_sentence(tmp_path: Path) -> None:
    run = tmp_path / "cars"
    assert main(["train", "--data", str(SHARED / "stanford-cars-128x96"), "--out", str(run), *TINY,
                 "--steps", "2", "--fit", "pad", "--augment", "color,translation"]) == 0
    out = tmp_path / "f150.png"
    assert main(["generate", "--run", str(run),
                 "--prompt", "a photo of a 2012 Ford F-150 Regular Cab", "--num", "4",
                 "--out", str(out)]) == 0
    assert out.stat().st_size > 0


@needs_shared
@pytest.mark.parametrize("name,subject", [("petimages-cats-128", "cat"),
                                          ("stanford-cars-128x96", "car")])
def test_real_cats_and_cars_at_64_px_are_recognised(name: str, subject: str) -> None:
    """The ImageNet classes `recognised` looks for are the ones real photos get."""
    from t2igan.data.memory import load_into_memory, open_dataset
    from t2igan.metrics.extractors import extract
    from t2igan.metrics.imagenet import MobileNetClassifier
    from t2igan.metrics.recognition import recognised, subjects

    real = load_into_memory(open_dataset(str(SHARED / name), (64, 64), "test"), 64,
                            progress=False)
    logits = extract(MobileNetClassifier(), real.images, progress=False)["logits"]
    named = subjects([captions[0] for captions in real.captions])
    # "a photo of a Cat"; a car's body type, which 15 of Stanford's 196 class names lack
    assert named.count(subject) >= 0.9 * len(named) and set(named) <= {subject, None}
    assert recognised(torch.from_numpy(logits), named)["share"] >= 0.5
