"""What every on-disk format becomes: a list of entries (image location, captions, extras).

A format module in `t2igan.data.formats` has two functions:

    detect(path) -> bool                       does this path look like my layout?
    scan(path, options) -> Source              list the entries; nothing is decoded yet

Scanning only reads manifests and directory listings, so it is fast and lists every problem it
can see without decoding (a caption with no image, an image with no caption...); images that
turn out corrupt are found later, when `CaptionedImages` decodes them. Both kinds land in the
same skip report.
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from t2igan.data.decode import IMAGE_EXTENSIONS
from t2igan.errors import UserError
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

    def __post_init__(self) -> None:
        check(self)

    def source_options(self) -> SourceOptions:
        """Just these fields (a TrainConfig is a SourceOptions with more)."""
        return SourceOptions(**{f.name: getattr(self, f.name) for f in fields(SourceOptions)})


@dataclass
class Entry:
    name: str  # shown in reports: the path under the source's root, or a database key
    captions: list[str]
    extras: dict[str, Any]  # "label" and any other columns; {} where the source has none
    ref: Any  # where the encoded bytes are; the source's `read` understands it


@dataclass
class Skipped:
    name: str
    reason: str


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


def image_files(root: Path) -> list[Path]:
    """Every file under root with an image extension, sorted (hidden folders and files skipped)."""
    found = [p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    return sorted(found)


class ImageFinder:
    """Finds the file a manifest names: as a path under root, under root/<split>, or by its base
    name.

    Manifests name images in many ways ("cars_train/00001.jpg", "00001.jpg" with the folder
    implied, "train2017" in another column); the base-name index finds them all when unique.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.by_name: dict[str, list[Path]] = {}
        for path in image_files(root):
            self.by_name.setdefault(path.name, []).append(path)
        self.used: set[Path] = set()

    def find(self, name: str, folder: str = "") -> Path | None:
        for candidate in (self.root / name, self.root / folder / name):
            if candidate.is_file():
                self.used.add(candidate)
                return candidate
        matches = self.by_name.get(Path(name).name, [])
        if len(matches) == 1:
            self.used.add(matches[0])
            return matches[0]
        return None

    def unlisted(self) -> list[Path]:
        """Images under root that no manifest row named (reported as images with no caption)."""
        return [p for paths in self.by_name.values() for p in paths if p not in self.used]


def clean_captions(texts: list[Any]) -> list[str]:
    """Strip captions and drop empty ones; every format uses this, so '' never counts as a
    caption."""
    return [" ".join(str(t).split()) for t in texts if isinstance(t, str) and t.strip()]


def jsonl_manifest(root: Path, manifest: str, parse: Callable[[dict], tuple[str, list[str], dict]]
                   ) -> tuple[list[Entry], list[Skipped]]:
    """Entries of a JSON-lines manifest in root: parse(record) -> (file under root, captions,
    extras).

    A line parse cannot read (KeyError, TypeError, ValueError) is skipped as a bad manifest line.
    """
    entries, skipped = [], []
    for number, line in enumerate((root / manifest).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            name, captions, extras = parse(json.loads(line))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # JSONDecodeError is a ValueError
            skipped.append(Skipped(f"{manifest} line {number}",
                                   f"bad manifest line ({type(error).__name__}: {error})"))
            continue
        file = root / name
        if not file.is_file():
            skipped.append(Skipped(name, "caption with no image"))
        elif not captions:
            skipped.append(Skipped(name, "no caption"))
        else:
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
