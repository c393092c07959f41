"""Music (hold music played on the caller's leg): not the caller's speech.

A call put on hold without the softphone saying so, or a recorded call replayed without its hold,
fills the caller's leg with music at the caller's own level: a melody's notes read as syllables
at 1.4-2 a second, the gaps between its phrases as pauses. A note holds its partials at fixed
frequencies for 100-1000 ms, then the next note's partials appear at once, away from the last's,
and stay. Speech never holds its harmonics still for 40 ms (its F0 moves), and a held vowel,
whose harmonics do stay nearly still, changes them only by drifting, never by a jump to new
frequencies between two steady stretches. Three vectorised stages, on the same 64 ms spectra of
every :data:`~monitor.dsp.tones.TONE_EVERY`-th frame (by absolute index) as the tone test:

1. :func:`partials` (raw): the local maxima of the 300-3400 Hz band's power within ``peak_db`` of
   the strongest (the partials), and those within ``strong_db`` of it (the strong ones), as
   packed bits;
2. :func:`steady_and_changes` (contextual): the frames from one measured frame to the next are
   steady where at least ``min_overlap`` of their partials (of the union of the two) are at the
   same bins; a measured frame is a change where it has a strong partial near (within a bin) no
   partial of the two measured frames before it, and kept (within a bin) by the two after it,
   the two before steady together and the two after too;
3. :func:`music_frames`: a frame of an audible or voice-active sound is music where, from
   ``back_frames`` before it to ``ahead_frames`` after it in that sound, at least ``min_share`` of
   its frames are steady and at least ``min_changes`` frames are changes, unless it lies in a run
   of ``speech_frames`` or more frames with no steady pair: a word spoken over music in the
   background, its harmonics moving while the music around it holds its notes.

Measured (research/music/README.md): no frame of the 32 shared held vowels, of the shared real
speech or of the fixture calls is music; synthetic hold music of notes up to 0.5 s (piano-like,
organ, plucked, pop with drums), at 16 and 8 kHz, clean, through G.711 or under line noise, is
music over most of its frames. Notes bent by vibrato (strings, flute) and melodies slower than
two notes in 1.4 s are not found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .runs import drop_short
from .sound_class import event_means
from .tones import BAND_BINS, TONE_EVERY

PARTIAL_BYTES = 2 * ((BAND_BINS + 7) // 8)
"""Columns of :func:`partials`' rows: the packed bits of the band's partials, then of the strong ones."""
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)  # the set bits of each byte
_POPCOUNT.flags.writeable = False


@dataclass(frozen=True)
class MusicParams:
    """Settings of the music test; frame counts at the 10 ms hop."""

    enabled: bool = True
    peak_db: float = 30.0       # a local maximum of the band's power this close to the strongest is a partial
    strong_db: float = 12.0     # a partial this close to the strongest is a strong one (a note's own)
    min_overlap: float = 0.5    # two measured frames in a row are steady where this share of their
                                # partials (of the union of both) are at the same bins
    back_frames: int = 100      # a sound's frame is music where, from this many frames before it ...
    ahead_frames: int = 70      # ... to this many after it, in the same sound,
    min_share: float = 0.5      # at least this share is steady ...
    min_changes: int = 2        # ... and at least this many frames are changes (new notes)
    speech_frames: int = 24     # but no frame of a run this long with no steady frame (the moving
                                # harmonics of a word over music under it; a melody's notes part after 1-2 pairs)

    @property
    def context_frames(self) -> tuple[int, int]:
        """Frames before and after a frame that its music decision depends on (beyond the audible events')."""
        return (max(self.back_frames, self.speech_frames) + 3 * TONE_EVERY,
                max(self.ahead_frames, self.speech_frames) + 3 * TONE_EVERY)


def partials(power: np.ndarray, params: MusicParams) -> np.ndarray:
    """The partials and strong partials of band power spectra, as packed bits.

    Parameters
    ----------
    power : np.ndarray [shape=(n, b)], float32  the band's power (see
        :func:`~monitor.dsp.tones.band_spectrum`)

    Returns
    -------
    bits : np.ndarray [shape=(n, 2 * ceil(b / 8))], uint8  ``np.packbits`` of the partials' bins
        (local maxima within ``peak_db`` of the row's strongest), then of the strong ones' (within
        ``strong_db``)
    """
    n, b = power.shape
    k = (b + 7) // 8
    out = np.zeros((n, 2 * k), np.uint8)
    if n == 0 or b < 3:
        return out
    top = power.max(axis=1, keepdims=True)
    peak = np.zeros((n, b), bool)
    inner, mid = peak[:, 1:-1], power[:, 1:-1]
    np.greater(mid, power[:, :-2], out=inner)
    inner &= mid >= power[:, 2:]
    inner &= mid > top * np.float32(10 ** (-params.peak_db / 10))
    out[:, :k] = np.packbits(peak, axis=1)
    peak &= power >= top * np.float32(10 ** (-params.strong_db / 10))  # the strong ones
    out[:, k:] = np.packbits(peak, axis=1)
    return out


def steady_and_changes(bits: np.ndarray, first: int, params: MusicParams) -> np.ndarray:
    """Steady frames and changes from the partials of every :data:`TONE_EVERY`-th frame.

    Parameters
    ----------
    bits : np.ndarray [shape=(n, 2 * k)], uint8  :func:`partials` of the frames whose absolute
        index is a multiple of :data:`TONE_EVERY` (the other rows are not read; a row of zeros:
        no partial, a frame not measured)
    first : int  absolute index of the first row

    Returns
    -------
    marks : np.ndarray [shape=(n, 2)], float32, 0 or 1  steady (each frame from a measured frame
        to the next, where the two are steady together) and change (the measured frame itself)
    """
    n = len(bits)
    marks = np.zeros((n, 2), np.float32)
    own = (-first) % TONE_EVERY
    rows = bits[own::TONE_EVERY]
    m = len(rows)
    if m < 5:
        return marks
    k = rows.shape[1] // 2
    packed = rows[:, :k]
    # the partials of each row and those two rows in a row share, in one pass over the bytes
    sums = np.add.reduce(_POPCOUNT.take(np.concatenate([packed, packed[1:] & packed[:-1]])), axis=1, dtype=np.intp)
    count, both = sums[:m], sums[m:]
    pair = (both > 0) & (both >= params.min_overlap * (count[1:] + count[:-1] - both))  # rows j, j + 1
    if not np.count_nonzero(pair):  # (speech nearly always)
        return marks
    held = marks[own:own + TONE_EVERY * (m - 1), 0].reshape(-1, TONE_EVERY)  # the frames from one row to the next
    held[:] = pair[:, None]
    # a change at row j (2 <= j < m - 2): the two rows before it steady together, and the two after
    at = np.flatnonzero(pair[:-3] & pair[3:]) + 2
    if len(at):
        peak = np.unpackbits(packed, axis=1).view(bool)
        near = peak.copy()
        near[:, 1:] |= peak[:, :-1]
        near[:, :-1] |= peak[:, 1:]
        strong = np.unpackbits(rows[at, k:], axis=1).view(bool)
        # ... and a strong partial near none of rows j-1, j-2, near ones of rows j+1, j+2
        fresh = strong & ~near[at - 1] & ~near[at - 2] & near[at + 1] & near[at + 2]
        marks[own + TONE_EVERY * at, 1] = fresh.any(axis=1)
    return marks


def music_frames(marks: np.ndarray, audible: np.ndarray, params: MusicParams) -> np.ndarray:
    """Frames of music: audible frames where, from ``back_frames`` before to ``ahead_frames``
    after them in their sound, at least ``min_share`` of the frames are steady and at least ``min_changes`` are changes,
    but none of a run of at least ``speech_frames`` frames none of which is steady: a caller's word
    over music in the background (the stretch around it steady, the word's harmonics moving).

    Parameters
    ----------
    marks : np.ndarray [shape=(n, 2)], float32  :func:`steady_and_changes`
    audible : np.ndarray [shape=(n,)], bool  the frames of audible sounds

    Returns
    -------
    music : np.ndarray [shape=(n,)], bool
    """
    means, length = event_means(audible, marks, params.back_frames, ahead=params.ahead_frames)
    music = audible & (means[:, 0] >= params.min_share) & (means[:, 1] * length >= params.min_changes - 0.5)
    return music & ~drop_short(marks[:, 0] == 0, params.speech_frames)
