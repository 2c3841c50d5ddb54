"""Folder and manifest formats, the shared interface over them, and the image decoding policy."""

from __future__ import annotations

import csv
import io
import json
import os
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


OUTSIDE = "outside the dataset folder (pass --allow-outside-root to read it)"


def write_jsonl(file: Path, records: list[object]) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_names_outside_the_dataset_folder_are_skipped_unless_allowed(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "d", tmp_path / "elsewhere"
    save_png(root / "in.png", 0)
    save_png(elsewhere / "secret.png", 1)
    (elsewhere / "secret.txt").write_text("the secret caption\n")
    os.symlink(elsewhere / "secret.png", root / "link.png")
    names = ["in.png", "../elsewhere/secret.png", str(elsewhere / "secret.png"), "link.png"]
    write_jsonl(root / "captions.jsonl", [{"file": n, "captions": ["a cat"]} for n in names])
    source = open_source(root)
    assert [e.name for e in source.entries] == ["in.png"]
    assert [(s.name, s.reason) for s in source.skipped] == [(n, OUTSIDE) for n in names[1:]]
    allowed = open_source(root, SourceOptions(allow_outside_root=True))
    assert [e.name for e in allowed.entries] == names[:2]  # the other two are the same file
    assert [s.reason for s in allowed.skipped] == ["duplicate (of line 2)"] * 2
    # scanned folders: a symlinked caption file, a symlinked image (and a CSV row naming it)
    os.symlink(elsewhere / "secret.txt", root / "in.txt")
    (root / "captions.jsonl").unlink()
    with pytest.raises(UserError, match="no usable image"):
        open_source(root)
    assert open_source(root, SourceOptions(allow_outside_root=True)).format == "txt"
    (root / "labels.csv").write_text("file,caption\nin.png,a cat\nlink.png,a secret\n")
    source = open_source(root)
    assert [e.name for e in source.entries] == ["in.png"]
    assert [(s.name, s.reason) for s in source.skipped] == [("link.png", OUTSIDE)] * 2


def test_one_line_that_is_not_utf8_costs_that_line_only(tmp_path: Path) -> None:
    for seed in range(3):
        save_png(tmp_path / f"{seed}.png", seed)
    # a BOM is fine; the bad byte must not hide the CSV (class folders would caption "a photo
    # of a <folder name>" instead)
    (tmp_path / "labels.csv").write_bytes(b"\xef\xbb\xbffile,caption\n0.png,a red car\n"
                                          b"1.png,a gr\xe9y cat\n2.png,a blue van\n")
    source = open_source(tmp_path)
    assert source.format == "csv"
    assert [e.captions for e in source.entries] == [["a red car"], ["a blue van"]]
    assert [(s.name, s.reason) for s in source.skipped] == [
        ("labels.csv line 3", "not UTF-8 (byte 0xe9 at column 11)"), ("1.png", "no caption")]
    (tmp_path / "labels.csv").unlink()
    (tmp_path / "captions.jsonl").write_bytes(b'{"file": "0.png", "captions": ["a \xff cat"]}\n'
                                              b'{"file": "1.png", "captions": ["a cat"]}\n')
    source = open_source(tmp_path)
    assert [e.name for e in source.entries] == ["1.png"]
    assert [(s.name, s.reason) for s in source.skipped] == [
        ("captions.jsonl line 1", "not UTF-8 (byte 0xff at column 35)")]


def test_a_quoted_caption_may_hold_a_line_break_and_a_stray_quote_costs_one_line(
        tmp_path: Path) -> None:
    for seed in range(4):
        save_png(tmp_path / f"{seed}.png", seed)
    (tmp_path / "labels.csv").write_text(
        'file,caption\n0.png,"a red car\non a road"\n1.png,"a grey cat\n2.png,a blue van\n'
        '3.png,a white cat\n')
    source = open_source(tmp_path)
    assert {e.name: e.captions for e in source.entries} == {
        "0.png": ["a red car on a road"], "2.png": ["a blue van"], "3.png": ["a white cat"]}
    assert ("labels.csv line 4", "bad manifest line (a quote is never closed)") in [
        (s.name, s.reason) for s in source.skipped]


def test_captions_of_the_wrong_type_are_skipped_not_split_into_letters(tmp_path: Path) -> None:
    for seed in range(7):
        save_png(tmp_path / f"{seed}.png", seed)
    write_jsonl(tmp_path / "captions.jsonl", [
        {"file": "0.png", "captions": "a cat"}, {"file": "1.png", "captions": 5},
        {"file": "2.png", "captions": {"a": "b"}}, {"file": "3.png", "captions": ["a cat", 3]},
        {"file": "4.png", "captions": ["a cat"], "attributes": ["red"]},
        {"file": 5, "captions": ["a cat"]}, ["6.png", "a cat"],
        {"file": "6.png", "captions": ["a cat"], "attributes": {"colour": "red"}}])
    source = open_source(tmp_path)
    assert [(e.name, e.captions, e.extras) for e in source.entries] == [
        ("6.png", ["a cat"], {"colour": "red"})]
    why = [s.reason.removeprefix("bad manifest line (")[:-1] for s in source.skipped]
    assert why == ["captions must be a list of strings, got str",
                   "captions must be a list of strings, got int",
                   "captions must be a list of strings, got dict",
                   "captions must be a list of strings, got list of int",
                   "attributes must be an object, got list",
                   "file must be a string, got int",
                   "not a JSON object, got list"]
    (tmp_path / "captions.jsonl").unlink()  # where one string is allowed, it is one caption
    write_jsonl(tmp_path / "metadata.jsonl", [{"file_name": "0.png", "text": "a cat"},
                                              {"file_name": "1.png", "text": [["a cat"]]}])
    source = open_source(tmp_path)
    assert [e.captions for e in source.entries] == [["a cat"]]
    assert source.skipped[0].reason == ("bad manifest line (text must be a string or a list of "
                                        "strings, got list of list)")


def test_a_second_line_for_the_same_file_is_a_skipped_duplicate(tmp_path: Path) -> None:
    save_png(tmp_path / "0.png", 0)
    (tmp_path / "sub").mkdir()
    write_jsonl(tmp_path / "captions.jsonl", [{"file": "0.png", "captions": ["a red car"]},
                                              {"file": "0.png", "captions": ["a blue car"]},
                                              {"file": "sub/../0.png", "captions": ["a car"]}])
    source = open_source(tmp_path)
    assert [(e.name, e.captions) for e in source.entries] == [("0.png", ["a red car"])]
    assert [(s.name, s.reason) for s in source.skipped] == [
        ("0.png", "duplicate (of line 1)"), ("sub/../0.png", "duplicate (of line 1)")]
    (tmp_path / "captions.jsonl").unlink()  # a caption-per-row CSV merges rows by design
    (tmp_path / "labels.csv").write_text("file,caption\n0.png,a red car\nsub/../0.png,a car\n")
    assert [e.captions for e in open_source(tmp_path).entries] == [["a red car", "a car"]]
    (tmp_path / "labels.csv").unlink()  # COCO: one image record per id, one per file
    (tmp_path / "captions_x.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "0.png"}, {"id": 1, "file_name": "0.png"},
                   {"id": 2, "file_name": "0.png"}],
        "annotations": [{"image_id": 1, "caption": "a red car"},
                        {"image_id": 2, "caption": "a car"}]}))
    source = open_source(tmp_path)
    assert [(e.name, e.captions) for e in source.entries] == [("0.png", ["a red car"])]
    assert [s.reason for s in source.skipped] == ["duplicate (of images[0])",
                                                  "duplicate (of captions_x.json images[0])"]
