"""Class folders with a caption template: `DIR/<label>/<image>`, captioned "a photo of a {label}".

    DIR/Cat/0.jpg, DIR/Dog/0.jpg ...       --caption-template "a photo of a {label}" (the default)

The label (underscores read as spaces) is also kept as the extra "label", TAC-GAN's class. A
folder that holds images directly is one class named after the folder itself.
"""

from __future__ import annotations

from pathlib import Path

from t2igan.data.decode import IMAGE_EXTENSIONS
from t2igan.data.sources import (
    OUTSIDE,
    Entry,
    Inside,
    Skipped,
    Source,
    SourceOptions,
    caption_from_template,
    read_file,
)

DEFAULT_TEMPLATE = "a photo of a {label}"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _class_dirs(path: Path) -> list[Path]:
    dirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    has_images = any(p.suffix.lower() in IMAGE_EXTENSIONS for p in _files(path))
    return ([path] if has_images else []) + dirs


def detect(path: Path) -> bool:
    return path.is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS
                                 for folder in _class_dirs(path) for p in _files(folder))


def scan(path: Path, options: SourceOptions) -> Source:
    template = options.caption_template or DEFAULT_TEMPLATE
    inside = Inside(path, options.allow_outside_root)
    entries, skipped = [], []
    for folder in _class_dirs(path):
        if not inside(folder):  # a symlinked class folder pointing elsewhere
            skipped.append(Skipped(f"{folder.name}/", OUTSIDE))
            continue
        label = folder.name
        caption = caption_from_template(template, label)
        for file in _files(folder):
            name = str(file.relative_to(path))
            if file.suffix.lower() not in IMAGE_EXTENSIONS:
                skipped.append(Skipped(name, f"not an image file type "
                                             f"({file.suffix or 'no extension'})"))
            elif not inside(file):
                skipped.append(Skipped(name, OUTSIDE))
            else:
                entries.append(Entry(name, [caption], {"label": label}, str(file)))
    return Source(path, "class-folders", entries, read_file, skipped)
