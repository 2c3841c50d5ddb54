"""Hugging Face imagefolder's manifest: `metadata.jsonl` beside the images.

    DIR/metadata.jsonl   {"file_name": "0001.png", "text": "a red car"}  (text: a string or a list)
                         other keys ({"label": "sedan", ...}) become extras
    DIR/0001.png ...     paths relative to DIR
"""

from __future__ import annotations

from pathlib import Path

from t2igan.data.sources import Source, SourceOptions, clean_captions, jsonl_manifest, read_file

MANIFEST = "metadata.jsonl"


def detect(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def _parse(record: dict) -> tuple[str, list[str], dict]:
    name, text = str(record.pop("file_name")), record.pop("text", None)
    return name, clean_captions([text] if isinstance(text, str) else list(text or [])), record


def scan(path: Path, options: SourceOptions) -> Source:
    entries, skipped = jsonl_manifest(path, MANIFEST, _parse)
    return Source(path, "metadata-jsonl", entries, read_file, skipped)
