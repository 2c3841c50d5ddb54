"""COCO captions: `captions_<split>.json` files and the image folders they name.

    DIR/annotations/captions_train2017.json
    DIR/annotations/captions_val2017.json
        {"images": [{"id": 9, "file_name": "000000000009.jpg"}],
         "annotations": [{"image_id": 9, "caption": "..."}, ...]}
    DIR/train2017/000000000009.jpg ...   found under DIR/<split>/, by the path, or by base name

The JSON may also sit in DIR itself, or --data may name one JSON file. Every captions_*.json
found is read; one that is not JSON, or not of this shape, is skipped whole (an error when
nothing else is left). --keep-words "cat,kitten" keeps only the images one of whose captions
has one of the words (whole words, any case; "teddy bear" matches the two words in a row): the
others are not selected, so they are not reported as skipped. The COCO image id is the extra
"coco_id".

A record that cannot be used (a caption that is not a string or not UTF-8, an id that is a list)
is skipped with its reason; the rest of the file is read. An image listed twice (the same id, or the
same file under two ids) keeps its first record, as the JSON-lines formats keep their first line.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Any

from t2igan.data.sources import (
    OUTSIDE,
    BadLine,
    BadRecord,
    Entry,
    ImageFinder,
    Inside,
    Skipped,
    Source,
    SourceOptions,
    clean_captions,
    kind,
    read_file,
    relative_name,
)
from t2igan.errors import UserError

PATTERN = "captions_*.json"
WORD = re.compile(r"[^\W\d_]+")  # runs of letters, in any script


def _is_captions_json(path: Path) -> bool:
    return path.is_file() and path.match(PATTERN)


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if _is_captions_json(path) else []
    if not path.is_dir():
        return []
    return sorted(p for folder in (path, path / "annotations") if folder.is_dir()
                  for p in folder.glob(PATTERN) if p.is_file())


def detect(path: Path) -> bool:
    return bool(_files(path))


def _dataset_root(json_file: Path) -> Path:
    folder = json_file.parent
    return folder.parent if folder.name == "annotations" else folder


def _words(text: str) -> str:
    """'A cat, sitting.' -> ' a cat sitting ': spaces around every word, so phrases match whole
    words."""
    return f" {' '.join(WORD.findall(text.lower()))} "


class KeepWords:
    """The --keep-words filter; keeps everything when no words are given."""

    def __init__(self, spec: str | None) -> None:
        self.words = [_words(w) for w in (spec or "").split(",") if w.strip() and _words(w).strip()]

    def __call__(self, captions: list[str]) -> bool:
        return not self.words or any(w in _words(c) for c in captions for w in self.words)


def _utf8(text: str) -> str:
    """text, or BadRecord if it holds a byte that was not UTF-8 (read as U+DC80..U+DCFF)."""
    bad = next((c for c in text if "\udc80" <= c <= "\udcff"), None)
    if bad is not None:
        raise BadRecord(f"not UTF-8 (byte 0x{ord(bad) - 0xdc00:02x})")
    return text


def _id(record: dict, key: str) -> int | str:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadLine(f"{key} must be a number or a string, got {kind(value)}")
    return value


def _object(record: Any) -> dict:
    if not isinstance(record, dict):
        raise BadLine(f"not a JSON object, got {kind(record)}")
    return record


def _annotation(record: Any) -> tuple[int | str, str]:
    """(image id, caption) of one annotation."""
    caption = _object(record).get("caption")
    if not isinstance(caption, str):
        raise BadLine(f"caption must be a string, got {kind(caption)}")
    return _id(record, "image_id"), _utf8(caption)


def _image(record: Any) -> tuple[int | str, str]:
    """(id, file name, '' if none) of one image record."""
    file_name = _object(record).get("file_name") or ""
    if not isinstance(file_name, str):
        raise BadLine(f"file_name must be a string, got {kind(file_name)}")
    return _id(record, "id"), _utf8(file_name)


def _load(file: Path, skipped: list[Skipped]) -> tuple[list, dict[Any, list[str]]] | None:
    """(image records, image id -> its captions), or None (and a skip) if the file is unusable.

    Bytes that are not UTF-8 are decoded as surrogates: a bad byte in one caption costs that
    annotation (found by `_utf8`), not the whole file, which is often one line."""
    try:
        text = file.read_bytes().removeprefix(codecs.BOM_UTF8).decode("utf-8", "surrogateescape")
        data = json.loads(text, strict=False)  # a raw tab in a caption is no reason to fail
    except (OSError, ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        skipped.append(Skipped(file.name, f"bad manifest line (not COCO captions: "
                                          f"{type(error).__name__}: {str(error)[:200]})"))
        return None
    if not (isinstance(data, dict) and isinstance(data.get("images"), list)
            and isinstance(data.get("annotations"), list)):
        skipped.append(Skipped(file.name, "bad manifest line (not COCO captions: no lists "
                                          "'images' and 'annotations')"))
        return None
    by_image: dict[Any, list[str]] = {}
    for number, record in enumerate(data["annotations"]):
        try:
            image_id, caption = _annotation(record)
        except BadRecord as error:
            skipped.append(Skipped(f"{file.name} annotations[{number}]",
                                   str(error)))
            continue
        by_image.setdefault(image_id, []).append(caption)
    return data["images"], by_image


class _Scan:
    """What one scan gathers across the captions files it reads."""

    def __init__(self, root: Path, options: SourceOptions) -> None:
        self.root, self.options, self.keep = root, options, KeepWords(options.keep_words)
        self.finders: dict[Path, ImageFinder] = {}  # one index of image files per dataset folder
        self.kept: dict[Path, str] = {}  # real path of each entry's image -> its record
        self.entries: list[Entry] = []
        self.skipped: list[Skipped] = []

    def finder(self, data_root: Path) -> ImageFinder:
        if data_root not in self.finders:
            self.finders[data_root] = ImageFinder(data_root, self.options.allow_outside_root,
                                                  self.skipped)
        return self.finders[data_root]

    def read(self, file: Path) -> None:
        loaded = _load(file, self.skipped)
        if loaded is None:
            return
        images, by_image = loaded
        data_root, split = _dataset_root(file), file.stem[len("captions_"):]
        listed: dict[Any, int] = {}  # image id -> the record that listed it first
        for number, record in enumerate(images):
            where = f"{file.name} images[{number}]"
            try:
                image_id, file_name = _image(record)
            except BadRecord as error:
                self.skipped.append(Skipped(where, str(error)))
                continue
            name = file_name or f"{file.name} image {image_id}"
            if image_id in listed:
                self.skipped.append(Skipped(name, f"duplicate (of images[{listed[image_id]}])"))
                continue
            listed[image_id] = number
            self.add(name, file_name, image_id, clean_captions(by_image.pop(image_id, [])),
                     data_root, split, where)
        # what is left in by_image are captions of ids the "images" list never named
        for image_id, texts in by_image.items():
            captions = clean_captions(texts)
            if captions and self.keep(captions):
                self.skipped.append(Skipped(f"{file.name} image_id {image_id}",
                                            "caption with no image"))

    def add(self, name: str, file_name: str, image_id: int | str, captions: list[str],
            data_root: Path, split: str, where: str) -> None:
        if not captions:
            self.skipped.append(Skipped(name, "no caption"))
            return
        if not self.keep(captions):
            return  # not selected: no problem to report
        try:
            if not file_name:
                raise BadRecord("caption with no image")
            finder = self.finder(data_root)
            found = finder.find(file_name, split)
        except BadRecord as error:
            self.skipped.append(Skipped(name, str(error)))
            return
        real = finder.inside.real(found)
        if real in self.kept:
            self.skipped.append(Skipped(name, f"duplicate (of {self.kept[real]})"))
            return
        self.kept[real] = where
        self.entries.append(Entry(relative_name(found, data_root), captions,
                                  {"coco_id": image_id}, str(found)))


def scan(path: Path, options: SourceOptions) -> Source:
    files = _files(path)
    if not files:
        raise UserError(f"{path}: no COCO captions file ({PATTERN}) in it or in its "
                        "annotations/ folder")
    root = path if path.is_dir() else _dataset_root(path)
    found, inside = _Scan(root, options), Inside(root, options.allow_outside_root)
    for file in files:
        if path.is_dir() and not inside(file):  # a file named in --data is the user's choice
            found.skipped.append(Skipped(file.name, OUTSIDE))
        else:
            found.read(file)
    return Source(root, "coco", found.entries, read_file, found.skipped)
