"""Prompts cleaned one way, and read from .txt, .csv and .jsonl files."""

import json
from pathlib import Path

import pytest

from t2igan.errors import UserError
from t2igan.prompts import (
    FEW_CAPTIONS,
    clean_prompt,
    clean_prompts,
    few_captions,
    read_prompts_file,
)


def test_cleaning_collapses_whitespace_and_drops_control_characters() -> None:
    assert clean_prompt("  a\tginger\ncat\x00 on a rug\u200b ") == "a ginger cat on a rug"


@pytest.mark.parametrize("raw, cleaned", [
    ("co\u00adop\ufeff", "coop"),  # invisible characters go without splitting the word
    ("a\u202ecat\u202c", "acat"),  # bidi controls: no text that prints in another order
    ("a\u2003cat\u2028\x85dog", "a cat dog"),  # every kind of space and line break
    ("\U0001f469\u200d\U0001f4bb", "\U0001f469\u200d\U0001f4bb"),  # a ZWJ emoji stays whole
    ("\u200d\u0301 \u200c", ""),  # joiners and accents alone draw nothing
    ("a \udcff cat", "a cat"),  # a dataset's broken caption is cleaned, not refused
])
def test_cleaning_drops_what_is_invisible(raw: str, cleaned: str) -> None:
    assert clean_prompt(raw) == cleaned


@pytest.mark.parametrize("prompts, message", [
    ("a cat", None),
    (("a cat", "a car"), None),
    (["a \udcff\udcfe cat"], r"bytes that are not UTF-8 text \(\\xff\\xfe\)"),
    ([b"a cat"], "must be text, not bytes"),
    (b"a cat", "not bytes"),
    (None, "not None"),
    ([None], "not None"),
    (7, "not int"),
    (["a" * 100_000], "100,000 characters"),
])
def test_prompts_that_are_not_text_are_one_line(prompts: object, message: str | None) -> None:
    if message is None:
        assert clean_prompts(prompts) == ([prompts] if isinstance(prompts, str) else list(prompts))
    else:
        with pytest.raises(UserError, match=message):
            clean_prompts(prompts)


@pytest.mark.parametrize("prompts", [[], [""], ["a cat", " \t"]])
def test_no_prompt_or_an_empty_one_is_an_error(prompts: list[str]) -> None:
    with pytest.raises(UserError, match="empty"):
        clean_prompts(prompts)


def test_a_prompt_too_long_is_an_error() -> None:
    with pytest.raises(UserError, match="2,001 characters"):
        clean_prompts(["a" * 2001])


def test_text_file_one_prompt_a_line(tmp_path: Path) -> None:
    path = tmp_path / "prompts.txt"
    path.write_text("\ufeffa ginger cat\n\n# a comment\n  a red truck  \n", encoding="utf-8")
    assert read_prompts_file(path) == ["a ginger cat", "a red truck"]


def test_csv_caption_column_found_or_named(tmp_path: Path) -> None:
    path = tmp_path / "prompts.csv"
    path.write_text('id,text,other\n1,"a cat, black",x\n2,a car,y\n', encoding="utf-8")
    assert read_prompts_file(path) == ["a cat, black", "a car"]
    assert read_prompts_file(path, column="other") == ["x", "y"]
    with pytest.raises(UserError, match="no column 'nope'"):
        read_prompts_file(path, column="nope")


def test_jsonl_objects_strings_and_captioned_folder_records(tmp_path: Path) -> None:
    path = tmp_path / "prompts.jsonl"
    lines = [{"caption": "a cat"}, "a car", {"file": "x.png", "captions": ["a van", "a bus"]}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    assert read_prompts_file(path) == ["a cat", "a car", "a van"]


@pytest.mark.parametrize("content, message", [
    (b'{"caption": "a cat"}\n{"caption": 3}\n', "line 2: the caption is not text"),
    (b'{"caption": "a cat"}\nnot json\n', "line 2: not JSON"),
    (b'{"caption": "a cat"}\n{"caption": "\xff"}\n', "line 2: not UTF-8"),
    (b'{"title": "a cat"}\n', "no caption column"),
    (b"\n\n", "has no prompts"),
])
def test_bad_files_name_the_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "prompts.jsonl"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        read_prompts_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read prompts file"):
        read_prompts_file(tmp_path / "nope.txt")


def test_few_captions_are_kept_in_order_and_many_or_one_are_not() -> None:
    assert few_captions(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]
    assert few_captions(["a cat"] * 50) is None  # one caption: no prompt steers such a run
    many = [f"caption {i}" for i in range(FEW_CAPTIONS + 1)]
    assert few_captions(many[:-1]) == many[:-1] and few_captions(many) is None
