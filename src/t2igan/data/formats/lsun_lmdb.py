"""LSUN databases: LMDB environments mapping keys to encoded images (as torchvision's LSUN
reads them).

    DIR/data.mdb, DIR/lock.mdb               one database; DIR's name gives the label
    DIR/cat_train_lmdb/data.mdb              or several, one per category:
    DIR/car_train_lmdb/data.mdb ...          label "cat", "car" (_lmdb, _train, _val removed)

Captions come from --captions-file when given, a CSV (key,caption; several rows per key allowed)
or a JSONL ({"key": ..., "captions": [...]} or {"key": ..., "text": ...}) whose keys are the
database keys (or "<db folder>/<key>" when categories share keys); keys it leaves out are
skipped. Without it every image gets --caption-template, "a photo of a {label}" by default.
The label is kept as the extra "label".
"""

from __future__ import annotations

import os
from pathlib import Path

import lmdb

from t2igan.data.formats.csv_manifest import CAPTION_COLUMNS, read_table
from t2igan.data.sources import (
    OUTSIDE,
    BadLine,
    BadRecord,
    Entry,
    Inside,
    Skipped,
    Source,
    SourceOptions,
    caption_from_template,
    captions_field,
    clean_captions,
    decode_lines,
    is_file,
    json_value,
    kind,
    read_manifest,
)
from t2igan.errors import UserError

DEFAULT_TEMPLATE = "a photo of a {label}"
LABEL_SUFFIXES = ("_lmdb", "_train", "_val")
KEY_COLUMNS = ("key", "image", "file", "file_name", "filename", "image_id", "id")


# path -> (process id, environment). py-lmdb refuses to open one database twice in a process, so
# scanning and every reader share this per-process cache; being module state, it is never pickled.
_ENVS: dict[str, tuple[int, lmdb.Environment]] = {}


def environment(path: str) -> lmdb.Environment:
    """The database at path, opened read-only once per process."""
    key, pid = str(Path(path).resolve()), os.getpid()
    held = _ENVS.get(key)
    if held and held[0] == pid:
        return held[1]
    if held:
        # inherited through fork(): LMDB handles must not cross one; closing here leaves
        # the parent's
        held[1].close()
    # lock=False: LSUN databases are read-only and often on read-only media; no lock file is
    # written.
    env = lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False)
    _ENVS[key] = (pid, env)
    return env


def read_key(ref: tuple[str, bytes]) -> bytes:
    """ref (database path, key bytes) -> the encoded image stored under the key."""
    path, key = ref
    try:
        with environment(path).begin() as txn:
            data = txn.get(key)
    except lmdb.Error as error:  # CaptionedImages reports OSError as an unreadable file
        raise OSError(f"{path}: {error}") from None
    if data is None:
        raise OSError(f"key {key!r} is not in {path}")
    return data


def label_of(folder: str) -> str:
    """'cat_train_lmdb' -> 'cat' (the suffixes may come in any order)."""
    label, changed = folder, True
    while changed:
        changed = False
        for suffix in LABEL_SUFFIXES:
            if label.endswith(suffix) and len(label) > len(suffix):
                label, changed = label[: -len(suffix)], True
    return label


def _databases(path: Path) -> list[Path]:
    if not path.is_dir():
        return []
    if (path / "data.mdb").is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_dir() and (p / "data.mdb").is_file())


def detect(path: Path) -> bool:
    return bool(_databases(path))


def _json_captions(record: object) -> tuple[str, list[str]]:
    """(key, captions) of one JSONL line."""
    if not isinstance(record, dict):
        raise BadLine(f"not a JSON object, got {kind(record)}")
    key = record.get("key")
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise BadLine(f"key must be a string, got {kind(key)}")
    field = "captions" if "captions" in record else "text"
    return str(key), captions_field(record.get(field), field, allow_string=True)


def _read_captions(file: Path, skipped: list[Skipped]) -> dict[str, list[str]]:
    """key -> captions from a CSV or JSONL captions file (see the module docstring). Lines of one
    key add up, in either kind of file: captions keyed by image are often one a line."""
    captions: dict[str, list[str]] = {}
    if file.suffix.lower() in (".jsonl", ".json"):
        for number, line in decode_lines(read_manifest(file), file.name, skipped):
            if not line.strip():
                continue
            try:
                key, texts = _json_captions(json_value(line))
            except BadRecord as error:
                skipped.append(Skipped(f"{file.name} line {number}", str(error)))
                continue
            captions.setdefault(key, []).extend(texts)
        return captions
    header, rows = read_table(file, skipped)
    key_col = next((c for c in KEY_COLUMNS if c in header), None)
    caption_col = next((c for c in CAPTION_COLUMNS if c in header), None)
    if key_col is None or caption_col is None:
        raise UserError(f"--captions-file {file}: needs a key column ({', '.join(KEY_COLUMNS)}) "
                        f"and a caption column ({', '.join(CAPTION_COLUMNS)}); its columns: "
                        f"{', '.join(header)}")
    for _, row in rows:
        key = (row.get(key_col) or "").strip()
        if key:
            captions.setdefault(key, []).append(row.get(caption_col))
    return captions


def _captions_file(path: Path, given: str) -> Path:
    for candidate in (Path(given), path / given):
        if is_file(candidate):
            return candidate
    raise UserError(f"--captions-file {given!r} does not exist")


def _keys(db: Path) -> list[bytes]:
    """Every key of a database; lmdb.Error if it is not one."""
    with environment(str(db)).begin() as txn:
        # keys only: iterating values would read every image of a multi-gigabyte database
        return [bytes(key) for key in txn.cursor().iternext(keys=True, values=False)]


def _entries(db: Path, by_key: dict[str, list[str]] | None, template: str, used: set[str],
             skipped: list[Skipped]) -> list[Entry]:
    label, entries = label_of(db.name), []
    default = [caption_from_template(template, label)]
    try:
        keys = _keys(db)
    except lmdb.Error as error:  # one bad database among several costs only itself
        skipped.append(Skipped(db.name, f"unreadable file (not an LMDB database: {error})"))
        return []
    for key in keys:
        text_key = key.decode("utf-8", errors="backslashreplace")
        name = f"{db.name}/{text_key}"
        if by_key is None:
            captions = default
        else:  # "<db folder>/<key>" first: categories may share keys
            found = name if name in by_key else text_key
            used.add(found)
            captions = clean_captions(by_key.get(found, []))
        if captions:
            entries.append(Entry(name, list(captions), {"label": label}, (str(db), key)))
        else:
            skipped.append(Skipped(name, "no caption"))
    return entries


def scan(path: Path, options: SourceOptions) -> Source:
    databases = _databases(path)
    if not databases:
        raise UserError(f"{path}: no LMDB database (data.mdb) in it or in its sub-folders")
    skipped: list[Skipped] = []
    # the captions file is named by a flag, the user's own choice: it may lie anywhere
    by_key = (_read_captions(_captions_file(path, options.captions_file), skipped)
              if options.captions_file else None)
    template = options.caption_template or DEFAULT_TEMPLATE
    inside = Inside(path, options.allow_outside_root)
    entries: list[Entry] = []
    used: set[str] = set()
    for db in databases:
        if inside(db / "data.mdb"):
            entries += _entries(db, by_key, template, used, skipped)
        else:
            skipped.append(Skipped(db.name, OUTSIDE))
    if by_key is not None:
        skipped += [Skipped(key, "caption with no image") for key in by_key if key not in used]
    return Source(path, "lmdb", entries, read_key, skipped)
