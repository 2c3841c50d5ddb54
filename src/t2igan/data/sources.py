"""What every on-disk format becomes: a list of entries (image location, captions, extras).

A format module in `t2igan.data.formats` has two functions:

    detect(path) -> bool                       does this path look like my layout?
    scan(path, options) -> Source              list the entries; nothing is decoded yet

Scanning only reads manifests and directory listings, so it is fast and lists every problem it
can see without decoding (a caption with no image, an image with no caption...); images that
turn out corrupt are found later, when `CaptionedImages` decodes them. Both kinds land in the
same skip report.

Dataset files are untrusted: a bad record (not UTF-8, not JSON, a field of the wrong type, a name
outside the dataset's folder, a duplicate) is skipped with its reason, never a traceback nor a
silently wrong entry. The helpers below do that once for every format.
"""

from __future__ import annotations

import codecs
import importlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from t2igan.data.decode import IMAGE_EXTENSIONS
from t2igan.errors import UserError
from t2igan.prompts import clean_prompt
from t2igan.settings import check, setting

# Format name -> its module in t2igan.data.formats, in the order `detect_format` tries them:
# the most specific layouts first, class folders (any folder of images) last.
FORMATS = {
    "captioned-folder": "captioned_folder",  # captions.jsonl (the project's own)
    "metadata-jsonl": "metadata_jsonl",  # Hugging Face imagefolder's metadata.jsonl
    "lmdb": "lsun_lmdb",  # LSUN databases
    "cub": "cub",  # CUB-200 / Oxford-102 with text_c10/
    "coco": "coco",  # captions_*.json
    "csv": "csv_manifest",  # labels.csv, captions.txt, ...
    "webdataset": "webdataset_tar",  # tar shards (after the manifests: a stray .tar must not win)
    "txt": "txt_sidecar",  # image.jpg + image.txt
    "class-folders": "class_folders",  # <label>/<image> + --caption-template
}
OUTSIDE = "outside the dataset folder (pass --allow-outside-root to read it)"


@dataclass
class SourceOptions:
    """How to read a source where its layout leaves a choice (the `--format` family of flags)."""

    format: str = setting("auto", "the dataset's format; auto detects it", group="data",
                          choices=["auto", *FORMATS])
    image_column: str | None = setting(None, "CSV manifests: the column naming each image "
                                       "file (default: file_name, file, image...)", group="data")
    caption_column: str | None = setting(None, "CSV manifests: the column holding a caption "
                                         "(default: caption, text, caption_template...)",
                                         group="data")
    label_column: str | None = setting(None, "CSV manifests: the class column, kept as the label "
                                       "(default: label, class_name, breed...)", group="data")
    caption_template: str | None = setting(None, "class folders and LMDB: the caption made from "
                                           "each image's label (default: 'a photo of a {label}')",
                                           group="data")
    keep_words: str | None = setting(None, "COCO: keep only images whose captions have one of "
                                     "these comma-separated words, e.g. cat,kitten", group="data")
    captions_file: str | None = setting(None, "LMDB: a CSV or JSONL of captions keyed by image "
                                        "key (default: --caption-template)", group="data")
    allow_outside_root: bool = setting(False, "read files that a manifest or a symlink places "
                                       "outside the dataset's folder (by default they are "
                                       "skipped: a downloaded dataset must not read your other "
                                       "files)", group="data")

    def __post_init__(self) -> None:
        check(self)

    def source_options(self) -> SourceOptions:
        """Just these fields (a TrainConfig is a SourceOptions with more)."""
        return SourceOptions(**{f.name: getattr(self, f.name) for f in fields(SourceOptions)})


def printable(text: str) -> str:
    """Control characters and lone surrogates escaped ('a\\nb'): names in reports come from
    dataset files, and a hostile one must not write to the terminal that shows the report."""
    return text if text.isprintable() else "".join(c if c.isprintable() else ascii(c)[1:-1]
                                                   for c in text)


@dataclass
class Entry:
    name: str  # shown in reports: the path under the source's root, or a database key
    captions: list[str]
    extras: dict[str, Any]  # "label" and any other columns; {} where the source has none
    ref: Any  # where the encoded bytes are; the source's `read` understands it

    def __post_init__(self) -> None:
        self.name = printable(self.name)


@dataclass
class Skipped:
    name: str
    reason: str

    def __post_init__(self) -> None:
        self.name = printable(self.name)


class BadRecord(ValueError):
    """A manifest record (a line, a JSON object, a tar member) that cannot be used; the message is
    its skip reason."""


class BadLine(BadRecord):
    """A record whose content is malformed: the reason is 'bad manifest line (why)'."""

    def __init__(self, why: str) -> None:
        super().__init__(f"bad manifest line ({why})")


@dataclass
class Source:
    root: Path
    format: str
    entries: list[Entry]
    # picklable (loader workers call it): entry.ref -> bytes; OSError if unreadable
    read: Callable[[Any], bytes]
    skipped: list[Skipped] = field(default_factory=list)

    def summary(self) -> str:
        skipped = "; ".join(f"{n} {r}" for r, n in count_reasons(self.skipped).items()) or "none"
        return (f"{self.format} at {self.root}: {len(self.entries)} images, skipped "
                f"{len(self.skipped)} ({skipped})")


def count_reasons(skipped: list[Skipped]) -> dict[str, int]:
    """'corrupt or truncated (OSError: ...)' and friends, counted by kind (the text before ' ('
    or ':')."""
    return dict(Counter(s.reason.split(" (")[0].split(":")[0] for s in skipped).most_common())


def read_file(path: str) -> bytes:
    """The reader of every format whose images are files: ref is the file's path."""
    with open(path, "rb") as handle:
        return handle.read()


def is_file(path: Path) -> bool:
    """Path.is_file; False for names no file system takes (NUL bytes, too long)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def relative_name(path: Path, root: Path) -> str:
    """path as shown in reports: under root where it is (--allow-outside-root lets it not be)."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


class Inside:
    """Does a path, symlinks followed, lie inside root? Always true with --allow-outside-root.
    Each folder is resolved once (many files share few folders), each symlink on its own."""

    def __init__(self, root: Path, allow_outside: bool = False) -> None:
        self.root, self.allow, self.folders = root.resolve(), allow_outside, {}

    def real(self, path: Path) -> Path:
        """path with every symlink followed; OSError, RuntimeError (a loop) or ValueError if the
        name cannot be resolved."""
        if path.is_symlink() or path.name in ("", ".."):
            return path.resolve()
        if path.parent not in self.folders:
            self.folders[path.parent] = path.parent.resolve()
        return self.folders[path.parent] / path.name

    def __call__(self, path: Path) -> bool:
        if self.allow:
            return True
        try:
            return self.real(path).is_relative_to(self.root)
        except (OSError, RuntimeError, ValueError):
            return False


def image_files(root: Path, allow_outside: bool = False,
                skipped: list[Skipped] | None = None) -> list[Path]:
    """Every file under root with an image extension, sorted (hidden folders and files skipped);
    a symlink leading outside root is left out, and reported in `skipped` when given."""
    inside, found = Inside(root, allow_outside), []
    for path in root.rglob("*"):
        if (path.suffix.lower() not in IMAGE_EXTENSIONS or not is_file(path)
                or any(part.startswith(".") for part in path.relative_to(root).parts)):
            continue
        if inside(path):
            found.append(path)
        elif skipped is not None:
            skipped.append(Skipped(str(path.relative_to(root)), OUTSIDE))
    return sorted(found)


class ImageFinder:
    """Finds the file a manifest names: as a path under root, under root/<split>, or by its base
    name.

    Manifests name images in many ways ("cars_train/00001.jpg", "00001.jpg" with the folder
    implied, "train2017" in another column); the base-name index finds them all when unique.
    """

    def __init__(self, root: Path, allow_outside: bool = False,
                 skipped: list[Skipped] | None = None) -> None:
        self.root, self.inside = root, Inside(root, allow_outside)
        self.by_name: dict[str, list[Path]] = {}
        for path in image_files(root, allow_outside, skipped):
            self.by_name.setdefault(path.name, []).append(path)
        self.used: set[Path] = set()  # real paths: "a.png" and "sub/../a.png" are one file

    def find(self, name: str, folder: str = "") -> Path:
        """The image `name` means; BadRecord if there is none or it lies outside root."""
        for candidate in (self.root / name, self.root / folder / name):
            if is_file(candidate):
                if not self.inside(candidate):
                    raise BadRecord(OUTSIDE)
                self.used.add(self.inside.real(candidate))
                return candidate
        # a name from another machine ("/home/me/cars/00001.jpg") is found by its base name
        matches = self.by_name.get(Path(name).name, [])
        if len(matches) == 1:
            self.used.add(self.inside.real(matches[0]))
            return matches[0]
        raise BadRecord("caption with no image")

    def unlisted(self) -> list[Path]:
        """Images under root that no manifest row named (reported as images with no caption)."""
        return [p for paths in self.by_name.values() for p in paths
                if self.inside.real(p) not in self.used]


def decode_lines(data: bytes, where: str, skipped: list[Skipped]) -> list[tuple[int, str]]:
    """(line number, text) of each line of a text file's bytes; a line that is not UTF-8 is
    skipped with its first bad byte named, so that one bad line never costs the rest of the
    file. A byte-order mark at the start is dropped."""
    lines = []
    for number, raw in enumerate(data.removeprefix(codecs.BOM_UTF8).splitlines(), 1):
        try:
            lines.append((number, raw.decode("utf-8")))
        except UnicodeDecodeError as error:
            skipped.append(Skipped(f"{where} line {number}", not_utf8(raw, error)))
    return lines


def not_utf8(data: bytes, error: UnicodeDecodeError) -> str:
    """The skip reason for bytes that are not UTF-8: 'not UTF-8 (byte 0xe9 at column 11)'."""
    at = error.start
    line, column = data.count(b"\n", 0, at) + 1, at - data.rfind(b"\n", 0, at)  # 1-based
    where = f"column {column}" if line == 1 else f"line {line}, column {column}"
    return f"not UTF-8 (byte 0x{data[at]:02x} at {where})"


def read_manifest(file: Path) -> bytes:
    """The bytes of a file the whole dataset depends on; a one-line UserError if unreadable."""
    try:
        return file.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read {file}: {error.strerror or error}") from None


def caption_lines(file: Path, where: str, skipped: list[Skipped]) -> list[str]:
    """The captions of a text file, one a line (.txt sidecars, CUB); BadRecord if unreadable."""
    try:
        data = file.read_bytes()
    except OSError as error:
        raise BadRecord(f"unreadable file ({error.strerror or error})") from None
    return clean_captions([line for _, line in decode_lines(data, where, skipped)])


def kind(value: Any) -> str:
    """A JSON value's type in a reason: 'str', 'null', 'list', 'list of int' (not all strings)."""
    if isinstance(value, list):
        odd = sorted({kind(v) for v in value if not isinstance(v, str)})
        return "list of " + "/".join(odd) if odd else "list"
    return "null" if value is None else type(value).__name__


def json_value(text: str) -> Any:
    """json.loads; BadRecord for text that is not JSON (or nested past Python's recursion)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        raise BadLine(f"not JSON: {type(error).__name__}: {str(error)[:200]}") from None


def string_field(record: dict, key: str) -> str:
    if key not in record:
        raise BadLine(f"no {key!r}")
    if not isinstance(record[key], str):
        raise BadLine(f"{key} must be a string, got {kind(record[key])}")
    return record[key]


def captions_field(value: Any, key: str, allow_string: bool = False) -> list[str]:
    """A record's captions, cleaned; null is none. Anything but a list of strings (or one string
    where allow_string) is a BadRecord: list("a cat") would be five one-letter captions."""
    if value is None:
        return []
    if allow_string and isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        wanted = "a string or a list of strings" if allow_string else "a list of strings"
        raise BadLine(f"{key} must be {wanted}, got {kind(value)}")
    return clean_captions(value)


def mapping_field(value: Any, key: str) -> dict:
    """A record's object of attributes; null is none."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadLine(f"{key} must be an object, got {kind(value)}")
    return dict(value)


def clean_captions(texts: list[Any]) -> list[str]:
    """Captions cleaned as prompts are (whitespace collapsed, control characters dropped); empty
    ones and non-strings (an empty CSV cell) dropped, so '' never counts as a caption."""
    # the fast path gives what clean_prompt gives, without its loop over each character
    cleaned = (" ".join(t.split()) if t.isprintable() else clean_prompt(t)
               for t in texts if isinstance(t, str))
    return [t for t in cleaned if t]


def jsonl_manifest(root: Path, manifest: str, parse: Callable[[dict], tuple[str, list[str], dict]],
                   options: SourceOptions) -> tuple[list[Entry], list[Skipped]]:
    """Entries of a JSON-lines manifest in root: parse(record) -> (file under root, captions,
    extras); parse raises BadRecord for a record it cannot use.

    One line per image: a second line naming the same file is skipped as a duplicate of the
    first. Merging them would double captions copied twice and mix two sets of attributes, and
    the first line is the one a reader of the manifest sees.
    """
    inside = Inside(root, options.allow_outside_root)
    if not inside(root / manifest):
        raise UserError(f"{root / manifest}: {OUTSIDE}")
    entries, skipped, kept = [], [], {}  # kept: real path -> the line of its entry
    for number, line in decode_lines(read_manifest(root / manifest), manifest, skipped):
        if not line.strip():
            continue
        try:
            record = json_value(line)
            if not isinstance(record, dict):
                raise BadLine(f"not a JSON object, got {kind(record)}")
            name, captions, extras = parse(record)
        except BadRecord as error:
            skipped.append(Skipped(f"{manifest} line {number}", str(error)))
            continue
        file = root / name
        problem = ("caption with no image" if not is_file(file) else OUTSIDE if not inside(file)
                   else "no caption" if not captions else None)
        real = None if problem else inside.real(file)
        if real in kept:
            problem = f"duplicate (of line {kept[real]})"
        if problem:
            skipped.append(Skipped(name, problem))
            continue
        kept[real] = number
        entries.append(Entry(name, captions, extras, str(file)))
    return entries, skipped


def caption_from_template(template: str, label: str) -> str:
    """'a photo of a {label}' + 'golden_retriever' -> 'a photo of a golden retriever'."""
    try:
        return template.format(label=label.replace("_", " "))
    except (KeyError, IndexError, ValueError):
        raise UserError(f"--caption-template {template!r} may only use the "
                        f"field {{label}}") from None


def _module(name: str) -> Any:
    return importlib.import_module(f"t2igan.data.formats.{FORMATS[name]}")


def detect_format(path: Path) -> str:
    for name in FORMATS:
        if _module(name).detect(path):
            return name
    raise UserError(f"{path} holds no dataset t2igan can read: no manifest, captions or images "
                    f"found (formats: {', '.join(FORMATS)}; see README, 'Your own data')")


def open_source(path: str | Path, options: SourceOptions | None = None) -> Source:
    """Scan a dataset in any supported format (detected, or options.format); UserError if
    unusable."""
    options = options or SourceOptions()
    path = Path(path)
    if not path.exists():
        raise UserError(f"--data {str(path)!r} does not exist")
    name = detect_format(path) if options.format == "auto" else options.format
    source = _module(name).scan(path, options)
    if not source.entries:
        raise UserError(f"{path} ({name}) holds no usable image with a caption; {source.summary()}")
    return source
