"""Call segmentation: speech and silence on the capture clock, in 20 ms frames of either leg."""

from __future__ import annotations

import collections

import numpy as np

from .sources import Chunk

PREROLL_S = 1.0
"""Audio kept before a call's onset: the call's clock starts there."""
ONSET_S = 0.25
"""Speech within one second that makes an onset."""
FRAME_S = 0.02
SPEECH_DBFS = -48.0
"""A 20 ms frame of either leg louder than this counts as speech."""


class Segmenter:
    """Speech/silence bookkeeping on the source clock (seconds)."""

    def __init__(self, rate: int, speech_dbfs: float = SPEECH_DBFS) -> None:
        self.rate = rate
        self.frame = int(rate * FRAME_S)
        self.speech_dbfs = speech_dbfs
        self.last_speech: float | None = None  # end of the last voiced frame
        self.prev_speech: float | None = None  # last speech before the current onset window
        self._recent: collections.deque[float] = collections.deque()  # voiced frame times, last 1 s

    def feed(self, chunk: Chunk) -> bool:
        """Update with a chunk; True when speech onset (ONSET_S voiced within 1 s) is present."""
        x = chunk.samples
        n = len(x) // self.frame
        if n:
            fr = x[:n * self.frame].reshape(n, self.frame, x.shape[1]).astype(np.float64)
            db = 10 * np.log10(np.mean(fr ** 2, axis=1) + 1e-12)  # (n, legs)
            voiced = np.flatnonzero((db > self.speech_dbfs).any(axis=1))
            if len(voiced):
                ends = chunk.t0 + (voiced + 1) * FRAME_S
                if not self._recent and self.last_speech is not None:
                    self.prev_speech = self.last_speech  # speech resumes: remember where it stopped
                self._recent.extend(ends.tolist())
                self.last_speech = float(ends[-1])
        end = chunk.t0 + len(x) / self.rate
        while self._recent and self._recent[0] < end - 1.0:
            self._recent.popleft()
        return len(self._recent) * FRAME_S >= ONSET_S

    def silence_before_onset(self) -> float:
        if self.prev_speech is None:
            return float("inf")
        onset_t = self._recent[0] - FRAME_S if self._recent else (self.last_speech or 0.0)
        return onset_t - self.prev_speech

    def silence_s(self, now: float) -> float:
        return float("inf") if self.last_speech is None else now - self.last_speech
