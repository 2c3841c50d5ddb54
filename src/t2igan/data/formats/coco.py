"""COCO captions: `captions_<split>.json` files and the image folders they name.

    DIR/annotations/captions_train2017.json
    DIR/annotations/captions_val2017.json
        {"images": [{"id": 9, "file_name": "000000000009.jpg"}],
         "annotations": [{"image_id": 9, "caption": "..."}, ...]}
    DIR/train2017/000000000009.jpg ...   found under DIR/<split>/, by the path, or by base name

The JSON may also sit in DIR itself, or --data may name one JSON file. Every captions_*.json
found is read. --keep-words "cat,kitten" keeps only the images one of whose captions has one of
the words (whole words, any case; "teddy bear" matches the two words in a row): the others are
not selected, so they are not reported as skipped. The COCO image id is the extra "coco_id".
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from t2igan.data.sources import (
    Entry,
    ImageFinder,
    Skipped,
    Source,
    SourceOptions,
    clean_captions,
    read_file,
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


def _load(file: Path, skipped: list[Skipped]) -> tuple[list[dict], dict[Any, list[str]]] | None:
    """(image records, image id -> its captions), or None (and a skip) if the file is unusable."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        images = [im for im in data["images"] if isinstance(im, dict)]
        annotations = data["annotations"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        skipped.append(Skipped(file.name, f"bad manifest line (not COCO captions: "
                                          f"{type(error).__name__}: {error})"))
        return None
    by_image: dict[Any, list[str]] = {}
    for annotation in annotations:
        if isinstance(annotation, dict) and "image_id" in annotation:
            by_image.setdefault(annotation["image_id"], []).append(annotation.get("caption"))
    return images, by_image


def scan(path: Path, options: SourceOptions) -> Source:
    files = _files(path)
    if not files:
        raise UserError(f"{path}: no COCO captions file ({PATTERN}) in it or in its "
                        "annotations/ folder")
    keep = KeepWords(options.keep_words)
    root = path if path.is_dir() else _dataset_root(path)
    finders: dict[Path, ImageFinder] = {}  # one index of the image files per dataset folder
    entries: list[Entry] = []
    skipped: list[Skipped] = []
    for file in files:
        loaded = _load(file, skipped)
        if loaded is None:
            continue
        images, by_image = loaded
        data_root = _dataset_root(file)
        finder = finders.get(data_root) or finders.setdefault(data_root, ImageFinder(data_root))
        split = file.stem[len("captions_"):]
        for image in images:
            file_name, image_id = str(image.get("file_name") or ""), image.get("id")
            captions = clean_captions(by_image.pop(image_id, []))
            name = file_name or f"{file.name} image {image_id}"
            if not captions:
                skipped.append(Skipped(name, "no caption"))
                continue
            if not keep(captions):
                continue  # not selected: no problem to report
            found = finder.find(file_name, split) if file_name else None
            if found is None:
                skipped.append(Skipped(name, "caption with no image"))
                continue
            entries.append(Entry(str(found.relative_to(data_root)), captions, {"coco_id": image_id},
                                 str(found)))
        # what is left in by_image are captions of ids the "images" list never named
        for image_id, texts in by_image.items():
            captions = clean_captions(texts)
            if captions and keep(captions):
                skipped.append(Skipped(f"{file.name} image_id {image_id}", "caption with no image"))
    return Source(root, "coco", entries, read_file, skipped)
