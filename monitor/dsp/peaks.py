"""Parabolic interpolation of a sampled maximum."""

from __future__ import annotations

import numpy as np


def parabolic(y0: np.ndarray, y1: np.ndarray, y2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex of the parabola through three equally spaced samples around a maximum.

    Parameters
    ----------
    y0, y1, y2 : np.ndarray [shape=(n,)]
        Values left of, at and right of each sampled maximum.

    Returns
    -------
    delta : np.ndarray [shape=(n,)]
        Offset of the vertex from the middle sample, in samples, within [-0.5, 0.5]
        (0 where the three points are not concave).
    peak : np.ndarray [shape=(n,)]
        The parabola's value at the vertex.
    """
    den = y0 - 2 * y1 + y2
    concave = den < 0
    delta = np.where(concave, 0.5 * (y0 - y2) / np.where(concave, den, -1.0), 0.0)
    delta = np.clip(delta, -0.5, 0.5)
    return delta, y1 - 0.25 * (y0 - y2) * delta
