"""Configuration files and overrides shared by every trainer (tokenizer, evaluator, baselines).

:func:`read_yaml` reads a config file with one-line errors (file, line).  Overrides come from the
command line (``--override train.lr=2e-4``) or from Python (``{"train": {"lr": 2e-4}}``); both forms
may be mixed.
"""
from __future__ import annotations

import copy
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Mapping


def read_yaml(path: str | Path, what: str = "config") -> Any:
    """The parsed YAML file ``path``; an unreadable file or invalid YAML is an
    :class:`~motiongpt2.errors.InputFileError` naming the file (and line)."""
    import yaml

    from .errors import InputFileError

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise InputFileError(path, f"cannot read the {what} ({err.strerror})", "check the path") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        raise InputFileError(path, f"invalid YAML ({getattr(err, 'problem', err)})", "fix the file",
                             line=None if line is None else line + 1) from None


def deep_merge(base: dict, update: Mapping) -> dict:
    """Merge ``update`` into ``base`` in place (nested mappings merged, other values deep-copied)."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def apply_overrides(data: dict, overrides: Mapping[str, Any] | None) -> dict:
    """Apply nested and/or dotted (``"train.max_iters"``) ``overrides`` to the config dict ``data`` in place."""
    for key, value in (overrides or {}).items():
        if "." in key:
            nested: dict[str, Any] = {}
            cur = nested
            parts = key.split(".")
            for part in parts[:-1]:
                cur = cur.setdefault(part, {})
            cur[parts[-1]] = value
            deep_merge(data, nested)
        else:
            deep_merge(data, {key: value})
    return data


def _coerce(value: Any, hint: Any) -> Any:
    """``value`` converted to the type ``hint`` (int, float, bool, str, ``X | None``, ``list[X]``,
    ``tuple[X, ...]``); raises ``ValueError`` when it cannot be.

    YAML 1.1 reads ``2e-4`` (no dot) as a string and ``1`` as an int; both are accepted for a float.
    """
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError("; ".join(errors))
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a list, got {value!r}")
        inner = args[0] if args else Any
        items = [_coerce(v, inner) for v in value]
        return tuple(items) if origin is tuple else items
    if hint is Any or hint is None:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f"expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"expected a string, got {value!r}")
    return value


def build_section(cls: type, data: Any, section: str, source: Any) -> Any:
    """Dataclass ``cls`` built from the YAML mapping ``data`` (section ``section`` of file ``source``).

    Unknown keys and values of the wrong type are an :class:`InputFileError` naming the key, e.g.
    ``configs/x.yaml: train.lr: expected a number, got 'abc' — fix the value or the --override``.
    Values are converted to the annotated field types (``2e-4`` → float, ``[4000]`` → list[int]).
    """
    from .errors import InputFileError

    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise InputFileError(source, f"'{section}' must be a mapping")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputFileError(source, f"unknown key(s) {unknown} in '{section}'",
                             f"allowed keys are {sorted(names)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in data.items():
        try:
            values[key] = _coerce(value, hints.get(key, Any))
        except ValueError as err:
            raise InputFileError(source, f"{section}.{key}: {err}",
                                 "fix the value in the YAML file or the --override") from None
    return cls(**values)
