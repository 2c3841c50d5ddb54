"""The procedural cat/car dataset: determinism, splits, shapes, captions that match their
pictures."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from t2igan.data.captions import make_captions, parse_caption
from t2igan.data.synthetic import (
    ATTRIBUTES,
    CAR_COLORS,
    CAT_COLORS,
    SUBJECT_ATTRIBUTES,
    SyntheticCaptions,
    render,
    sample_attributes,
)
from t2igan.errors import UserError

CATEGORICAL = tuple(ATTRIBUTES)
CAT = dict(subject="cat", color="grey", pattern="plain", eyes="green", pose="sitting",
           setting="grass", time="day", facing="right")
CAR = dict(subject="car", color="red", car_type="sedan", setting="city street", time="day",
           facing="right")


@pytest.fixture(scope="module")
def scenes() -> list[tuple[dict, list[str]]]:
    rng = random.Random(1234)
    out = []
    for _ in range(3000):
        attrs = sample_attributes(rng)
        out.append((attrs, make_captions(attrs, rng, 5)))
    return out


def test_attribute_table() -> None:
    assert ATTRIBUTES["color"][:6] == tuple(CAT_COLORS)
    assert len(ATTRIBUTES["color"]) == len(set(ATTRIBUTES["color"])) == 11
    assert set(ATTRIBUTES["color"]) == set(CAT_COLORS) | set(CAR_COLORS)
    for subject, table in SUBJECT_ATTRIBUTES.items():
        for name, values in table.items():
            assert set(values) <= set(ATTRIBUTES[name]), (subject, name)


def test_same_index_same_scene_different_index_different_scene() -> None:
    a, b = SyntheticCaptions(seed=3, length=20), SyntheticCaptions(seed=3, length=20)
    img1, caps1, attrs1 = a[7]
    img2, caps2, attrs2 = b[7]
    assert torch.equal(img1, img2) and caps1 == caps2 and attrs1 == attrs2
    img3, caps3, _ = a[8]
    assert not torch.equal(img1, img3) and caps1 != caps3
    img4, _, _ = SyntheticCaptions(seed=4, length=20)[7]
    assert not torch.equal(img1, img4)


def test_train_and_test_scenes_are_disjoint() -> None:
    train, test = SyntheticCaptions("train"), SyntheticCaptions("test")
    assert (len(train), len(test)) == (100_000, 10_000)

    def key(ds: SyntheticCaptions, i: int) -> str:
        captions, attrs = ds.describe(i)
        return repr((sorted(attrs.items()), captions))

    train_keys = {key(train, i) for i in range(2000)}
    assert len(train_keys) == 2000
    assert not train_keys & {key(test, i) for i in range(2000)}


@pytest.mark.parametrize("size", [(64, 64), (256, 256), (512, 384), (40, 16)])
def test_image_dtype_and_shape(size: tuple[int, int]) -> None:
    img, captions, attrs = SyntheticCaptions("test", size=size, length=3)[2]
    assert img.dtype == torch.uint8 and tuple(img.shape) == (3, size[1], size[0])
    assert img.float().std() > 10  # a picture, not a blank canvas
    assert len(captions) == 5 and attrs["subject"] in ATTRIBUTES["subject"]


def test_bad_arguments_raise() -> None:
    with pytest.raises(UserError, match="16x16"):
        SyntheticCaptions(size=(15, 64))
    with pytest.raises(UserError, match="64x8"):
        render(CAT, (64, 8))
    with pytest.raises(ValueError, match="split"):
        SyntheticCaptions("valid")
    with pytest.raises(ValueError, match="pattern"):
        render(dict(CAT, pattern="plaid"))
    ds = SyntheticCaptions(length=4)
    with pytest.raises(IndexError):
        ds[4]
    assert torch.equal(ds[-1][0], ds[3][0])


def test_captions_agree_with_attributes(scenes) -> None:
    for attrs, captions in scenes:
        truth = {k: attrs[k] for k in CATEGORICAL if k in attrs}
        assert len(set(captions)) == 5
        assert any(len(c.split()) >= 15 for c in captions), captions
        parsed = [parse_caption(c) for c in captions]
        for caption, stated in zip(captions, parsed):
            assert stated["subject"] == attrs["subject"], caption
            assert stated.items() <= truth.items(), (caption, stated, truth)
        assert truth in parsed, (captions, truth)  # the long caption states everything
        assert any(len(p) < len(truth) for p in parsed), captions  # and some leave things unsaid


def test_caption_vocabulary_varies(scenes) -> None:
    words = {w.strip(",") for _, captions in scenes for c in captions for w in c.split()}
    for synonym in ("ginger", "gray", "grey", "kitty", "automobile", "couch", "carpet", "daytime",
                    "daylight", "pickup", "green-eyed", "night,", "sits", "lies"):
        assert synonym.strip(",") in words, synonym
    firsts = {c.split()[0] for _, captions in scenes for c in captions}
    assert {"a", "on", "at"} <= firsts  # word order varies


def test_every_value_occurs(scenes) -> None:
    seen = {(k, v) for attrs, _ in scenes for k, v in attrs.items() if k in ATTRIBUTES}
    missing = {(k, v) for k, values in ATTRIBUTES.items() for v in values} - seen
    assert not missing
    for attrs, _ in scenes:
        allowed = set(SUBJECT_ATTRIBUTES[attrs["subject"]]) | {"subject", "time", "facing"}
        assert set(attrs) & set(ATTRIBUTES) == allowed | (
            {"rug_color"} if attrs["setting"] == "rug" else set())


@pytest.mark.parametrize("text, expected", [
    ("A ginger kitty", {"subject": "cat", "color": "orange"}),
    ("a gray cat, lying on a BLUE carpet!", {"subject": "cat", "color": "grey", "pose": "lying",
                                             "setting": "rug", "rug_color": "blue"}),
    ("green-eyed black cat on the couch", {"subject": "cat", "color": "black", "eyes": "green",
                                           "setting": "sofa"}),
    ("a white cat with yellow eyes sitting on green grass", {"subject": "cat", "color": "white",
                                                             "eyes": "yellow", "pose": "sitting",
                                                             "setting": "grass"}),
    ("red pickup truck at night", {"subject": "car", "color": "red", "car_type": "pickup truck",
                                   "time": "night"}),
    ("Silver sports car in a car park, facing left", {"subject": "car", "color": "silver",
                                                      "car_type": "sports car",
                                                      "setting": "parking lot", "facing": "left"}),
    ("a yellow automobile on a rural road in daylight", {"subject": "car", "color": "yellow",
                                                         "setting": "country road", "time": "day"}),
    ("on a purple rug lies a spotted cream kitten", {"subject": "cat", "color": "cream",
                                                     "pattern": "spotted", "setting": "rug",
                                                     "rug_color": "purple", "pose": "lying"}),
    ("tabby cat", {"subject": "cat", "pattern": "striped"}),
    ("a van parked downtown, right-facing", {"subject": "car", "car_type": "van",
                                             "setting": "city street", "facing": "right"}),
    ("a cat with black stripes", {"subject": "cat", "pattern": "striped"}),
    ("a white car with black wheels driving left down the street",
     {"subject": "car", "color": "white", "facing": "left", "setting": "city street"}),
    ("an orange kitten whose eyes are amber", {"subject": "cat", "color": "orange",
                                               "eyes": "yellow"}),
    ("a dog on a sofa", {"setting": "sofa"}),
])
def test_parse_free_text(text: str, expected: dict) -> None:
    assert parse_caption(text) == expected


@pytest.mark.parametrize("base, palette", [(CAT, CAT_COLORS), (CAR, CAR_COLORS),
                                           (dict(CAT, time="night", pose="lying"), CAT_COLORS),
                                           (dict(CAR, time="night", car_type="sports car"),
                                            CAR_COLORS)])
def test_subject_colour_is_its_named_colour(base: dict, palette: dict) -> None:
    """Among the pixels that the colour attribute changes, most are nearest to the named colour."""
    images = {v: render(dict(base, color=v)).astype(np.float32) for v in palette}
    stack = np.stack(list(images.values()))
    changed = np.abs(stack - stack[0]).sum(-1).max(0) > 30
    assert changed.mean() > 0.05, "the subject is too small"
    refs = np.array(list(palette.values()), dtype=np.float32)
    for name, image in images.items():
        nearest = np.abs(image[changed][:, None, :] - refs[None]).sum(-1).argmin(1)
        assert list(palette)[np.bincount(nearest).argmax()] == name


@pytest.mark.parametrize("base, key", [(CAT, k) for k in SUBJECT_ATTRIBUTES["cat"]]
                         + [(CAR, k) for k in SUBJECT_ATTRIBUTES["car"]]
                         + [(CAT, "time"), (CAR, "time"), (dict(CAT, setting="rug"), "rug_color")])
def test_each_attribute_visibly_changes_the_picture(base: dict, key: str) -> None:
    values = ATTRIBUTES[key] if key == "rug_color" else (SUBJECT_ATTRIBUTES[base["subject"]] | {
        "time": ATTRIBUTES["time"]})[key]
    images = [render(dict(base, **{key: v}), (64, 64)).astype(np.int16) for v in values]
    for i in range(len(images)):
        for j in range(i):
            changed = (np.abs(images[i] - images[j]).sum(-1) > 60).sum()
            # at least ~20 of 4096 pixels
            assert changed >= 20, (key, values[i], values[j], changed)


def test_facing_mirrors_the_scene() -> None:
    for base in (CAT, CAR):
        right = render(dict(base, facing="right"), (96, 64))
        left = render(dict(base, facing="left"), (96, 64))
        assert np.array_equal(left, right[:, ::-1])
        assert not np.array_equal(left, right)


def test_jitter_moves_and_tints_the_subject() -> None:
    plain = render(CAR)
    assert not np.array_equal(plain, render(dict(CAR, dx=0.05)))
    assert not np.array_equal(plain, render(dict(CAR, scale=0.9)))
    assert not np.array_equal(plain, render(dict(CAR, tint=(8, 8, 8))))
