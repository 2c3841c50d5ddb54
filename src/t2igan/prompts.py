"""Prompts as users type them: cleaned the same way everywhere, and read from files.

A prompts file is one of
    prompts.txt      one prompt a line (blank lines and lines starting with # are skipped)
    prompts.csv      a header row and a caption column (caption, text or prompt; or --column)
    prompts.jsonl    one JSON object a line with a caption field (same names; or --column), or
                     a bare JSON string a line; "captions": [...] takes its first caption
so that the captions of any dataset (a captioned folder's captions.jsonl included) can be turned
into images and scored against that dataset.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from t2igan.errors import UserError

CAPTION_COLUMNS = ("caption", "text", "prompt", "captions")
MAX_PROMPTS_FILE_BYTES = 64 << 20  # some 500,000 prompts; a larger file is a mistake
MAX_PROMPT_CHARS = 2000  # far past what a sentence encoder reads (MiniLM: 256 word pieces)
JOINERS = "\u200c\u200d"  # zero-width non-joiner and joiner: they shape Persian and Indic
#                            words and join emoji sequences (a family, a technologist)
SURROGATES = re.compile("[\ud800-\udfff]")  # what Python makes of bytes that are not UTF-8
# A run trained on a few captions (a labelled set: cat-breeds' five "a photo of an X cat")
# records them, and a prompt that is none of them draws as the nearest one (TextToImage.drawn_as):
# G learned those few points of sentence space, and between them it draws flat grey. Stanford
# Cars' 196 class captions are many enough for a typed sentence to steer (docs/results.md); where
# between 5 and 196 the line lies was not measured.
FEW_CAPTIONS = 32


def clean_prompt(prompt: str) -> str:
    """Every kind of space and line break one space; control characters and invisible formatting
    (zero-width spaces, byte-order marks, soft hyphens, bidi controls, lone surrogates) dropped;
    "" when no letter, digit, punctuation or symbol is left: "a  cat\\t" -> "a cat"."""
    if not isinstance(prompt, str):
        raise UserError(f"a prompt must be text, not {_kind(prompt)}")
    kept = "".join(" " if c.isspace() else c for c in prompt
                   if c.isspace() or c.isprintable() or c in JOINERS)
    cleaned = " ".join(kept.split())
    # joiners or combining accents alone draw nothing a sentence encoder could read
    return cleaned if any(unicodedata.category(c)[0] in "LNPS" for c in cleaned) else ""


def clean_prompts(prompts: str | Iterable[str], max_chars: int = MAX_PROMPT_CHARS) -> list[str]:
    """A prompt or a list of them, each cleaned; a one-line error for none, one that is not text
    (bytes, None, a number) or holds bytes that are not UTF-8, an empty one or one too long."""
    if isinstance(prompts, str):
        prompts = [prompts]
    elif isinstance(prompts, bytes | bytearray | Mapping) or not isinstance(prompts, Iterable):
        raise UserError(f"prompts must be a text or a list of texts, not {_kind(prompts)}")
    cleaned = [_clean_one(p, max_chars) for p in prompts]
    if not cleaned:
        raise UserError("the list of prompts is empty: describe the image, "
                        "e.g. --prompt \"a ginger cat lying on a blue rug\"")
    return cleaned


def few_captions(captions: Iterable[str]) -> list[str] | None:
    """The distinct captions, first seen first, when there are 2 to FEW_CAPTIONS of them; else
    None (one caption for every image is the text standardiser's case: no prompt steers)."""
    distinct = list(dict.fromkeys(captions))
    return distinct if 2 <= len(distinct) <= FEW_CAPTIONS else None


def _clean_one(prompt: Any, max_chars: int) -> str:
    if isinstance(prompt, str) and SURROGATES.search(prompt):
        # undecodable bytes (argv's surrogateescape, a file read with errors="surrogateescape"):
        # refused rather than guessed at, so no image is drawn for text the user did not write
        raise UserError(f"a prompt holds bytes that are not UTF-8 text "
                        f"({_undecodable(prompt)}): check the encoding of the terminal or file")
    if isinstance(prompt, str) and len(prompt) > 20 * max_chars:  # not worth cleaning first
        raise UserError(f"a prompt has {len(prompt):,} characters; at most {max_chars:,}")
    cleaned = clean_prompt(prompt)
    if not cleaned:
        raise UserError("the prompt is empty: describe the image, "
                        "e.g. --prompt \"a ginger cat lying on a blue rug\"")
    if len(cleaned) > max_chars:
        raise UserError(f"a prompt has {len(cleaned):,} characters; at most {max_chars:,}")
    return cleaned


def _undecodable(prompt: str) -> str:
    """The first few lone surrogates as the bytes they stand for: '\\udcff' -> '\\xff'."""
    found = SURROGATES.findall(prompt)[:4]
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if "\udc80" <= c <= "\udcff"
                   else f"\\u{ord(c):04x}" for c in found)


def _kind(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return "bytes (decode them first, e.g. data.decode('utf-8'))"
    return "None" if value is None else f"{type(value).__name__} {_short(value)}"


def _short(value: object) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit limit
        return "(a number of thousands of digits)"
    return f"({text[:40]}...)" if len(text) > 40 else f"({text})"


def read_prompts_file(path: str | Path, column: str | None = None) -> list[str]:
    """The prompts of a .txt, .csv or .jsonl file, in order, cleaned; a one-line error naming the
    file (and line) when it cannot be read."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:  # a pipe too (<(...), /dev/stdin): read, up to a limit
            data = handle.read(MAX_PROMPTS_FILE_BYTES + 1)
    except OSError as error:
        raise UserError(f"cannot read prompts file {path}: {error.strerror}") from None
    if len(data) > MAX_PROMPTS_FILE_BYTES:
        raise UserError(f"prompts file {path} is over {MAX_PROMPTS_FILE_BYTES:,} bytes (split it)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise UserError(f"{path}, line {line}: not UTF-8 text") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        prompts = _csv_prompts(path, text, column)
    elif suffix in (".jsonl", ".json"):
        prompts = _jsonl_prompts(path, text, column)
    else:
        prompts = [line for line in text.splitlines()
                   if line.strip() and not line.lstrip().startswith("#")]
    prompts = [clean_prompt(p) for p in prompts]
    prompts = [p for p in prompts if p]
    if not prompts:
        raise UserError(f"prompts file {path} has no prompts")
    return clean_prompts(prompts)


def _column(path: Path, names: list[str], column: str | None) -> str:
    if column is not None:
        if column not in names:
            raise UserError(f"{path}: no column {column!r} (it has {', '.join(names) or 'none'})")
        return column
    found = next((name for name in CAPTION_COLUMNS if name in names), None)
    if found is None:
        raise UserError(f"{path}: no caption column ({', '.join(CAPTION_COLUMNS)}); name it "
                        "with --column")
    return found


def _csv_prompts(path: Path, text: str, column: str | None) -> list[str]:
    reader = csv.DictReader(text.splitlines())
    try:
        name = _column(path, list(reader.fieldnames or []), column)
        return [row[name] or "" for row in reader]
    except csv.Error as error:  # a field over csv's 128 KiB limit, a NUL byte
        raise UserError(f"{path}, line {reader.line_num}: not CSV ({error})") from None


def _jsonl_prompts(path: Path, text: str, column: str | None) -> list[str]:
    prompts = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # also a 5,000-digit number, a 100,000-deep array
            raise UserError(f"{path}, line {number}: not JSON t2igan can read") from None
        prompts.append(_record_prompt(path, number, record, column))
    return prompts


def _record_prompt(path: Path, number: int, record: object, column: str | None) -> str:
    if isinstance(record, str):
        return record
    if not isinstance(record, dict):
        raise UserError(f"{path}, line {number}: expected an object or a string")
    value = record.get(_column(path, list(record), column))
    if isinstance(value, list) and value:  # a captioned folder's "captions": the first
        value = value[0]
    if not isinstance(value, str):
        raise UserError(f"{path}, line {number}: the caption is not text")
    return value
