"""Hugging Face imagefolder's manifest: `metadata.jsonl` beside the images.

    DIR/metadata.jsonl   {"file_name": "0001.png", "text": "a red car"}  (text: a string or a list)
                         other keys ({"label": "sedan", ...}) become extras
    DIR/0001.png ...     paths relative to DIR
"""

from __future__ import annotations

from pathlib import Path

from t2igan.data.sources import (
    Source,
    SourceOptions,
    captions_field,
    jsonl_manifest,
    read_file,
    string_field,
)

MANIFEST = "metadata.jsonl"


def detect(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def _parse(record: dict) -> tuple[str, list[str], dict]:
    name = string_field(record, "file_name")
    captions = captions_field(record.get("text"), "text", allow_string=True)
    return name, captions, {k: v for k, v in record.items() if k not in ("file_name", "text")}


def scan(path: Path, options: SourceOptions) -> Source:
    entries, skipped = jsonl_manifest(path, MANIFEST, _parse, options)
    return Source(path, "metadata-jsonl", entries, read_file, skipped)
