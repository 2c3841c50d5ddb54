"""The project's standard layout: a captioned folder.

    DIR/
      captions.jsonl          one JSON object per image, one per line:
                              {"file": "images/000000.png", "captions": ["a black cat", ...],
                               "attributes": {...}}      (attributes optional)
      images/000000.png ...   any format Pillow reads (PNG, JPEG, WebP...)

It is what `t2igan data synth` writes and what a user copies for their own photos: put the
images anywhere under DIR and list each with its captions.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image
from tqdm import tqdm

from t2igan.data.sources import (
    BadLine,
    Source,
    SourceOptions,
    captions_field,
    jsonl_manifest,
    mapping_field,
    read_file,
    string_field,
)
from t2igan.files import atomic_path, check_replaceable, mark_made_by

MANIFEST = "captions.jsonl"


def detect(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def _parse(record: dict) -> tuple[str, list[str], dict]:
    if "captions" not in record:  # a line that forgot them, not an image with none
        raise BadLine("no 'captions'")
    return (string_field(record, "file"), captions_field(record.get("captions"), "captions"),
            mapping_field(record.get("attributes"), "attributes"))


def scan(path: Path, options: SourceOptions) -> Source:
    entries, skipped = jsonl_manifest(path, MANIFEST, _parse, options)
    return Source(path, "captioned-folder", entries, read_file, skipped)


def write_captioned_folder(dataset: torch.utils.data.Dataset, out: str | Path,
                           num: int | None = None, progress: bool = True) -> Path:
    """Write the first `num` items of a (image, captions, extras) dataset as a captioned folder.

    The whole folder is written under a temporary name and renamed into place: a kill leaves the
    folder that was there, never new images under an old manifest. An existing folder is replaced
    only when it is empty or `t2igan data synth` made it."""
    out = Path(out)
    check_replaceable(out, "data synth")
    num = len(dataset) if num is None else num
    with atomic_path(out) as folder, \
            tqdm(total=num, desc=f"writing {out}", unit="img", disable=not progress) as bar:
        (folder / "images").mkdir(parents=True)
        records = []
        for index in range(num):
            image, captions, extras = dataset[index]
            name = f"images/{index:06d}.png"
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / name)
            records.append({"file": name, "captions": captions,
                            "attributes": _jsonable(extras)})
            bar.update(1)
        (folder / MANIFEST).write_text("".join(json.dumps(r) + "\n" for r in records),
                                       encoding="utf-8")
        mark_made_by(folder, "data synth")
    return out


def _jsonable(extras: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in extras.items()}
