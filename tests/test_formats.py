"""Folder and manifest formats, the shared interface over them, and the image decoding policy."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from t2igan.data.dataset import CaptionedImages
from t2igan.data.decode import BadImage, decode_image
from t2igan.data.sources import SourceOptions, open_source
from t2igan.errors import UserError

SIZE = (16, 12)
CAPTIONS = [["a red car", "a red sedan"], ["a grey cat"], ["a blue van on a street"]]


def pixels(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8)


def save_png(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels(seed)).save(path)


def same_content(source_path: Path, **options: str) -> None:
    """The three fixture images and captions come back exactly, in order, through the shared
    interface."""
    dataset = CaptionedImages(open_source(source_path, SourceOptions(**options)), SIZE)
    assert len(dataset) == 3
    by_caption = {tuple(dataset[i][1]): dataset[i][0] for i in range(3)}
    for seed, captions in enumerate(CAPTIONS):
        image = by_caption[tuple(captions)]
        assert image.dtype == torch.uint8 and image.shape == (3, SIZE[1], SIZE[0])
        assert torch.equal(image.permute(1, 2, 0), torch.from_numpy(pixels(seed)))


def test_txt_sidecars_metadata_jsonl_and_csv_give_the_same_items(tmp_path: Path) -> None:
    txt, meta, rows = tmp_path / "txt", tmp_path / "meta", tmp_path / "csv"
    records = []
    for seed, captions in enumerate(CAPTIONS):
        save_png(txt / f"{seed}.png", seed)
        (txt / f"{seed}.png").with_suffix(".txt").write_text("\n".join(captions) + "\n")
        save_png(meta / f"img{seed}.png", seed)
        records.append({"file_name": f"img{seed}.png",
                        "text": captions if len(captions) > 1 else captions[0]})
        save_png(rows / "photos" / f"{seed}.png", seed)
    (meta / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    # one row per caption, commas quoted
    with open(rows / "captions.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption"])
        writer.writerows([f"{seed}.png", c] for seed, caps in enumerate(CAPTIONS) for c in caps)
    assert open_source(txt).format == "txt" and open_source(meta).format == "metadata-jsonl"
    assert open_source(rows).format == "csv"
    for folder in (txt, meta, rows):
        same_content(folder)
    same_content(rows / "captions.csv")  # --data may name the manifest itself


def test_csv_columns_labels_and_split_folders(tmp_path: Path) -> None:
    for seed in range(3):
        save_png(tmp_path / ("train" if seed < 2 else "val") / f"{seed}.jpg.png", seed)
    (tmp_path / "labels.csv").write_text("split,file,breed,caption_template,weight\n"
                                         "train,0.jpg.png,Abyssinian,"
                                         "\"a photo of an Abyssinian cat, sitting\",4.5\n"
                                         "train,1.jpg.png,Bengal,a photo of a Bengal cat,3\n"
                                         "val,2.jpg.png,Bengal,,3\n"
                                         "train,missing.png,Bengal,a photo of a Bengal cat,3\n")
    source = open_source(tmp_path)
    assert [e.captions for e in source.entries] == [["a photo of an Abyssinian cat, sitting"],
                                                    ["a photo of a Bengal cat"]]
    assert source.entries[0].extras == {"split": "train", "breed": "Abyssinian", "weight": 4.5,
                                        "label": "Abyssinian"}
    assert sorted((s.name, s.reason) for s in source.skipped) == [
        ("2.jpg.png", "no caption"), ("missing.png", "caption with no image")]
    custom = open_source(tmp_path, SourceOptions(caption_column="breed", label_column="split"))
    assert custom.entries[2].captions == ["Bengal"] and custom.entries[2].extras["label"] == "val"
    with pytest.raises(UserError, match="no column 'nope'"):
        open_source(tmp_path, SourceOptions(caption_column="nope"))


def test_class_folders_take_a_caption_template(tmp_path: Path) -> None:
    save_png(tmp_path / "golden_retriever" / "a.png", 0)
    save_png(tmp_path / "tabby" / "b.png", 1)
    (tmp_path / "tabby" / "notes.doc").write_text("not an image")
    source = open_source(tmp_path, SourceOptions(caption_template="a photo of a {label}, outdoors"))
    assert source.format == "class-folders"
    assert [(e.captions, e.extras["label"]) for e in source.entries] == [
        (["a photo of a golden retriever, outdoors"], "golden_retriever"),
        (["a photo of a tabby, outdoors"], "tabby")]
    assert [(s.name, s.reason) for s in source.skipped] == [
        ("tabby/notes.doc", "not an image file type (.doc)")]
    with pytest.raises(UserError, match="only use the field"):
        open_source(tmp_path, SourceOptions(caption_template="a {breed}"))


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def test_decoding_converts_every_mode_to_rgb() -> None:
    grey = Image.fromarray(np.full((12, 16), 100, np.uint8))
    assert (decode_image(encoded(grey, "PNG"), SIZE) == 100).all()
    rgba = Image.new("RGBA", (16, 12), (255, 0, 0, 0))  # fully transparent: shown on white
    assert (decode_image(encoded(rgba, "PNG"), SIZE) == 255).all()
    palette = Image.new("RGB", (16, 12), (0, 0, 255)).convert("P")
    assert tuple(decode_image(encoded(palette, "PNG"), SIZE)[0, 0]) == (0, 0, 255)
    cmyk = Image.new("CMYK", (16, 12), (0, 255, 255, 0))  # pure red in print colours
    red = decode_image(encoded(cmyk, "JPEG", quality=100), SIZE)[0, 0]
    assert red[0] > 240 and red[1] < 15 and red[2] < 15
    deep = Image.fromarray(np.full((12, 16), 65535, np.uint16))  # 16-bit greyscale, white
    assert (decode_image(encoded(deep, "PNG"), SIZE) == 255).all()


def test_exif_orientation_and_fit_policies() -> None:
    wide = np.zeros((10, 40, 3), np.uint8)
    wide[:, :20] = 255  # left half white
    image = Image.fromarray(wide)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view": a phone held upright
    upright = decode_image(encoded(image, "JPEG", exif=exif, quality=95), (10, 40), "stretch")
    # white on top
    assert upright.shape == (40, 10, 3) and upright[:15].mean() > 200 and upright[25:].mean() < 50
    pad = decode_image(encoded(image, "PNG"), (20, 20), "pad")
    # black bars, all in view
    assert (pad[:7] == 0).all() and (pad[13:] == 0).all() and pad[8:12, :10].mean() > 200
    crop = decode_image(encoded(image, "PNG"), (20, 20), "crop")
    assert crop[:, :9].mean() > 200 and crop[:, 11:].mean() < 50  # the centre square, no bars
    assert decode_image(encoded(image, "PNG"), (20, 20), "stretch").shape == (20, 20, 3)


def test_bad_images_raise_a_reason(tmp_path: Path) -> None:
    good = encoded(Image.fromarray(pixels(0)), "JPEG")
    with pytest.raises(BadImage, match="corrupt or truncated"):
        decode_image(good[: len(good) // 2], SIZE)
    with pytest.raises(BadImage, match="not an image"):
        decode_image(b"this is a text file named photo.jpg", SIZE)
    Image.new("1", (9500, 9500)).save(tmp_path / "bomb.png")  # 11 kB that decode to 90 megapixels
    with pytest.raises(BadImage, match="decompression bomb"):
        decode_image((tmp_path / "bomb.png").read_bytes(), SIZE)
    # a wrong extension alone is no problem
    png_named_jpg = encoded(Image.fromarray(pixels(1)), "PNG")
    assert (decode_image(png_named_jpg, SIZE) == pixels(1)).all()


def test_nothing_usable_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        open_source(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no dataset"):
        open_source(tmp_path / "empty")
    (tmp_path / "captions.csv").write_text("image,caption\nnothing.png,a cat\n")
    with pytest.raises(UserError, match="no usable image with a caption"):
        open_source(tmp_path / "captions.csv")
    with pytest.raises(UserError, match="--format"):
        open_source(tmp_path, SourceOptions(format="parquet"))
