"""Configuration overrides shared by every trainer (tokenizer, evaluator, baselines).

Overrides come from the command line (``--override train.lr=2e-4``) or from Python
(``{"train": {"lr": 2e-4}}``); both forms may be mixed.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping


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
