"""Hostile config values, field by field: every one is a one-line UserError naming the field, or is
accepted; never another exception. Through a `--config FILE.json`, a run's config.json, a
checkpoint's meta.json and the constructors of every settings class."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from t2igan import settings
from t2igan.api import InterpolationSettings, NoiseSettings, SamplingSettings
from t2igan.cli import main
from t2igan.config import PretrainConfig, TrainConfig, load_config_file, merge
from t2igan.data.sources import SourceOptions
from t2igan.errors import UserError
from t2igan.metrics.context import EvalSamples, EvalSettings
from t2igan.runs import Checkpoint, read_config
from t2igan.serve.limits import Address, Limits

# JSON text as a file may hold it (Python's json reads NaN, Infinity and 1e999 as floats)
HOSTILE = ['"12"', '"ten"', '""', "true", "false", "[]", "[1]", "{}", '{"a": 1}', "null",
           "1e999", "-1e999", "NaN", "Infinity", "-Infinity", "-1", "-0.5", "-1e30", "1e30",
           "1" * 40, "1" * 400, "0", "0.5", "3.0", str(2**63), str(2**64)]
REFUSED_EVERYWHERE = {"[]", "[1]", "{}", '{"a": 1}', "1e999", "-1e999", "NaN", "Infinity",
                      "-Infinity", "1" * 400}
REFUSED_FOR_NUMBERS = {"-1", "-0.5", "-1e30", "1e30", "1" * 40, '"12"', '"ten"', '""', "true",
                       "false"}
CLASSES = [TrainConfig, PretrainConfig, SourceOptions, EvalSettings, EvalSamples, Limits,
           Address, NoiseSettings, SamplingSettings, InterpolationSettings]
FIELDS = [field.name for field, _kind, _optional in settings.fields(TrainConfig)]


def must_refuse(kind: type, optional: bool, text: str) -> bool:
    """Values no field of this kind may take: every number has a range that excludes negative
    and absurd values, and no field takes a list, an object, an infinity or NaN."""
    if text in REFUSED_EVERYWHERE:
        return True
    if text == "null":
        return not optional
    return kind in (int, float) and text in REFUSED_FOR_NUMBERS


def expect(make: Callable[..., object], arg: object, cls: type, name: str, text: str) -> None:
    """make(arg) either returns settings holding the value or raises a one-line UserError naming
    the field; a value that must be refused is."""
    kind, optional = next((k, o) for f, k, o in settings.fields(cls) if f.name == name)
    try:
        made = make(arg)
    except UserError as error:
        message = str(error)
        assert "\n" not in message and len(message) < 300, message
        assert settings.flag(name) in message, message
        return
    assert not must_refuse(kind, optional, text), f"{cls.__name__}.{name} took {text}"
    assert getattr(made, name) == json.loads(text) or text == "NaN"


@pytest.mark.parametrize("name", FIELDS)
def test_a_config_file_value(tmp_path: Path, name: str) -> None:
    path = tmp_path / "config.json"
    for text in HOSTILE:
        path.write_text(f'{{"{name}": {text}}}', encoding="utf-8")
        expect(lambda path: merge(TrainConfig(), load_config_file(path)), path, TrainConfig,
               name, text)


@pytest.mark.parametrize("name", FIELDS)
def test_a_run_config_value(tmp_path: Path, name: str) -> None:
    for text in HOSTILE:
        (tmp_path / "config.json").write_text(f'{{"{name}": {text}}}', encoding="utf-8")
        expect(read_config, tmp_path, TrainConfig, name, text)


@pytest.mark.parametrize("name", FIELDS)
def test_a_checkpoint_config_value(tmp_path: Path, name: str) -> None:
    for text in HOSTILE:
        meta = json.loads(f'{{"step": 2, "config": {{"model": "gan-int-cls", "{name}": {text}}}}}')
        expect(lambda meta: Checkpoint(tmp_path, meta, {}, None).config, meta, TrainConfig,
               name, text)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_settings_class_refuses_hostile_values(cls: type) -> None:
    for field, _kind, _optional in settings.fields(cls):
        for text in HOSTILE:
            expect(lambda values: cls(**values), {field.name: json.loads(text)}, cls,
                   field.name, text)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_number_has_a_range(cls: type) -> None:
    """Negative, huge and 64-bit-overflowing values of every numeric field are refused."""
    for field, kind, _optional in settings.fields(cls):
        if kind in (int, float):
            for value in (-1, 10**30, 2**64):
                with pytest.raises(UserError, match=settings.flag(field.name)):
                    cls(**{field.name: value})


def test_the_python_api_names_its_argument() -> None:
    with pytest.raises(UserError, match=r"^seed must be from 0 to 2\*\*63 - 1"):
        settings.check_values(SamplingSettings, {"seed": 10**23}, name=str)


@pytest.mark.parametrize("content", [
    "[1, 2]", "[" * 100_000 + "]" * 100_000, "1" * 5000, '{"steps": 1', "NaN",
    '{"steps": 10, "steps": "x"}',
])
def test_a_config_file_that_is_no_config_is_one_line(tmp_path: Path, content: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as error:
        merge(TrainConfig(), load_config_file(path))
    assert "\n" not in str(error.value)


def test_a_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b'{"data": "\xff"}')
    with pytest.raises(UserError, match="not valid JSON"):
        load_config_file(path)


@pytest.mark.parametrize("text, message", [
    ("1e999", "--steps must be a whole number (got inf)"),
    ("NaN", "--steps must be a whole number (got nan)"),
    ("-5", "--steps must be from 1 to 1,000,000,000 (got -5)"),
    ("1" * 40, f"--steps must be from 1 to 1,000,000,000 (got {'1' * 40})"),
    ('"12"', "--steps must be a whole number (got '12')"),
])
def test_train_with_a_hostile_config_file_is_status_2(
        tmp_path: Path, capsys: pytest.CaptureFixture, text: str, message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(f'{{"steps": {text}}}', encoding="utf-8")
    assert main(["train", "--out", str(tmp_path / "run"), "--config", str(path)]) == 2
    assert capsys.readouterr().err.strip() == f"t2igan: error: {message}"
    assert not (tmp_path / "run").exists()
