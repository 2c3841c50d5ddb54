"""One description per setting: the command line is made from it, and it checks every value,
whether it came from a flag, a config file or a checkpoint. And the one atomic-write helper."""

import argparse
import dataclasses
import json
import os
from pathlib import Path

import pytest

from t2igan import settings
from t2igan.cli import build_parser, main
from t2igan.config import PretrainConfig, TrainConfig, merge
from t2igan.data.sources import SourceOptions
from t2igan.errors import UserError
from t2igan.files import atomic_path, write_text
from t2igan.metrics.context import EvalSettings


@pytest.mark.parametrize("cls", [TrainConfig, PretrainConfig, SourceOptions, EvalSettings])
def test_every_setting_is_described(cls: type) -> None:
    for field, kind, _optional in settings.fields(cls):
        assert field.metadata.get("help"), f"{cls.__name__}.{field.name} has no help"
        assert kind in (int, float, str, bool)
    for field in dataclasses.fields(TrainConfig):
        assert field.metadata["group"] in settings.GROUPS, field.name


def test_train_help_lists_the_settings_by_group() -> None:
    text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    positions = [text.index(f"{group} settings:") for group in settings.GROUPS]
    assert positions == sorted(positions)
    assert text.index("--data DATA") < text.index("--format")  # the dataset before how to read it


def test_a_bool_setting_is_a_yes_no_flag_pair() -> None:
    parser = argparse.ArgumentParser()
    settings.add_flags(parser, EvalSettings)
    assert parser.parse_args([]).progress is True
    assert parser.parse_args(["--no-progress"]).progress is False


def test_flags_are_typed_from_the_annotations() -> None:
    args = build_parser().parse_args(["train", "--out", "r", "--max-minutes", "0.5", "--nz", "7",
                                      "--lr", "1e-3"])
    assert (args.max_minutes, args.nz, args.lr) == (0.5, 7, 1e-3)
    assert not hasattr(args, "steps")  # flags not given stay out, so a config file's values survive


@pytest.mark.parametrize("values, message", [
    ({"batch_size": "64"}, "--batch-size must be a whole number"),
    ({"batch_size": 1}, "--batch-size must be from 2 to 65,536"),
    ({"lr": float("nan")}, "--lr must be a finite number"),
    ({"lr": -1.0}, "--lr must be above 0 and at most 1"),
    ({"seed": 2**63}, "--seed must be from 0 to 2"),
    ({"steps": 10**30}, "--steps must be from 1 to 1,000,000,000"),
    ({"ema_decay": 1.0}, r"--ema-decay must be in \[0, 1\)"),
    ({"fit": "squash"}, "--fit must be one of crop, pad, stretch"),
    ({"augment": "color,blur"}, "unknown 'blur'"),
    ({"image_size": "64x"}, "--image-size is not S or WxH"),
    ({"steps": True}, "--steps must be a whole number"),
    ({"data": None}, "--data must be set"),
])
def test_bad_values_are_one_line_errors_wherever_they_come_from(values: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        merge(TrainConfig(), values)


def test_a_config_file_with_a_wrong_value_fails_before_any_work(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": "gan-int-cls", "ngf": "sixteen"}))
    assert main(["train", "--out", str(tmp_path / "run"), "--config", str(config)]) == 2
    assert (capsys.readouterr().err.strip()
            == "t2igan: error: --ngf must be a whole number (got 'sixteen')")
    assert not (tmp_path / "run").exists()


def test_a_flag_overrides_the_config_file_which_overrides_the_defaults(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"steps": 3, "lr": 1e-3}))
    args = build_parser().parse_args(["train", "--out", "r", "--config", str(config),
                                      "--lr", "5e-4"])
    cfg = merge(merge(TrainConfig(), json.loads(config.read_text())),
                settings.given(args, TrainConfig))
    assert (cfg.steps, cfg.lr, cfg.batch_size) == (3, 5e-4, 64)


def test_atomic_path_leaves_nothing_behind_when_the_writer_fails(tmp_path: Path) -> None:
    target = write_text(tmp_path / "report.json", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["report.json"]


def test_atomic_path_replaces_a_folder_whole(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint"
    with atomic_path(folder) as temporary:
        temporary.mkdir()
        (temporary / "old.txt").write_text("1")
    with atomic_path(folder) as temporary:
        temporary.mkdir()
        (temporary / "new.txt").write_text("2")
    assert os.listdir(folder) == ["new.txt"] and os.listdir(tmp_path) == ["checkpoint"]


def test_numpy_numbers_are_numbers_and_become_python_ones() -> None:
    import numpy as np

    cfg = TrainConfig(steps=np.int64(5), lr=np.float32(0.5))
    assert (cfg.steps, cfg.lr) == (5, 0.5) and type(cfg.steps) is int and type(cfg.lr) is float
    json.dumps(cfg.to_dict())  # a config always writes as JSON
    with pytest.raises(UserError, match="--steps must be a whole number"):
        TrainConfig(steps=np.float64(5.0))
