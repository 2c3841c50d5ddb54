"""Per-image caption files (the CUB / LAFITE style): each image with a .txt of the same name.

    DIR/**/0001.jpg
    DIR/**/0001.txt        one caption per line

An image in a sub-folder gets that folder's name as the extra "label".
"""

from __future__ import annotations

from pathlib import Path

from t2igan.data.sources import (
    OUTSIDE,
    BadRecord,
    Entry,
    Inside,
    Skipped,
    Source,
    SourceOptions,
    caption_lines,
    image_files,
    is_file,
    read_file,
)


def detect(path: Path) -> bool:
    return path.is_dir() and any(p.with_suffix(".txt").is_file() for p in image_files(path))


def _captions(image: Path, path: Path, inside: Inside, skipped: list[Skipped]) -> list[str]:
    """The captions in the .txt beside image; BadRecord with the reason there are none."""
    text_file = image.with_suffix(".txt")
    if not is_file(text_file):
        raise BadRecord("no caption (no .txt beside it)")
    if not inside(text_file):
        raise BadRecord(OUTSIDE)
    captions = caption_lines(text_file, str(text_file.relative_to(path)), skipped)
    if not captions:
        raise BadRecord("no caption")
    return captions


def scan(path: Path, options: SourceOptions) -> Source:
    skipped: list[Skipped] = []
    entries, images = [], image_files(path, options.allow_outside_root, skipped)
    inside, stems = Inside(path, options.allow_outside_root), {p.with_suffix("") for p in images}
    for image in images:
        name = str(image.relative_to(path))
        try:
            captions = _captions(image, path, inside, skipped)
        except BadRecord as error:
            skipped.append(Skipped(name, str(error)))
            continue
        extras = {"label": image.parent.name} if image.parent != path else {}
        entries.append(Entry(name, captions, extras, str(image)))
    for text_file in sorted(path.rglob("*.txt")):
        if text_file.with_suffix("") not in stems and text_file.parent != path:
            skipped.append(Skipped(str(text_file.relative_to(path)), "caption with no image"))
    return Source(path, "txt", entries, read_file, skipped)
