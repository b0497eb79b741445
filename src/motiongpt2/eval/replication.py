"""Repeat a randomised evaluation and report mean +- 95% confidence interval; Markdown tables.

The reference protocol (text-to-motion ``final_evaluations.py``, ``get_metric_statistics``) runs
every figure 20 times and reports ``mean`` and ``1.96 * std / sqrt(n)`` with ``np.std``'s default
``ddof=0`` (population standard deviation) -- kept here so our intervals compare with published
ones.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["format_cell", "format_table", "replicate", "summarize", "table_value"]

Summary = tuple[Any, Any]  # (mean, ci95): floats, or arrays for vector-valued metrics


def summarize(values: Sequence[Any]) -> Summary:
    """``(mean, 1.96 * std / sqrt(n))`` over the first axis of ``values`` (``std`` with ddof=0).

    Args:
        values: ``(n,)`` or ``(n, ...)`` replications.

    Returns:
        floats for scalar metrics, arrays of the trailing shape otherwise.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape[0] == 0:
        raise ValueError("no values")
    mean = arr.mean(axis=0)
    ci = 1.96 * arr.std(axis=0) / np.sqrt(arr.shape[0])
    if mean.ndim == 0:
        return float(mean), float(ci)
    return mean, ci


def replicate(
    fn: Callable[[np.random.Generator], Mapping[str, Any]], n: int = 20, seed: int = 0
) -> dict[str, Summary]:
    """Run ``fn`` ``n`` times and summarise each metric it returns.

    Args:
        fn: called as ``fn(rng)`` with a fresh :class:`numpy.random.Generator` per replication
            (children of ``SeedSequence(seed)``, so replication ``i`` is the same whatever ``n``);
            returns ``{metric: value}``. If ``fn`` also samples with torch, seed torch from ``rng``
            (e.g. ``torch.Generator().manual_seed(int(rng.integers(2**63)))``).
        n: replications (20 in the protocol).
        seed: base seed.

    Returns:
        ``{metric: (mean, ci95)}`` in the order ``fn`` returned them.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    children = np.random.SeedSequence(seed).spawn(n)
    runs = [dict(fn(np.random.default_rng(child))) for child in children]
    keys = list(runs[0])
    for r in runs[1:]:
        if list(r) != keys:
            raise ValueError(f"replications returned different metrics: {keys} vs {list(r)}")
    return {k: summarize([r[k] for r in runs]) for k in keys}


def table_value(value: Any, missing: Any = None) -> Any:
    """A stored metric (``[mean, ci]``, ``[mean, None]``, a number or ``None``) as :func:`format_table` takes it:
    ``(mean, ci)``, a plain number, or ``missing`` for ``None``."""
    if value is None:
        return missing
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return (value[0], value[1]) if value[1] is not None else value[0]
    return value


def format_cell(value: Any, digits: int = 3) -> str:
    """``"0.496±0.003"`` for a ``(mean, ci)`` pair, ``"0.496"`` for a number, ``"-"`` for None."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        mean, ci = value
        return f"{float(mean):.{digits}f}±{float(ci):.{digits}f}"
    return f"{float(value):.{digits}f}"


ColumnSpec = str | tuple[str, str]


def format_table(
    rows: Mapping[str, Mapping[str, Any]] | Iterable[tuple[str, Mapping[str, Any]]],
    columns: Sequence[ColumnSpec],
    digits: int = 3,
    first_header: str = "Methods",
) -> str:
    """Markdown table in the paper's layout: one row per method, one column per metric.

    Args:
        rows: ``{method: {metric: (mean, ci) | number | None}}`` (or a list of such pairs), e.g.
            the output of :func:`replicate` per method.
        columns: metric keys, or ``(key, header)`` pairs such as ``("R@1", "R@1 ↑")``.
        digits: decimals (the paper prints 3).
        first_header: header of the method-name column.

    Returns:
        the table as a string (``print`` it). A metric missing from a row prints as ``-``.
    """
    items = list(rows.items()) if isinstance(rows, Mapping) else list(rows)
    specs = [(c, c) if isinstance(c, str) else (c[0], c[1]) for c in columns]
    header = "| " + " | ".join([first_header] + [h for _, h in specs]) + " |"
    sep = "|" + "|".join(["---"] + [":---:"] * len(specs)) + "|"
    lines = [header, sep]
    for name, metrics in items:
        cells = [format_cell(metrics.get(k), digits) for k, _ in specs]
        lines.append("| " + " | ".join([str(name)] + cells) + " |")
    return "\n".join(lines)
