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
from pathlib import Path

from t2igan.errors import UserError

CAPTION_COLUMNS = ("caption", "text", "prompt", "captions")
MAX_PROMPT_CHARS = 2000  # far past what a sentence encoder reads (MiniLM: 256 word pieces)


def clean_prompt(prompt: str) -> str:
    """Whitespace collapsed, control characters dropped: "a  cat\\t" -> "a cat"."""
    printable = "".join(c if c.isprintable() else " " for c in prompt)
    return " ".join(printable.split())


def clean_prompts(prompts: list[str], max_chars: int = MAX_PROMPT_CHARS) -> list[str]:
    """Each prompt cleaned; a one-line error for none, an empty one or one too long."""
    cleaned = [clean_prompt(p) for p in prompts]
    if not cleaned or any(not p for p in cleaned):
        raise UserError("the prompt is empty: describe the image, "
                        "e.g. --prompt \"a ginger cat lying on a blue rug\"")
    too_long = next((p for p in cleaned if len(p) > max_chars), None)
    if too_long is not None:
        raise UserError(f"a prompt has {len(too_long):,} characters; at most {max_chars:,}")
    return cleaned


def read_prompts_file(path: str | Path, column: str | None = None) -> list[str]:
    """The prompts of a .txt, .csv or .jsonl file, in order, cleaned; a one-line error naming the
    file (and line) when it cannot be read."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read prompts file {path}: {error.strerror}") from None
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
    name = _column(path, list(reader.fieldnames or []), column)
    return [row[name] or "" for row in reader]


def _jsonl_prompts(path: Path, text: str, column: str | None) -> list[str]:
    prompts = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise UserError(f"{path}, line {number}: not JSON") from None
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
