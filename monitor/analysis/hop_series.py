"""A call's per-hop series, as its report draws them: per leg, the peak of the samples every 10 ms
and the analyzer's sound class of every frame (its speech mask, breaths and coughs).

The call pipeline keeps them as it analyses the call (:class:`HopSeries`), and the call's end
writes them whole to a small file (:func:`write_series`), so that the report of the stored call
reads them (:func:`read_series`) instead of analysing its audio again. The file is NumPy's
``.npz`` (no pickles): a version, what it belongs to (database, call id, the audio's rate, legs
and length) and two arrays per leg.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from typing import Any, BinaryIO, Mapping, Sequence

import numpy as np

from ..dsp.sound_class import SPEECH
from .analyzer import AnalyzerConfig, frame_times
from .frame_features import HOP_S, Frames

SERIES_VERSION = 1
"""The file's layout: a file of another version is not read (the report analyses the audio)."""


class SeriesFileError(Exception):
    """A series file that cannot be used; ``str(err)`` names the file and the problem."""


@dataclass(frozen=True)
class LegSeries:
    """One leg: the peak of ``|samples|`` per 10 ms (shape (m,), float32) and the sound class of each
    frame (shape (n,), uint8; frame ``i`` centred at ``frame_times(rate, 0, n, window_s)[i]``)."""

    peak: np.ndarray
    sound: np.ndarray


@dataclass(frozen=True)
class CallSeries:
    """A call's series and what they belong to."""

    rate: int
    window_s: float
    duration_s: float
    legs: dict[str, LegSeries]
    channels: Mapping[str, int]
    """The recording's channel of each leg."""
    call_id: int | None = None
    database: str = ""

    def times(self, leg: str) -> np.ndarray:
        """Centres in seconds of ``leg``'s frames (shape (n,))."""
        return frame_times(self.rate, 0, len(self.legs[leg].sound), self.window_s)


BLOCK_BYTES = 1 << 16
"""The size of each block a leg's series is written into (64 KiB: 164 s of peaks, 11 min of sound
classes), made as the last one fills: a call of hours holds its series in a few dozen arrays, and
at most a block each unused."""


class _Blocks:
    """A growing 1-D array of ``dtype``, taken in pieces (:meth:`add`) and written in place into blocks
    of :data:`BLOCK_BYTES`, so that a call of hours holds little more than its data, in a few
    allocations: pieces kept as arrays of their own (a live call's 0.1 s chunks bring 10 peaks each, a
    replay's 10 s chunks 1000) cost several times their data, and as hundreds of allocations kept for
    the whole call among the analysis's passing ones they held the heap around them (a replay without
    words grew 6-10 MB over 31 min of call for 1.9 MB of series; written in blocks, 3.5-4.4 MB)."""

    def __init__(self, dtype: type) -> None:
        self.dtype = np.dtype(dtype)
        self._size = BLOCK_BYTES // self.dtype.itemsize
        self._blocks: list[np.ndarray] = []
        self._filled = 0  # of the last block

    def add(self, piece: np.ndarray) -> None:
        """Append ``piece`` (shape (k,); copied, as ``dtype``)."""
        while len(piece):
            if not self._blocks or self._filled == self._size:
                self._blocks.append(np.empty(self._size, self.dtype))
                self._filled = 0
            n = min(len(piece), self._size - self._filled)
            self._blocks[-1][self._filled:self._filled + n] = piece[:n]
            self._filled += n
            piece = piece[n:]

    def whole(self, *more: np.ndarray) -> np.ndarray:
        """Every piece taken, then ``more``, as one array (shape (total,))."""
        parts = [*self._blocks]
        if parts:
            parts[-1] = parts[-1][:self._filled]
        parts += more
        return np.concatenate(parts).astype(self.dtype, copy=False) if parts else np.zeros(0, self.dtype)


class HopSeries:
    """Gathers a call's :class:`CallSeries` from its chunks (:meth:`chunk`) and each leg's frames
    (:meth:`frames`), as they come."""

    def __init__(self, rate: int, legs: Sequence[str], channels: Mapping[str, int] | None = None,
                 window_s: float = AnalyzerConfig().window_s) -> None:
        """``channels``: the recording's channel of each leg (None: not known)."""
        self.rate = rate
        self.legs = tuple(legs)
        self.channels = dict(channels or {})
        self.window_s = window_s
        self.hop = int(round(rate * HOP_S))
        self._carry = [np.zeros(0, np.float32) for _ in self.legs]
        self._peaks = [_Blocks(np.float32) for _ in self.legs]
        self._sound = {leg: _Blocks(np.uint8) for leg in self.legs}
        self._n = dict.fromkeys(self.legs, 0)
        self.regular = True
        """Every frame came in order, its ``t`` :func:`frame_times`' and its speech its sound class's
        (as the analyzer makes them): the series say the frames whole."""

    def chunk(self, samples: np.ndarray) -> None:
        """Take the samples of a chunk (shape (n, legs))."""
        for i in range(len(self.legs)):
            x = np.concatenate([self._carry[i], np.abs(samples[:, i]).astype(np.float32)])
            n = len(x) // self.hop
            if n:
                self._peaks[i].add(x[:n * self.hop].reshape(n, self.hop).max(axis=1))
            self._carry[i] = x[n * self.hop:].copy()  # not a view holding the whole chunk's copy

    def frames(self, leg: str, frames: Frames) -> None:
        """Take the next frames of ``leg``."""
        if not len(frames):
            return
        first = self._n[leg]
        sound = np.asarray(frames.sound, dtype=np.uint8)
        self.regular = self.regular and bool(
            np.array_equal(frames.t, frame_times(self.rate, first, first + len(frames), self.window_s))
            and np.array_equal(np.asarray(frames.speech, bool), sound == SPEECH))
        self._sound[leg].add(sound)
        self._n[leg] = first + len(frames)

    def series(self, duration_s: float) -> CallSeries:
        """What was gathered, of a call of ``duration_s``."""
        legs = {}
        for i, leg in enumerate(self.legs):
            rest = [np.array([self._carry[i].max()], np.float32)] if len(self._carry[i]) else []
            legs[leg] = LegSeries(self._peaks[i].whole(*rest), self._sound[leg].whole())
        return CallSeries(self.rate, self.window_s, float(duration_s), legs, self.channels)


def write_series(fh: BinaryIO, series: CallSeries) -> None:
    """Write ``series`` to the binary file ``fh`` (``.npz``), as it is: the caller makes it whole
    (:func:`~monitor.files.replaced`)."""
    meta = {"version": SERIES_VERSION, "rate": series.rate, "window_s": series.window_s,
            "duration_s": series.duration_s, "legs": list(series.legs), "channels": dict(series.channels),
            "call_id": series.call_id, "database": series.database}
    arrays: dict[str, Any] = {"meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)}
    for i, s in enumerate(series.legs.values()):
        arrays[f"peak{i}"], arrays[f"sound{i}"] = s.peak, s.sound
    np.savez_compressed(fh, **arrays)


def read_series(path: str) -> CallSeries:
    """The series in ``path``; SeriesFileError when it cannot be read whole (missing, truncated,
    not a series file) or is of another :data:`SERIES_VERSION`."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes().decode())
            if not isinstance(meta, Mapping) or meta.get("version") != SERIES_VERSION:
                version = meta.get("version") if isinstance(meta, Mapping) else None
                raise SeriesFileError(f"{path}: series of version {version}, not {SERIES_VERSION}")
            legs = {leg: LegSeries(npz[f"peak{i}"], npz[f"sound{i}"]) for i, leg in enumerate(meta["legs"])}
            if any(s.peak.dtype != np.float32 or s.sound.dtype != np.uint8 or s.peak.ndim != 1 or s.sound.ndim != 1
                   for s in legs.values()):
                raise SeriesFileError(f"{path}: not a call's series (arrays of the wrong kind)")
            channels = {str(leg): int(c) for leg, c in dict(meta["channels"]).items()}
            return CallSeries(int(meta["rate"]), float(meta["window_s"]), float(meta["duration_s"]), legs, channels,
                              meta.get("call_id"), str(meta.get("database", "")))
    except FileNotFoundError:
        raise SeriesFileError(f"{path}: no such file") from None
    except SeriesFileError:
        raise
    except (OSError, ValueError, KeyError, TypeError, EOFError, UnicodeDecodeError, zipfile.BadZipFile) as err:
        raise SeriesFileError(f"{path}: not a whole series file ({type(err).__name__}: {err})") from None
