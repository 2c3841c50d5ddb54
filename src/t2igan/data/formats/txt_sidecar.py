"""Per-image caption files (the CUB / LAFITE style): each image with a .txt of the same name.

    DIR/**/0001.jpg
    DIR/**/0001.txt        one caption per line

An image in a sub-folder gets that folder's name as the extra "label".
"""

from __future__ import annotations

from pathlib import Path

from t2igan.data.sources import (
    Entry,
    Skipped,
    Source,
    SourceOptions,
    clean_captions,
    image_files,
    read_file,
)


def detect(path: Path) -> bool:
    return path.is_dir() and any(p.with_suffix(".txt").is_file() for p in image_files(path))


def scan(path: Path, options: SourceOptions) -> Source:
    entries, skipped, images = [], [], image_files(path)
    stems = {p.with_suffix("") for p in images}
    for image in images:
        name, text_file = str(image.relative_to(path)), image.with_suffix(".txt")
        lines = (text_file.read_text(encoding="utf-8", errors="replace").splitlines()
                 if text_file.is_file() else [])
        captions = clean_captions(lines)
        if not captions:
            skipped.append(Skipped(name, "no caption" if text_file.is_file()
                                   else "no caption (no .txt beside it)"))
            continue
        extras = {"label": image.parent.name} if image.parent != path else {}
        entries.append(Entry(name, captions, extras, str(image)))
    for text_file in sorted(path.rglob("*.txt")):
        if text_file.with_suffix("") not in stems and text_file.parent != path:
            skipped.append(Skipped(str(text_file.relative_to(path)), "caption with no image"))
    return Source(path, "txt", entries, read_file, skipped)
