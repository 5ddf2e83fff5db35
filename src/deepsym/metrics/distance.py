"""How far a set of pieces lies from a reference set, metric by metric.

For each metric, with ``g`` its values on the generated pieces and ``r`` on the reference
pieces (say, a held-out split), NaN values (where it is undefined) left out:

- standardized mean difference ``SMD = |mean(g) - mean(r)| / s``, ``s`` = the standard
  deviation of ``r`` (over the pieces, ``ddof=0``), or of ``g`` and ``r`` pooled when every
  value of ``r`` is the same (0 when every value of both is). In units of the reference's
  own spread: 0 = same mean, 1 = one reference standard deviation apart.
- non-overlap ``NO = 1 - OA = ½ Σ_k |p_k - q_k|``: ``p`` and ``q`` are the histograms of
  ``g`` and ``r`` over ``BINS`` equal bins spanning both sets' range, each summing to 1,
  and ``OA = Σ_k min(p_k, q_k)`` their overlapping area, after Yang & Lerch (2020), "On
  the evaluation of generative models in music", who compare sets by the overlapping
  area of their distributions. 0 = same histogram, 1 = disjoint.

Both are NaN for a metric undefined on every piece of either set. The overall distances
are the means over the metrics defined in both sets.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: histogram bins of the non-overlap: ten keeps a few pieces a bin for sets of tens of pieces
BINS = 10


@dataclass(frozen=True)
class MetricDistance:
    """One metric on both sets: (mean, standard deviation, pieces where defined) of each,
    and the two distances (NaN where the metric is undefined in either set)."""

    generated: tuple[float, float, int]
    reference: tuple[float, float, int]
    smd: float
    non_overlap: float


@dataclass(frozen=True)
class SetDistance:
    """Every metric's distance, in the summaries' order, and the means over the metrics
    defined in both sets (NaN when there is none)."""

    metrics: dict[str, MetricDistance]
    smd: float
    non_overlap: float


def set_distance(generated: Sequence[Mapping[str, float]],
                 reference: Sequence[Mapping[str, float]], bins: int = BINS) -> SetDistance:
    """The distance of the pieces measured by ``generated`` (one mapping metric -> value
    a piece, as ``deepsym.metrics.summary.summarize`` gives) from those of ``reference``,
    over every metric either names (a metric a piece lacks is NaN there)."""
    names = list(dict.fromkeys(name for row in [*generated, *reference] for name in row))
    g, r = _matrix(generated, names), _matrix(reference, names)
    smd, non_overlap = standardized_difference(g, r), histogram_non_overlap(g, r, bins)
    g_stats, r_stats = np.stack(_moments(g)), np.stack(_moments(r))  # (3, metrics)
    rows = {name: MetricDistance(_stat(g_stats[:, j]), _stat(r_stats[:, j]), float(smd[j]),
                                 float(non_overlap[j])) for j, name in enumerate(names)}
    return SetDistance(rows, _mean_defined(smd), _mean_defined(non_overlap))


def standardized_difference(generated: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """SMD per column of ``generated`` ``(pieces, metrics)`` against ``reference``
    ``(pieces', metrics)`` (NaN = undefined for that piece): shape ``(metrics,)``."""
    g_mean, _, _ = _moments(generated)
    r_mean, r_std, _ = _moments(reference)
    _, pooled, _ = _moments(np.concatenate([generated, reference]))
    scale = np.where(r_std > 0, r_std, pooled)
    diff = np.abs(g_mean - r_mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(diff == 0, 0.0, diff / scale)  # scale is 0 only when all are equal


def histogram_non_overlap(generated: np.ndarray, reference: np.ndarray,
                          bins: int = BINS) -> np.ndarray:
    """``1 - OA`` per column of ``generated`` and ``reference`` (as in
    ``standardized_difference``), over ``bins`` equal bins: shape ``(metrics,)``."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, not {bins}")
    both = np.concatenate([generated, reference])
    lo = np.where(np.isnan(both), np.inf, both).min(axis=0, initial=np.inf)
    hi = np.where(np.isnan(both), -np.inf, both).max(axis=0, initial=-np.inf)
    width = np.where(hi > lo, hi - lo, 1.0)
    p, q = (_histogram(x, lo, width, bins) for x in (generated, reference))
    return 0.5 * np.abs(p - q).sum(axis=1)


def _histogram(x: np.ndarray, lo: np.ndarray, width: np.ndarray, bins: int) -> np.ndarray:
    """Per column, the share of its defined values in each bin: ``(metrics, bins)``; NaN
    rows where a column has none."""
    valid = ~np.isnan(x)
    position = np.where(valid, (np.where(valid, x, 0.0) - lo) / width, 0.0)
    k = np.clip(np.floor(np.nan_to_num(position) * bins).astype(np.int64), 0, bins - 1)
    index = k + bins * np.arange(x.shape[1])
    counts = np.bincount(index[valid], minlength=x.shape[1] * bins).reshape(-1, bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / valid.sum(axis=0)[:, None]


def _matrix(rows: Sequence[Mapping[str, float]], names: list[str]) -> np.ndarray:
    return np.array([[row.get(name, math.nan) for name in names] for row in rows],
                    dtype=np.float64).reshape(len(rows), len(names))


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column: mean, standard deviation (ddof=0) and count of the non-NaN values
    (NaN, NaN, 0 for a column without any)."""
    valid = ~np.isnan(x)
    n = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, x, 0.0).sum(axis=0) / n
        var = (np.where(valid, x - mean, 0.0) ** 2).sum(axis=0) / n
    return mean, np.sqrt(var), n


def _stat(values: np.ndarray) -> tuple[float, float, int]:
    mean, std, n = values
    return float(mean), float(std), int(n)


def _mean_defined(values: np.ndarray) -> float:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if len(defined) else math.nan


__all__ = ["BINS", "MetricDistance", "SetDistance", "histogram_non_overlap", "set_distance",
           "standardized_difference"]
