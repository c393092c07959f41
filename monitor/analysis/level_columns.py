"""The level's contextual columns of a stream, kept frame by frame instead of recomputed per batch.

The intensity contour, its trailing peak level and the noise floor of a frame are final once the
few frames its smoothing reaches to the right have arrived. :class:`LevelColumns` keeps the final
values and computes each batch only the new frames and the few at the end that are not final yet,
instead of the whole raw buffer (about 1300 frames). The
smoothing's running sum is carried from frame to frame exactly as one pass over the whole signal
accumulates it, and the trailing extrema are exact, so the columns are bit for bit those of
:func:`monitor.analysis.analyzer.analyze_signal`. The extrema learn nothing from the frames the
capture marked as not heard (:func:`monitor.dsp.energy.heard_extremum`): each column keeps the
values of the last heard frames its window holds, however long ago they came, and holds its last
value through the marked frames.
"""

from __future__ import annotations

import numpy as np

from ..dsp.energy import VadParams, heard_frames, held, unheard_extremum
from ..dsp.filters import running_sums_after, trailing_after
from ..dsp.syllables import SyllableParams


class _Smoothed:
    """``smooth_db`` of a growing energy column (power average over ``size`` frames, nearest
    ends) and a trailing extremum of it over ``window`` heard frames, both kept where final."""

    def __init__(self, size: int, window: int, reduce: np.ufunc) -> None:
        self.size, self.window, self.reduce = int(size), max(1, int(window)), reduce
        self.values = np.zeros(0, np.float32)    # final smoothed values, from the buffer's first frame
        self.extreme = np.zeros(0, np.float32)   # final trailing extrema, the same frames
        self._carry: float | None = None         # the running sum of the last final frame's window
        self._heard = np.zeros(0, np.float32)    # the last window - 1 final heard frames' smoothed values
        self._held = np.float32(unheard_extremum(reduce))  # the extremum at the last final frame

    def update(self, energy: np.ndarray, unheard: np.ndarray, final: bool,
               values: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
        """Smoothed values (None unless ``values``) and trailing extrema over the heard frames of
        every frame of ``energy`` (shape (n,), the buffer the kept columns start with; ``unheard``
        the same frames' marks, bool); keeps those that no later frame changes."""
        done, n, h = len(self.values), len(energy), self.size // 2
        if n == done:
            return self.values if values else None, self.extreme
        sums = self._sums(energy, done)
        mean = (sums / self.size).astype(np.float32)
        smooth = (10.0 * np.log10(mean + 1e-10)).astype(np.float32, copy=False)
        heard = heard_frames(unheard, h, done)
        extreme = trailing_after(self._heard, smooth[heard], self.window, self.reduce)
        if len(extreme) < len(heard):  # some not heard: each holds the last heard frame's extremum
            extreme = held(extreme, heard, self._held)
        keep = (n if final else max(done, n - h)) - done
        if keep:
            self._carry = float(sums[keep - 1])
            kept = smooth[:keep][heard[:keep]]
            if len(kept):
                kept = np.concatenate([self._heard, kept]) if len(kept) < self.window - 1 else kept
                self._heard = kept[max(0, len(kept) - (self.window - 1)):]
            self._held = extreme[keep - 1]
        # every frame's column, the final ones kept as a view of its start: read only, as the
        # caller must not change what is kept
        extreme = _read_only(np.concatenate([self.extreme, extreme]))
        self.extreme = extreme[:done + keep]
        if values:
            smooth = _read_only(np.concatenate([self.values, smooth]))
            self.values = smooth[:done + keep]
            return smooth, extreme
        self.values = np.concatenate([self.values, smooth[:keep]])
        return None, extreme

    def _sums(self, energy: np.ndarray, done: int) -> np.ndarray:
        """The running sums (float64, undivided) of the windows of frames ``done ..``, continuing
        the chain from frame ``done - 1`` (from its start when ``done`` is 0). Shape (n - done,).
        The same sums as :func:`monitor.dsp.energy.smooth_db` through
        :func:`monitor.dsp.filters.moving_average` ("nearest" ends): change them together."""
        n, h = len(energy), self.size // 2
        first = done - 1 - h if self._carry is not None else -h  # the first sample read
        lo = max(first, 0)
        e = np.empty(n + h - first, np.float64)  # samples first .. n + h, the ends repeated (nearest)
        e[lo - first:n - first] = np.power(10.0, energy[lo:] / 10.0)
        e[:lo - first] = e[lo - first]
        e[n - first:] = e[n - first - 1]
        if self._carry is not None:
            return running_sums_after(e, self.size, self._carry, n - done)
        start = np.cumsum(e[:self.size])[-1]  # element after element, as the whole pass sums it
        return np.concatenate([[start], running_sums_after(e, self.size, start, n - 1)])

    @property
    def droppable(self) -> int:
        """Frames :meth:`cut` may drop: the next window's running sum reads the ``size // 2 + 1``
        frames before the first one not final yet, so they stay."""
        return max(0, len(self.values) - (self.size // 2 + 1))

    def cut(self, rows: int) -> None:
        """Drop the first ``rows`` frames (the buffer's start moved on)."""
        self.values, self.extreme = self.values[rows:], self.extreme[rows:]


def _read_only(a: np.ndarray) -> np.ndarray:
    """``a``, flagged read only."""
    a.flags.writeable = False
    return a


class LevelColumns:
    """Intensity, the noise floor, the intensity's trailing peak and the slow floor (the floor of
    the level smoothed over ``VadParams.spread_smooth_frames``) of a stream's raw buffer."""

    def __init__(self, syllables: SyllableParams, vad: VadParams) -> None:
        self._intensity = _Smoothed(syllables.smooth_frames, syllables.level_window_frames, np.maximum)
        self._floor = _Smoothed(vad.smooth_frames, vad.floor_window_frames, np.minimum)
        # the slow floor only serves the steady margin: without it, the floor stands in for it
        self._slow = (_Smoothed(vad.spread_smooth_frames, vad.floor_window_frames, np.minimum)
                      if vad.steady_margin else None)

    def update(self, energy: np.ndarray, unheard: np.ndarray,
               final: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Intensity (dB), the noise floor, the intensity's trailing peak (``level_window_frames``)
        and the slow floor (the floor itself when the steady margin is off) of every frame of the raw
        buffer ``energy`` (shapes (n,), float32), the floors and the peak over the frames not marked
        ``unheard`` (shape (n,), bool); ``final``: the stream ended."""
        intensity, level = self._intensity.update(energy, unheard, final)
        if intensity is None:  # (update gives the values unless told not to)
            raise AssertionError("the intensity's update gave no values")
        _, floor = self._floor.update(energy, unheard, final, values=False)
        slow = floor if self._slow is None else self._slow.update(energy, unheard, final, values=False)[1]
        return intensity, floor, level, slow

    def cut(self, rows: int) -> None:
        """Drop the first ``rows`` frames, as the raw buffer does (ValueError, and nothing dropped,
        if a smoothing still reads them)."""
        smoothed = [c for c in (self._intensity, self._floor, self._slow) if c is not None]
        keep = min(c.droppable for c in smoothed)
        if rows > keep:
            raise ValueError(f"cannot drop {rows} frames: the smoothing still reads all but the first {keep}")
        for c in smoothed:
            c.cut(rows)
