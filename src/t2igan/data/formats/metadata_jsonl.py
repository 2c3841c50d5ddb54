"""Hugging Face imagefolder's manifest: `metadata.jsonl` beside the images.

    DIR/metadata.jsonl     {"file_name": "0001.png", "text": "a red car"}      (text: a string or a list)
                           other keys ({"label": "sedan", ...}) become extras
    DIR/0001.png ...       paths relative to DIR
"""

from __future__ import annotations

import json
from pathlib import Path

from t2igan.data.sources import Entry, Skipped, Source, SourceOptions, clean_captions, read_file

MANIFEST = "metadata.jsonl"


def detect(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def scan(path: Path, options: SourceOptions) -> Source:
    entries, skipped = [], []
    for number, line in enumerate((path / MANIFEST).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            name, text = str(record.pop("file_name")), record.pop("text", None)
        except (json.JSONDecodeError, KeyError, AttributeError) as error:
            skipped.append(Skipped(f"{MANIFEST} line {number}", f"bad manifest line (no file_name: {error})"))
            continue
        captions = clean_captions([text] if isinstance(text, str) else list(text or []))
        file = path / name
        if not file.is_file():
            skipped.append(Skipped(name, "caption with no image"))
        elif not captions:
            skipped.append(Skipped(name, "no caption"))
        else:
            entries.append(Entry(name, captions, record, str(file)))
    return Source(path, "metadata-jsonl", entries, read_file, skipped)
