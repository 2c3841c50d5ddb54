"""CUB-200 / Oxford-102 as Reed et al. ship their captions: image folders plus `text_c10/`.

    DIR/text_c10/001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.txt
        10 captions, one a line
    DIR/CUB_200_2011/images/001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg
    DIR/text_c10/class_00001/image_06734.txt                                       (Oxford-102)
    DIR/jpg/image_06734.jpg

Every image under DIR outside text_c10/ is matched to the caption file of the same stem. The
caption file's class folder is the extra "label", "001.Black_footed_Albatross" read as
"Black footed Albatross" (Oxford's "class_00001" is kept as it is). Images in a folder named
segmentations/ are left out: CUB's masks share the photos' stems and are not photos.
"""

from __future__ import annotations

import re
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
    read_file,
)
from t2igan.errors import UserError

TEXT = "text_c10"
EXCLUDED = (TEXT, "segmentations")
NUMBERED = re.compile(r"^\d+\.(.+)$")


def detect(path: Path) -> bool:
    return (path / TEXT).is_dir()


def label_of(folder: str) -> str:
    """'001.Black_footed_Albatross' -> 'Black footed Albatross'; other names are kept."""
    numbered = NUMBERED.match(folder)
    return numbered.group(1).replace("_", " ") if numbered else folder


def _caption_files(text_dir: Path, inside: Inside,
                   skipped: list[Skipped]) -> dict[str, list[Path]]:
    """stem -> caption files with that stem (normally one); a symlink out of the dataset's
    folder is skipped."""
    found: dict[str, list[Path]] = {}
    for file in sorted(text_dir.rglob("*.txt")):
        if inside(file):
            found.setdefault(file.stem, []).append(file)
        else:
            skipped.append(Skipped(str(file.relative_to(text_dir.parent)), OUTSIDE))
    return found


def _pick(image: Path, files: list[Path]) -> Path:
    """Where two classes hold the same stem, prefer the one named like the image's folder."""
    return next((f for f in files if f.parent.name == image.parent.name), files[0])


def scan(path: Path, options: SourceOptions) -> Source:
    text_dir, inside = path / TEXT, Inside(path, options.allow_outside_root)
    if not text_dir.is_dir():
        raise UserError(f"{path}: no {TEXT}/ folder of caption files")
    if not inside(text_dir):
        raise UserError(f"{text_dir}: {OUTSIDE}")
    skipped: list[Skipped] = []
    by_stem = _caption_files(text_dir, inside, skipped)
    images = [p for p in image_files(path, options.allow_outside_root, skipped)
              if not any(part in EXCLUDED for part in p.relative_to(path).parts[:-1])]
    entries, used = [], set()
    for image in images:
        name = str(image.relative_to(path))
        files = by_stem.get(image.stem)
        if not files:
            skipped.append(Skipped(name, f"no caption (no {TEXT}/*/{image.stem}.txt)"))
            continue
        text_file = _pick(image, files)
        used.add(text_file)
        try:
            captions = caption_lines(text_file, str(text_file.relative_to(path)), skipped)
        except BadRecord as error:
            skipped.append(Skipped(name, str(error)))
            continue
        if not captions:
            skipped.append(Skipped(name, "no caption"))
            continue
        folder = text_file.parent
        extras = {"label": label_of(folder.name)} if folder != text_dir else {}
        entries.append(Entry(name, captions, extras, str(image)))
    skipped += [Skipped(str(f.relative_to(path)), "caption with no image")
                for files in by_stem.values() for f in files if f not in used]
    return Source(path, "cub", entries, read_file, skipped)
