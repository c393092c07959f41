"""``call-monitor analyze FILE...``: per-file acoustic summary."""

from __future__ import annotations

import argparse
import math
import numbers
from typing import TYPE_CHECKING, Iterable, Iterator

from ..console import error, one_line, warning
from ..events import json_line
from ..stops import stopped_by, stops_held
from .common import ExitStatus, channel_number

if TYPE_CHECKING:  # the implementation is imported when the command runs (monitor.commands)
    import numpy as np

    from ..capture.audio_files import AnalysisStream

BATCH_S = 10.0
"""Audio handed to the analyzer at a time. Nobody waits on ``analyze``'s frames, so it batches
more than live capture does: the analyzer's fixed cost per batch is then paid once per 10 s
(the file is still read in 1 s blocks, so a recording that breaks off loses at most one)."""

JSON_KEYS = ("file", "channel", "duration_s", "sample_rate", "speech_s", "syllables", "speech_rate_sps",
             "articulation_rate_sps", "pauses", "pause_ratio", "mean_pause_s", "phrases", "mean_phrase_s",
             "f0_median_hz", "hnr_db", "cpps_db", "loudness_dbfs", "breaths", "breaths_per_min", "coughs")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="acoustic summary of recordings (speech rate, pauses, voice)",
                       description="Analyse each FILE (WAV, FLAC, OGG, MP3) and print a summary per file.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="a recording (WAV, FLAC, OGG, MP3); several are analysed one after the other")
    p.add_argument("--channel", type=channel_number, default=None, metavar="N",
                   help="analyse channel N only (0 = left, 1 = right); default: mix all channels")
    p.add_argument("--json", action="store_true", help="one JSON object per file, one per line")
    p.set_defaults(run=run)


def analyze_file(path: str, channel: int | None) -> tuple[dict, "AnalysisStream"]:
    """Summary record of one file and its stream (``truncated``, ``problems()``). Raises AudioFileError.

    Frames are reduced batch by batch (:class:`~monitor.analysis.span_stream.SpanAccumulator`), so memory
    stays flat whatever the recording's length."""
    from ..analysis.analyzer import WITH_SOUND_CLASS, StreamingAnalyzer
    from ..capture.audio_files import AnalysisStream
    from ..analysis.span_stream import SpanAccumulator
    stream = AnalysisStream(path, [channel] if channel is not None else None)
    analyzer = StreamingAnalyzer(stream.rate, WITH_SOUND_CLASS)
    acc = SpanAccumulator()
    for frames in analyzer.iter_chunks(_batches(stream, int(BATCH_S * stream.rate))):
        acc.add(frames)
    duration = stream.duration_s
    m = acc.result(duration)
    record = {"file": path, "channel": channel if channel is not None else "mix",
              "sample_rate": stream.info.rate, **m.as_dict()}
    record["duration_s"] = duration
    if not m.speech_s:  # the speech rate is a measure of speech, undefined without it (0 in a monitor's cue window)
        record["speech_rate_sps"] = None
    record["breaths_per_min"] = m.breaths / duration * 60.0 if duration > 0 else None
    return {k: _round(record[k]) for k in JSON_KEYS} | {"syllables_per_phrase": _round(m.syllables_per_phrase)}, \
        stream


def _batches(blocks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """First channel of consecutive blocks (n, channels), joined into pieces of at least ``size``."""
    import numpy as np
    pending: list[np.ndarray] = []
    held = 0
    for block in blocks:
        pending.append(block[:, 0])
        held += len(block)
        if held >= size:
            yield np.concatenate(pending)
            pending, held = [], 0
    if pending:
        yield np.concatenate(pending)


def _round(v):
    if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral):  # Python and numpy floats
        return round(float(v), 4) if math.isfinite(v) else None
    return v


def _human(rec: dict) -> str:
    def f(key: str, unit: str = "", nd: int = 2) -> str:
        v = rec[key]
        return "n/a" if v is None else f"{v:.{nd}f}{unit}"
    return (f"{one_line(rec['file'])} [channel {rec['channel']}, {rec['sample_rate']} Hz, {rec['duration_s']:.1f} s]\n"
            f"  speech {rec['speech_s']:.1f} s, {rec['syllables']} syllables; "
            f"speech rate {f('speech_rate_sps', '/s')}, articulation rate {f('articulation_rate_sps', '/s')}\n"
            f"  pauses {rec['pauses']} (ratio {f('pause_ratio')}, mean {f('mean_pause_s', ' s')}); "
            f"phrases {rec['phrases']} (mean {f('mean_phrase_s', ' s')})\n"
            f"  F0 median {f('f0_median_hz', ' Hz', 0)}, HNR {f('hnr_db', ' dB', 1)}, "
            f"CPPS {f('cpps_db', ' dB', 1)}, loudness {f('loudness_dbfs', ' dBFS', 1)}\n"
            f"  breaths {rec['breaths']} ({f('breaths_per_min', '/min', 1)}), coughs {rec['coughs']}")


def _too_quiet(rec: dict) -> str | None:
    """The line that says a recording's speech is too quiet to measure (None when it is not)."""
    from ..analysis.analyzer import WITH_SOUND_CLASS
    from ..analysis.leg_tally import quiet_message, too_quiet
    from ..config.schema import AnalysisConfig
    from ..cue_registry import shown_min_speech_s
    floor = WITH_SOUND_CLASS.vad.absolute_min_db
    if not too_quiet(rec["loudness_dbfs"], floor, rec["speech_s"], shown_min_speech_s(AnalysisConfig().window_speech_s)):
        return None
    what = "the channel mix" if rec["channel"] == "mix" else f"channel {rec['channel']}"
    return quiet_message(rec["file"], what, rec["loudness_dbfs"], floor)


MIXED = "--channel N analyses channel N alone"
"""How ``analyze`` is told to read one channel of a recording rather than mix them all."""


def _not_summarised(left: int) -> str:
    """What a stop leaves unsaid: this file's summary and those of the ``left - 1`` files after it."""
    after = {1: "", 2: " or of the file after it"}.get(left, f" or of the {left - 1} files after it")
    return f"no summary of it{after}"


def run(args: argparse.Namespace) -> int:
    failed = done = 0
    try:
        for path in args.files:
            summary = _summary(path, args)
            with stops_held():  # a stop while the summary is printed comes once it is counted
                if summary is None:
                    failed += 1
                else:
                    print(summary, flush=True)
                done += 1
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: the summaries printed stand
        if done < len(args.files):
            error(f"{args.files[done]}: {stopped_by(stop)} while it was analysed: "
                  f"{_not_summarised(len(args.files) - done)}")
        raise
    return ExitStatus.FAILED if failed else ExitStatus.OK


def _summary(path: str, args: argparse.Namespace) -> str | None:
    """The summary of the recording ``path`` to print, its warnings said; None (its one error line
    said) when it cannot be analysed."""
    from ..capture.audio_files import AudioFileError, audio_breaks_off, no_sound, silent_in_mix, unread_channels
    try:
        rec, stream = analyze_file(path, args.channel)
    except AudioFileError as err:
        error(str(err))
        return None
    if args.channel is None and (mixed := unread_channels(stream.info.channels, None, MIXED)):
        warning(f"{path}: {mixed}")
    if args.channel is None and (silent := silent_in_mix(stream.info.channels, stream.silent_channels(), MIXED)):
        warning(f"{path}: {silent}")
    if stream.truncated:
        warning(audio_breaks_off(path, "analysed", rec["duration_s"]))
    if stream.problems():
        warning(f"{path}: {stream.problems()}")
    if soundless := no_sound(stream.info.channels, stream.silent_channels(), args.channel):
        warning(f"{path}: {soundless}")
    if quiet := _too_quiet(rec):
        warning(quiet)
    return json_line(rec) if args.json else _human(rec)
