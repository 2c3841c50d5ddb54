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

import codecs
import csv
import math
from collections.abc import Iterator
from pathlib import Path

from t2igan.data.sources import (
    BadRecord,
    Entry,
    ImageFinder,
    Inside,
    Skipped,
    Source,
    SourceOptions,
    clean_captions,
    decode_lines,
    read_file,
    read_manifest,
    relative_name,
)
from t2igan.errors import UserError

IMAGE_COLUMNS = ("file_name", "file", "filename", "image", "image_name", "image_path", "path",
                 "img")
CAPTION_COLUMNS = ("caption", "captions", "text", "description", "sentence", "prompt",
                   "caption_template")
LABEL_COLUMNS = ("label", "class_name", "class", "breed", "category", "species")
SUFFIXES = (".csv", ".tsv", ".txt")


def _header(file: Path) -> list[str]:
    """The column names on a file's first line, read leniently: a bad byte further on must not
    hide the manifest from detection (the scan skips that line and says why)."""
    try:
        with open(file, "rb") as handle:
            first = handle.readline(1 << 16)
    except OSError:
        return []
    text = first.removeprefix(codecs.BOM_UTF8).decode("utf-8", errors="replace").rstrip("\r\n")
    return [c.strip().lower() for c in text.split("\t" if "\t" in text else ",")]


MAX_ROW_LINES = 20  # a quoted caption may span lines; an unclosed quote must not eat the file


def _cells(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter, strict=True), [])


def _records(lines: list[tuple[int, str]], delimiter: str, width: int, file: Path,
             skipped: list[Skipped]) -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) for each CSV record. A record is one line, or several while a
    quoted field holds line breaks (its quotes are then odd in number; "" counts twice). A record
    that does not parse, or has more cells than the header's `width`, costs its first line only:
    reading goes on at the next line, so the rows a stray quote would have joined are read alone.
    """
    start = 0
    while start < len(lines):
        number, text, end = lines[start][0], lines[start][1], start
        while text.count('"') % 2 and end + 1 < len(lines) and end - start < MAX_ROW_LINES:
            end += 1
            text += "\n" + lines[end][1]
        try:
            if text.count('"') % 2:
                raise csv.Error("a quote is never closed")
            cells = _cells(text, delimiter)  # csv.Error: a stray quote, a field over 128 KiB
            if any(c.strip() for c in cells[width:]):
                raise csv.Error(f"{len(cells)} cells, the header has {width}: quote a caption "
                                "that holds the delimiter")
        except csv.Error as error:
            skipped.append(Skipped(f"{file.name} line {number}", f"bad manifest line ({error})"))
            start += 1
            continue
        yield number, cells
        start = end + 1


def read_table(file: Path, skipped: list[Skipped]) -> tuple[list[str], list[tuple[int, dict]]]:
    """A CSV (or tab-separated) file with a header -> (lower-cased column names, (line number,
    row as a dict) for each row).

    A caption in quotes may hold line breaks, but a stray quote costs one line, not every row
    after it. A line that is not UTF-8, not CSV, or has more cells than the header (an unquoted
    comma inside a caption) is skipped with its number.
    """
    lines = decode_lines(read_manifest(file), file.name, skipped)
    if not lines:
        return [], []
    if lines[0][0] != 1:
        raise UserError(f"{file}: the header line is not UTF-8 text")
    delimiter = "\t" if "\t" in lines[0][1] else ","
    try:
        header = [c.strip().lower() for c in _cells(lines[0][1], delimiter)]
    except csv.Error as error:
        raise UserError(f"{file}: the header line is not CSV ({error})") from None
    rows = [(number, dict(zip(header, cells)))
            for number, cells in _records(lines[1:], delimiter, len(header), file, skipped)
            if any(c.strip() for c in cells)]
    return header, rows


def _manifests(path: Path, options: SourceOptions) -> list[Path]:
    """CSV-like files at the top of path whose header has an image column (and that lie in
    path: a symlink out of it is not read)."""
    if path.is_file():
        return [path] if path.suffix.lower() in SUFFIXES else []
    wanted = [options.image_column.lower()] if options.image_column else IMAGE_COLUMNS
    inside = Inside(path, options.allow_outside_root)
    return sorted(f for f in path.iterdir() if f.suffix.lower() in SUFFIXES and f.is_file()
                  and inside(f) and any(c in _header(f) for c in wanted))


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
    """'3' -> 3, '4.5' -> 4.5; anything else, 'nan' and '1e999' included, stays text."""
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        if math.isfinite(value):
            return value
    return text


def _rows_by_image(file: Path, table: list[tuple[int, dict]], image_col: str,
                   finder: ImageFinder,
                   skipped: list[Skipped]) -> list[tuple[Path, list[dict]]]:
    """(image, its rows) for each image found, in first-seen order. Rows naming one image (in any
    spelling) are one image with several captions: that is how a caption-per-row CSV (Flickr8k)
    lists them, so they are merged, not reported as duplicates."""
    groups: dict[Path, tuple[Path, list[dict]]] = {}  # by real path
    failed: set[str] = set()  # names already reported: a missing image is one skip, not five
    for number, row in table:
        name = (row.get(image_col) or "").strip()
        if not name:
            skipped.append(Skipped(f"{file.name} line {number}", "bad manifest line (no image)"))
            continue
        try:
            image = finder.find(name, (row.get("split") or "").strip())
        except BadRecord as error:
            if name not in failed:
                failed.add(name)
                skipped.append(Skipped(name, str(error)))
            continue
        groups.setdefault(finder.inside.real(image), (image, []))[1].append(row)
    return list(groups.values())


def scan(path: Path, options: SourceOptions) -> Source:
    files = _manifests(path, options)
    if not files:
        raise UserError(f"{path}: no CSV manifest with an image column "
                        f"({', '.join(IMAGE_COLUMNS)})")
    if len(files) > 1:
        raise UserError(f"{path} holds several manifests ({', '.join(f.name for f in files)}); "
                        "pass one as --data")
    file, skipped = files[0], []
    root = file.parent
    header, table = read_table(file, skipped)
    image_col = _column(header, options.image_column, IMAGE_COLUMNS, "image", file)
    caption_col = _column(header, options.caption_column, CAPTION_COLUMNS, "caption", file)
    label_col = _column(header, options.label_column, LABEL_COLUMNS, "label", file)
    finder = ImageFinder(root, options.allow_outside_root, skipped)
    entries = []
    for image, group in _rows_by_image(file, table, image_col, finder, skipped):
        first = group[0]
        captions = clean_captions([r.get(caption_col) for r in group])
        if not captions:
            skipped.append(Skipped(first[image_col].strip(), "no caption"))
            continue
        extras = {k: _value(v.strip()) for k, v in first.items()
                  if k not in (image_col, caption_col) and v}
        if label_col and first.get(label_col):
            extras["label"] = first[label_col].strip()
        entries.append(Entry(relative_name(image, root), captions, extras, str(image)))
    skipped += [Skipped(str(p.relative_to(root)), "no caption") for p in finder.unlisted()]
    return Source(root, "csv", entries, read_file, skipped)
