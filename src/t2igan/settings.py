"""One description per setting: default, help, group, allowed values and check, beside the field.

A settings class (TrainConfig, PretrainConfig, SourceOptions, EvalSettings; the sampling settings
of the Python API; serve's Limits) is a dataclass whose fields are made by `setting(...)`. From
that one description:

- `add_flags` makes the command line: one `--flag-name` per field, typed from the annotation, with
  the help text, the default and the choices;
- `check` validates every value however it arrived (a flag, a config file, a checkpoint's
  meta.json): type, finiteness, choices and the field's own check, each failure one line naming
  the flag. Settings classes call it from `__post_init__`, so an invalid one cannot exist;
  `check_values` checks loose values (the Python API's arguments) against the same fields.

Every number has a range (`between`, `a_seed`): a value from a file or a typo that is negative or
absurdly large is refused up front, not after an allocator or a C library fails on it.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import numbers
import types
import typing
from collections.abc import Callable
from typing import Any, Union

from t2igan.errors import UserError

Check = Callable[[Any], "str | None"]  # a value -> why it is not allowed, or None
GROUPS = ("data", "model", "optimisation", "output", "evaluation")  # the order --help lists them in
SEED_LIMIT = 2**63  # seeds are 0 <= seed < 2**63: what every random generator used here accepts
KINDS = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}


def setting(default: Any, help: str, *, group: str = "",
            choices: typing.Sequence[Any] | None = None, check: Check | None = None,
            metavar: str | None = None) -> Any:
    """A dataclass field described once: what it means (help), where --help lists it (group),
    which values it takes (choices), any further rule (check) and the flag's placeholder in
    --help (metavar, e.g. N)."""
    return dataclasses.field(default=default, metadata={"help": help, "group": group,
                                                        "choices": choices, "check": check,
                                                        "metavar": metavar})


def at_least(low: float) -> Check:
    return lambda value: None if value >= low else f"must be at least {low}"


def between(low: float, high: float, *, above: bool = False) -> Check:
    """low <= value <= high, or low < value <= high with above=True (a scale that 0 would break)."""
    def why(value: float) -> str | None:
        if (low < value if above else low <= value) and value <= high:
            return None
        return (f"must be above {low:,} and at most {high:,}" if above
                else f"must be from {low:,} to {high:,}")
    return why


def a_seed(value: int) -> str | None:
    """0 <= seed < 2**63: torch's generators take at most 64 bits, and training adds small
    offsets to the seed."""
    return None if 0 <= value < SEED_LIMIT else f"must be from 0 to 2**63 - 1 ({SEED_LIMIT - 1:,})"


def positive(value: float) -> str | None:
    return None if value > 0 else "must be positive"


def fraction(value: float) -> str | None:
    """[0, 1): a share of something that cannot be all of it (a decay, a held-out part)."""
    return None if 0 <= value < 1 else "must be in [0, 1)"


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _value_type(annotation: Any) -> tuple[type, bool]:
    """int | None -> (int, True): the type a value must have, and whether None is allowed."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(annotation))
    return annotation, False


@functools.cache  # every settings object checks itself: resolving the hints each time is slow
def fields(cls: type) -> tuple[tuple[dataclasses.Field, type, bool], ...]:
    """(field, value type, None allowed) for every field of a settings class."""
    hints = typing.get_type_hints(cls)
    return tuple((f, *_value_type(hints[f.name])) for f in dataclasses.fields(cls))


def _why_not(value: Any, kind: type, optional: bool, meta: dict) -> str | None:
    if value is None:
        return None if optional else "must be set"
    # numbers.Integral and Real: numpy's scalars, as a Python API caller may pass, count too
    number = {int: numbers.Integral, float: numbers.Real}.get(kind)
    if not isinstance(value, number or kind) or (number and isinstance(value, bool)):
        return f"must be {KINDS.get(kind, 'a ' + kind.__name__)}"
    if kind is float:
        try:
            if not math.isfinite(float(value)):
                return "must be a finite number"
        except OverflowError:  # an int of hundreds of digits, as JSON allows
            return "must be a finite number"
    if meta.get("choices") is not None and value not in meta["choices"]:
        return f"must be one of {', '.join(map(str, meta['choices']))}"
    return meta["check"](value) if meta.get("check") else None


def shown(value: Any, width: int = 60) -> str:
    """repr(value) on one short line: a 100,000-character string must not become the message."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit limit for turning it into text
        return "a number of thousands of digits"
    return text if len(text) <= width else text[:width - 3] + "..."


def check_values(cls: type, values: dict[str, Any],
                 name: Callable[[str], str] = flag) -> None:
    """Raise a one-line UserError for the first of `values` (field name -> value) that the settings
    class `cls` does not allow, naming it name(field): the flag by default; the Python API names
    its argument."""
    for field, kind, optional in fields(cls):
        if field.name in values:
            value = values[field.name]
            why = _why_not(value, kind, optional, field.metadata)
            if why:
                raise UserError(f"{name(field.name)} {why} (got {shown(value)})")


def check(settings: Any) -> None:
    """Raise a one-line UserError for the first field whose value is not allowed. A numpy scalar
    becomes the Python number it holds, so that settings always write as JSON."""
    check_values(type(settings), vars(settings))
    for field, kind, _optional in fields(type(settings)):
        value = getattr(settings, field.name)
        if kind in (int, float) and type(value) not in (int, float, type(None)):
            setattr(settings, field.name, kind(value))


def _help_order(cls: type) -> list[tuple[dataclasses.Field, type, bool]]:
    """Fields by group (GROUPS' order, ungrouped first); within a group a subclass's own fields come
    before those it inherits (TrainConfig's --data before SourceOptions' --format)."""
    mro = [c for c in cls.__mro__ if dataclasses.is_dataclass(c)]

    def key(item: tuple[dataclasses.Field, type, bool]) -> tuple[int, int]:
        field = item[0]
        group = field.metadata.get("group", "")
        owner = next(i for i, c in enumerate(mro)
                     if field.name in c.__dict__.get("__annotations__", {}))
        return (GROUPS.index(group) + 1 if group else 0), owner

    return sorted(fields(cls), key=key)  # stable: declaration order within an owner


def add_flags(parser: argparse.ArgumentParser, cls: type, *, suppress_defaults: bool = False,
              skip: typing.Collection[str] = ()) -> None:
    """One flag per field of `cls`, in argument groups by the fields' `group`.

    suppress_defaults: flags not given are absent from the parsed namespace, so that they do not
    overwrite a config file's values (`given` then returns only what the user typed)."""
    groups: dict[str, argparse._ActionsContainer] = {}
    instance = cls()
    for field, kind, _optional in _help_order(cls):
        if field.name in skip:
            continue
        meta = field.metadata
        group = meta.get("group", "")
        if group not in groups:
            groups[group] = parser.add_argument_group(f"{group} settings") if group else parser
        default = getattr(instance, field.name)
        shown = "" if default is None else f" (default: {default})"
        # A bool is --name / --no-name: with type=bool, "--name False" would be true.
        how = dict(action=argparse.BooleanOptionalAction) if kind is bool else \
            dict(type=kind, choices=meta.get("choices"), metavar=meta.get("metavar"))
        groups[group].add_argument(flag(field.name), **how,
                                   default=argparse.SUPPRESS if suppress_defaults else default,
                                   help=f"{meta.get('help', '')}{shown}")


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of `cls` present in a parsed namespace."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(args).items() if k in names}
