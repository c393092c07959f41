"""A call whose two legs are two recordings: the caller's file and the agent's, one channel each and
started together (as many call recorders keep a call), read as one source with the legs of a
stereo recording's.

Each file is read as a stereo recording's channel is (:class:`~monitor.capture.audio_files.AnalysisStream`:
checked at the edge, repaired, high-passed), both converted to one analyzer rate: that of the lower
of the two files' rates (:func:`~monitor.capture.audio_files.analysis_rate`), so that neither leg is
measured on a band its file does not hold. A leg whose file ends first is filled with silence for the
rest of the call, that time not heard (as live audio that did not come: no pause of its speaker,
nothing judged of it); files whose lengths lie far apart (:data:`LENGTHS_APART_S`) are said in one
warning line, since two legs recorded together end together.
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from .audio_files import AnalysisStream, AudioFileError, AudioInfo, analysis_rate, probe
from .same_legs import LegsAlike
from .sources import Chunk, RecordingFlaws, Unheard, paced_chunks

LENGTHS_APART_S = 5.0
"""Seconds by which the two files' lengths (from their headers) may differ unsaid: a recorder's two
legs of one call end within a second or so of each other; further apart, the files may not be one
call's, or one leg's recording started late (its audio then lies early against the other leg's)."""

ONE_CHANNEL_EACH = "each leg's own file is mono, read from its one channel"
"""Why a channel option or column beside the agent's own file contradicts it (replay's and report's
``--agent``, a manifest's ``agent_path``)."""

LEG_FILE_CHANNELS = {"caller": 0, "agent": 0}
"""The channel each leg is read from, in its own file: what a stored call of two files keeps as its
channels (a report reads each leg's file's one channel)."""


def same_file(a: str, b: str) -> bool:
    """Whether the names ``a`` and ``b`` reach one file (a link, another spelling of the path)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def leg_info(path: str) -> AudioInfo:
    """The header of a leg's own file (:func:`~monitor.capture.audio_files.probe`), which must have
    one channel. Raises AudioFileError naming the file."""
    info = probe(path)
    if info.channels != 1:
        raise AudioFileError(path, f"has {info.channels} channels: a leg's own file is mono (a recording of both "
                                   "legs is given alone, its legs read from its channels)")
    return info


def lengths_apart(caller: AudioInfo, agent: AudioInfo) -> str | None:
    """One phrase for the warning line of two legs' files whose lengths differ by more than
    :data:`LENGTHS_APART_S` (None otherwise, or where a header gives no length)."""
    if caller.duration_s is None or agent.duration_s is None:
        return None
    gap = agent.duration_s - caller.duration_s
    if abs(gap) <= LENGTHS_APART_S:
        return None
    shorter = "agent's" if gap < 0 else "caller's"
    return (f"the {shorter} file is {abs(gap):.1f} s shorter ({caller.duration_s:.1f} s of the caller, "
            f"{agent.duration_s:.1f} s of the agent in {agent.path}): the legs of one call end together, so check "
            f"that they are the same call's, both started at its start; the {shorter} leg is not heard after its end")


def joined_legs(caller: Iterator[np.ndarray], agent: Iterator[np.ndarray]) -> Iterator[tuple[np.ndarray, Unheard]]:
    """Two legs' blocks, shape (n, 1) each, as blocks of both, shape (m, 2), each with the sample
    ranges in it that a leg's file did not fill: as far as every leg whose file goes on has come
    (a leg's blocks stay in step with the other's whatever their sizes), and once one leg's file
    has ended, the other's with silence in its place, that silence its leg's unheard range, as live
    audio that did not come is (:attr:`~monitor.capture.sources.Chunk.unheard`: no silence of the
    leg's speaker, nothing judged of it)."""
    legs = (caller, agent)
    held = [np.zeros((0, 1), np.float32), np.zeros((0, 1), np.float32)]
    going = [True, True]
    while any(going):
        for i in (0, 1):
            block = next(legs[i], None) if going[i] else None
            going[i] = going[i] and block is not None
            if block is not None:
                held[i] = np.concatenate([held[i], block])
        n = min(len(held[i]) for i in (0, 1) if going[i]) if any(going) else max(map(len, held))
        if n == 0:
            continue
        out = np.zeros((n, 2), np.float32)
        unheard = []
        for i in (0, 1):
            k = min(n, len(held[i]))
            out[:k, i] = held[i][:k, 0]
            held[i] = held[i][k:]
            if k < n:
                unheard.append((i, k, n))
        yield out, tuple(unheard)


class LegFilesSource:
    """A recorded call of two files: ``path`` the caller's leg, ``agent_path`` the agent's, mono each
    and started at the call's start. Read as a :class:`~monitor.capture.sources.FileSource` of a
    stereo recording is (its ``channels``, ``legs``, ``info``, ``flaws`` and the rest), so that replay,
    batch and the report take either.

    Raises AudioFileError (naming the file) for a file that cannot be read, one that has more than
    one channel, and the caller's file given as the agent's too.
    """

    def __init__(self, path: str | os.PathLike, agent_path: str | os.PathLike, *, realtime: bool = False,
                 block_s: float = 0.5) -> None:
        self.path, self.agent_path = os.fspath(path), os.fspath(agent_path)
        caller = leg_info(self.path)
        if same_file(self.path, self.agent_path):
            raise AudioFileError(self.agent_path, "is the caller's file too: the agent's leg is a recording of its own")
        agent = leg_info(self.agent_path)
        self.rate = analysis_rate(min(caller.rate, agent.rate))
        self._streams = tuple(AnalysisStream(info.path, [0], block_s=block_s, info=info, rate=self.rate)
                              for info in (caller, agent))
        self.channels = dict(LEG_FILE_CHANNELS)
        self.legs = tuple(self.channels)
        longest = max(caller.duration_s or 0.0, agent.duration_s or 0.0)
        self.info = AudioInfo(self.path, caller.rate, 2, None if None in (caller.frames, agent.frames)
                              else round(longest * caller.rate), caller.format, caller.subtype)
        """The two files as one recording of two channels: the caller's file's rate and format, the longer file's length."""
        self.legs_not_there = lengths_apart(caller, agent)
        """Their lengths far apart: the phrase of the warning naming the caller's file, else None."""
        self.realtime = realtime
        self._stopped = False
        self._alike = LegsAlike(self.rate)

    @property
    def truncated(self) -> bool:
        """The caller's file broke off (the agent's: one of its :meth:`problems`)."""
        return self._streams[0].truncated

    @property
    def duration_s(self) -> float:
        return max(stream.duration_s for stream in self._streams)

    def stop(self) -> None:
        self._stopped = True

    def unread_channels(self, choose: str = "") -> str | None:
        """None: each file's one channel is read."""
        return None

    def problems(self) -> str | None:
        """After the chunks: what was wrong with either file (the agent's named, and where it broke off), or None."""
        caller, agent = self._streams
        theirs = [agent.problems()] + ([f"truncated or damaged, its audio breaks off at {agent.duration_s:.2f} s "
                                        "(its leg not heard after)"] if agent.truncated else [])
        said = [caller.problems()] + [f"the agent's file {self.agent_path}: {p}" for p in theirs if p]
        return "; ".join(p for p in said if p) or None

    def same_legs(self) -> str | None:
        """After the chunks: why the two files read as the same audio (:class:`LegsAlike`), else None."""
        return self._alike.same()

    def flaws(self) -> RecordingFlaws:
        """After the chunks: where the caller's file broke off, and what was wrong with either file."""
        return RecordingFlaws(self._streams[0].duration_s if self.truncated else None, self.problems() or "")

    def leg_places(self) -> tuple[str, str]:
        """Its two files: the caller's and the agent's."""
        return self.path, self.agent_path

    def chunks(self) -> Iterator[Chunk]:
        blocks = joined_legs(*(iter(stream) for stream in self._streams))
        return paced_chunks(blocks, self.rate, self.realtime, self._alike, lambda: self._stopped)


def leg_files_problem(path: str, agent_path: str) -> str | None:
    """Why :class:`LegFilesSource` cannot open these two files at all, in one line naming the file;
    None when it can. Read from the headers, as the source opens them."""
    try:
        LegFilesSource(path, agent_path)
    except AudioFileError as err:
        return str(err)
    return None
