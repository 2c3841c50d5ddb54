"""CSV manifests: one row per image, or one row per caption (several rows name the same image).

    DIR/labels.csv           file,class_name,caption_template        (Stanford Cars here)
    DIR/captions.txt         image,caption                           (Flickr8k, Kaggle style)
    DIR/captions_all.csv     split,file,caption                      (COCO slices)
    DIR/**/<image files>     found by the path in the row, under DIR/<split>/, or by base name

Columns are found by name (`IMAGE_COLUMNS`, ...) or given with --image-column, --caption-column and
--label-column. The label column becomes the extra "label" (TAC-GAN's class); the other columns of
an image's first row are kept as extras too. `--data` may also name the CSV file itself.
"""

from __future__ import annotations

import csv
from pathlib import Path

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

IMAGE_COLUMNS = ("file_name", "file", "filename", "image", "image_name", "image_path", "path",
                 "img")
CAPTION_COLUMNS = ("caption", "captions", "text", "description", "sentence", "prompt",
                   "caption_template")
LABEL_COLUMNS = ("label", "class_name", "class", "breed", "category", "species")
SUFFIXES = (".csv", ".tsv", ".txt")


def _header(file: Path) -> list[str]:
    try:
        with open(file, newline="", encoding="utf-8-sig") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError):
        return []
    return [c.strip().lower() for c in first.rstrip("\r\n").split("\t" if "\t" in first else ",")]


def read_table(file: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV (or tab-separated) file with a header -> (lower-cased column names, rows as dicts)."""
    with open(file, newline="", encoding="utf-8-sig") as handle:
        first = handle.readline()
        handle.seek(0)
        reader = csv.DictReader(handle, delimiter="\t" if "\t" in first else ",")
        reader.fieldnames = [c.strip().lower() for c in reader.fieldnames or []]
        return reader.fieldnames, list(reader)


def _manifests(path: Path, options: SourceOptions) -> list[Path]:
    """CSV-like files at the top of path whose header has an image column."""
    if path.is_file():
        return [path] if path.suffix.lower() in SUFFIXES else []
    wanted = [options.image_column.lower()] if options.image_column else IMAGE_COLUMNS
    return sorted(f for f in path.iterdir() if f.suffix.lower() in SUFFIXES and f.is_file()
                  and any(c in _header(f) for c in wanted))


def detect(path: Path) -> bool:
    return bool(_manifests(path, SourceOptions()))


def _column(header: list[str], given: str | None, candidates: tuple[str, ...], what: str,
            file: Path) -> str | None:
    if given:
        if given.lower() not in header:
            raise UserError(f"{file} has no column {given!r} (its columns: {', '.join(header)})")
        return given.lower()
    found = next((c for c in candidates if c in header), None)
    if found is None and what != "label":
        flag = f"--{what}-column"
        raise UserError(f"{file}: no {what} column found among {', '.join(header)}; name it "
                        f"with {flag}")
    return found


def _value(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def scan(path: Path, options: SourceOptions) -> Source:
    files = _manifests(path, options)
    if not files:
        raise UserError(f"{path}: no CSV manifest with an image column "
                        f"({', '.join(IMAGE_COLUMNS)})")
    if len(files) > 1:
        raise UserError(f"{path} holds several manifests ({', '.join(f.name for f in files)}); "
                        "pass one as --data")
    file = files[0]
    root = file.parent
    header, table = read_table(file)
    image_col = _column(header, options.image_column, IMAGE_COLUMNS, "image", file)
    caption_col = _column(header, options.caption_column, CAPTION_COLUMNS, "caption", file)
    label_col = _column(header, options.label_column, LABEL_COLUMNS, "label", file)
    rows: dict[str, list[dict]] = {}
    for row in table:  # rows of one image are grouped, in first-seen order
        name = (row.get(image_col) or "").strip()
        if name:
            rows.setdefault(name, []).append(row)
    finder = ImageFinder(root)
    entries, skipped = [], []
    for name, group in rows.items():
        image = finder.find(name, (group[0].get("split") or "").strip())
        captions = clean_captions([r.get(caption_col) for r in group])
        if image is None:
            skipped.append(Skipped(name, "caption with no image"))
            continue
        if not captions:
            skipped.append(Skipped(name, "no caption"))
            continue
        first = group[0]
        extras = {k: _value(v.strip()) for k, v in first.items()
                  if k not in (image_col, caption_col) and v}
        if label_col and first.get(label_col):
            extras["label"] = first[label_col].strip()
        entries.append(Entry(str(image.relative_to(root)), captions, extras, str(image)))
    skipped += [Skipped(str(p.relative_to(root)), "no caption") for p in finder.unlisted()]
    return Source(root, "csv", entries, read_file, skipped)
