"""WebDataset tar shards: the members of one sample share a key (its path up to the first dot).

    DIR/shard-000000.tar    (or --data naming one .tar)
        00000001.jpg        the image (any extension in IMAGE_EXTENSIONS)
        00000001.json       {"captions": [...]} or {"text"/"caption": ...}; other keys are extras
        00000001.txt        captions, one per line (".caption" too); ".cls" gives the extra "label"

Scanning lists the tar headers only: an image is read later by seeking to its offset in the
shard, so shards are never extracted (a member named ../x is only a name). The image of a sample
is the member whose extension is an image type (0001.png, not 0001.seg.png); a second one is
skipped as a duplicate. A caption member that is not UTF-8 or not of the right shape is skipped
with its reason, and a shard cut short keeps the samples before the cut.

`pack` writes any source in this layout (`t2igan data pack`), keeping the original encoded bytes;
its .json holds {"captions", "extras", "name"}.
"""

from __future__ import annotations

import codecs
import io
import itertools
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm import tqdm

from t2igan.data.decode import IMAGE_EXTENSIONS, BadImage, decode_image
from t2igan.data.sources import (
    OUTSIDE,
    BadLine,
    BadRecord,
    Entry,
    Inside,
    Skipped,
    Source,
    SourceOptions,
    captions_field,
    clean_captions,
    decode_lines,
    json_value,
    kind,
    mapping_field,
    not_utf8,
)
from t2igan.errors import UserError
from t2igan.files import atomic_path, check_replaceable, mark_made_by

CAPTION_EXTS = ("txt", "caption")
CAPTION_FIELDS = ("captions", "text", "caption")  # of a .json member
# Pillow's format name -> the extension a shard member gets (MPO: multi-picture JPEGs from cameras).
PIL_EXTS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp",
            "TIFF": "tif", "PPM": "ppm"}


def read_member(ref: tuple[str, int, int]) -> bytes:
    """ref (shard path, data offset, size) -> the member's bytes."""
    path, offset, size = ref
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read(size)
    if len(data) != size:
        raise OSError(f"{path} is truncated ({len(data)} of {size} bytes at offset {offset})")
    return data


def _shards(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if path.suffix.lower() == ".tar" else []
    return sorted(p for p in path.glob("*.tar") if p.is_file()) if path.is_dir() else []


def detect(path: Path) -> bool:
    return bool(_shards(path))


def _split(member: str) -> tuple[str, str]:
    """'a/b.c/0001.seg.png' -> ('a/b.c/0001', 'seg.png'): the directory prefix belongs to the
    key."""
    folder, _, base = member.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext.lower()


def _bytes(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    return handle.read() if handle else b""


def _text(data: bytes) -> str:
    """A whole member as text; BadRecord naming the first byte that is not UTF-8."""
    try:
        return data.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRecord(not_utf8(data, error)) from None


def _from_json(record: Any, captions: list, extras: dict) -> None:
    if not isinstance(record, dict):
        raise BadLine(f"not a JSON object, got {kind(record)}")
    found = [captions_field(record.get(f), f, allow_string=True) for f in CAPTION_FIELDS]
    if "extras" in record:  # our own `pack` layout; "name" is the original file
        more = mapping_field(record["extras"], "extras")
    else:
        more = {k: v for k, v in record.items() if k not in CAPTION_FIELDS}
    captions.extend(c for texts in found for c in texts)  # all or nothing of a bad record
    extras.update(more)


def _label(text: str) -> int | str:
    label = text.strip()
    try:
        return int(label)
    except ValueError:  # not a number, or a number of thousands of digits
        return label


def _add_member(tar: tarfile.TarFile, shard: Path, member: tarfile.TarInfo, sample: dict,
                skipped: list[Skipped]) -> None:
    """Put one member into its sample: the image's place, captions, label or extras."""
    key, ext = _split(member.name)
    where = f"{shard.name}/{member.name}"
    if f".{ext}" in IMAGE_EXTENSIONS:
        if sample["image"] is None:
            sample["image"] = (str(shard), member.offset_data, member.size)
        else:
            skipped.append(Skipped(where, f"duplicate (a second image for {key})"))
        return
    if ext not in ("json", "cls", *CAPTION_EXTS):
        if Path(member.name).suffix.lower() not in IMAGE_EXTENSIONS:  # not 0001.seg.png
            sample["other"].append(f".{ext}")
        return
    try:
        if ext == "json":
            _from_json(json_value(_text(_bytes(tar, member))), sample["captions"],
                       sample["extras"])
        elif ext == "cls":
            sample["extras"]["label"] = _label(_text(_bytes(tar, member)))
        else:
            lines = decode_lines(_bytes(tar, member), where, skipped)
            sample["captions"] += [line for _, line in lines]
    except BadRecord as error:
        skipped.append(Skipped(where, str(error)))


def _scan_shard(shard: Path, entries: list[Entry], skipped: list[Skipped]) -> None:
    samples: dict[str, dict] = {}
    try:
        tar = tarfile.open(shard, "r:")  # uncompressed only: members must be readable at an offset
    except (tarfile.TarError, OSError) as error:
        skipped.append(Skipped(shard.name, f"bad manifest line (not an uncompressed tar: {error})"))
        return
    try:
        with tar:
            for member in tar:
                if member.isfile() and not member.issparse():
                    sample = samples.setdefault(_split(member.name)[0], {
                        "image": None, "captions": [], "extras": {}, "other": []})
                    _add_member(tar, shard, member, sample, skipped)
    except (tarfile.TarError, OSError, EOFError) as error:  # cut short: keep what came before
        skipped.append(Skipped(shard.name, f"corrupt or truncated ({type(error).__name__}: "
                                           f"{error})"))
    for key, sample in samples.items():
        name, captions = f"{shard.name}/{key}", clean_captions(sample["captions"])
        if sample["image"] is None:
            other = sample["other"]
            skipped.append(Skipped(name, f"not an image file type ({', '.join(other)})"
                                   if other and not captions else "caption with no image"))
        elif not captions:
            skipped.append(Skipped(name, "no caption"))
        else:
            entries.append(Entry(name, captions, sample["extras"], sample["image"]))


def scan(path: Path, options: SourceOptions) -> Source:
    shards = _shards(path)
    if not shards:
        raise UserError(f"{path}: no .tar shard found")
    entries: list[Entry] = []
    skipped: list[Skipped] = []
    inside = Inside(path if path.is_dir() else path.parent, options.allow_outside_root)
    for shard in shards:
        if path.is_dir() and not inside(shard):  # a shard named in --data is the user's choice
            skipped.append(Skipped(shard.name, OUTSIDE))
        else:
            _scan_shard(shard, entries, skipped)
    return Source(path, "webdataset", entries, read_member, skipped)
def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    # fixed mtime: the same data packs to the same bytes
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def _check(data: bytes) -> str:
    """The member extension for these encoded bytes; BadImage if they do not decode."""
    decode_image(data, (8, 8))  # a full decode: truncated files pass Image.open but fail here
    kind = Image.open(io.BytesIO(data)).format or "unknown"
    if kind not in PIL_EXTS:
        raise BadImage(f"not an image file type ({kind} is not stored in shards)")
    return PIL_EXTS[kind]


def _usable(source: Source, skipped: list[Skipped],
            progress: bool) -> Iterator[tuple[Entry, bytes, str]]:
    """(entry, encoded bytes, extension) of every entry that reads and decodes; the others are
    skipped."""
    for entry in tqdm(source.entries, desc="packing", unit="img", disable=not progress):
        try:
            data = source.read(entry.ref)
            yield entry, data, _check(data)
        except OSError as error:
            skipped.append(Skipped(entry.name, f"unreadable file ({error.strerror or error})"))
        except BadImage as error:
            skipped.append(Skipped(entry.name, error.reason))


def pack(source: Source, out: Path, shard_size: int = 1000, progress: bool = True) -> dict:
    """Write source's usable entries as out/shard-NNNNNN.tar; returns shards, images and the
    skipped.

    The folder is written whole under a temporary name and renamed into place: a kill never
    leaves new shards beside an earlier pack's. An existing folder is replaced only when it is
    empty or `t2igan data pack` made it."""
    out = Path(out)
    check_replaceable(out, "data pack")
    skipped: list[Skipped] = []
    usable = _usable(source, skipped, progress)
    written, shards = 0, 0
    with atomic_path(out) as folder:
        folder.mkdir()
        for first in usable:  # once per shard: the shard's loop takes the rest of its entries
            with tarfile.open(folder / f"shard-{shards:06d}.tar", "w") as tar:
                for entry, data, ext in itertools.chain([first],
                                                        itertools.islice(usable, shard_size - 1)):
                    key = f"{written:08d}"
                    record = {"captions": entry.captions, "extras": entry.extras,
                              "name": entry.name}
                    _add(tar, f"{key}.{ext}", data)
                    _add(tar, f"{key}.json", json.dumps(record, default=str).encode("utf-8"))
                    written += 1
            shards += 1
        mark_made_by(folder, "data pack")
    return {"shards": shards, "images": written, "skipped": skipped}
