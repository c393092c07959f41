"""The call timeline as one PNG (matplotlib, Agg backend; imported only when a report is made).

Rows, all on the call's time axis: waveform of both legs with speech and pause regions (or
the caller's speech activity when no audio is available), speech rate, pause ratio, phrase
length, CPPS and HNR, loudness, then the transcript. Each cue row shows the caller's
baseline band (q1-q3) and its median; alerts are vertical markers coloured by severity,
labelled above the top row (a label begins at its marker, or ends there where it would run off
the picture), and the span during which an alert was active is shaded on the row of its cue.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shlex
import textwrap
import warnings
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..alerts.evidence import fmt_duration, fmt_time
from ..alerts.meaning import kind_name
from ..cue_registry import SPEECH_CUES, shown_min_speech_s
from ..cue_registry import panels as registry_panels
from .data import ReportData

log = logging.getLogger(__name__)

SEVERITY_COLOURS = MappingProxyType({"warning": "#e69f00", "critical": "#d62728"})
LABEL_COLOURS = MappingProxyType({"warning": "#9c6500", "critical": "#d62728"})
"""An alert's label in the picture: its line's colour, darkened where that is under WCAG AA's 4.5:1 on
the white (the warning's orange is 2.3:1)."""
MUTED = "#5e5e5e"
"""A note where a panel has nothing to draw (the page's muted words' grey, 6:1 on white)."""
CALLER = "#1f5fa8"
AGENT = "#8c8c8c"
PAUSE = "#f0a030"
BAND = "#2ca02c"
DISTRESS = "#c00000"
BREATH = "#9467bd"
COUGH = "#8c564b"
STOPPED = "#8c6d46"
"""The title's colour for a call whose monitoring stopped part-way (the page's banner's)."""
PLAIN_TEXT = MappingProxyType({"text.parse_math": False})
"""The picture draws every text as written: a file name, a word or a label with two "$" in it is
no formula (matplotlib's default draws what lies between them as TeX mathtext, "$5 and $" in italics
without its dollars)."""
MAX_ENVELOPE_POINTS = 6000
QUIET_PEAK = 10 ** (-40 / 20)
"""A leg is scaled to its own peak, but never to one below -40 dBFS: a silent or muted leg's hiss
(1 LSB of 16-bit is -90 dBFS) is drawn as the near-flat line it is, not as a full-height band."""
MISSING_GLYPH = r"Glyph \d+ .* missing from font"
"""matplotlib's warning, once per character, for a character its font cannot draw (a Korean
transcript with only DejaVu installed): the picture draws a box, and its title or transcript panel says
where the characters are (:func:`boxes_note`)."""
FIG_WIDTH_IN, FIG_HEIGHT_IN = 14.0, 15.0
PLOT_LEFT, PLOT_RIGHT = 0.06, 0.985
"""The picture's width and the share of it the timeline spans."""
PLOT_TOP = 0.91
"""Where the timeline's top row ends, a share of the picture's height, under a title of one line;
each further line of the title moves it down by the line's height (:func:`_draw`)."""
TITLE_PT, MIN_TITLE_PT = 12, 7
"""The size of the picture's title, in points, and the least it is made to fit the picture's width."""
TITLE_LINE_SPACING = 1.2
"""The height of a title's line, in its size (matplotlib's own line spacing)."""
TITLE_X = 0.01
"""The title's margin on either side, a share of the picture's width."""
LABEL_ROWS = 4
"""Rows of alert labels above the timeline."""
LABEL_PT = 7
"""The size of an alert label's text, in points."""
LABEL_GAP_PT = 2.0
"""The space between an alert's line and its label, in points."""
CLOCK_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
"""The spacings of the time axis's ticks a clock reads (0:30, 1:00, ...; never matplotlib's 50 s)."""
MAX_TICKS = 8
"""At most this many spaces between the time axis's ticks."""

def _pyplot():
    """matplotlib with the Agg backend; ImportError (caught by the command) when missing."""
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _reduce(t: np.ndarray, peak: np.ndarray, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    if len(peak) <= n_max:
        return t, peak
    k = int(np.ceil(len(peak) / n_max))
    n = len(peak) // k
    return t[:n * k].reshape(n, k).mean(axis=1), peak[:n * k].reshape(n, k).max(axis=1)


def _series(data: ReportData, cue: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.array([c.t for c in data.cues], dtype=float)
    v = np.array([np.nan if (x := c.value(cue)) is None else float(x) for c in data.cues], dtype=float)
    # windows without caller speech are no measurement at all; a cue of the caller's speech needs
    # enough of it (a breath rate over a moment of speech is none)
    least = shown_min_speech_s(data.window_speech_s) if cue in SPEECH_CUES else 0.0
    speech = np.array([(c.speech_s or 0.0) > 0 and (c.speech_s or 0.0) >= least for c in data.cues], dtype=bool)
    if len(v):
        v[~speech] = np.nan
    return t, v


def broken_at_gaps(t: np.ndarray, v: np.ndarray, gaps: Sequence[tuple[float, float]], *,
                   step_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A curve through cue snapshots at times ``t`` (in order) of values ``v``, with a NaN (where
    matplotlib breaks a line and a fill) inside each of ``gaps`` (:attr:`ReportData.cue_gaps`) that
    lies between two snapshots: a stretch with none stored is drawn as nothing, not as a straight
    line from the snapshot before it to the one after. For a curve drawn in steps that end at each
    snapshot (``where="pre"``), each ``step_s`` long, the NaN is where the step of the snapshot after
    the gap begins, that snapshot's value again after it: its step is drawn as every other one."""
    inside = [(a, b) for a, b in gaps if len(t) and t[0] <= a and b <= t[-1]]
    after = np.searchsorted(t, [b for _, b in inside]).astype(int)  # the snapshot after each gap
    if step_s is None:
        return np.insert(t, after, [(a + b) / 2 for a, b in inside]), np.insert(v, after, np.nan)
    begun = np.repeat([b - step_s for _, b in inside], 2)
    values = np.ravel([(np.nan, v[i]) for i in after])
    return np.insert(t, np.repeat(after, 2), begun), np.insert(v, np.repeat(after, 2), values)


def leg_scale(peak: np.ndarray) -> float:
    """The level a leg's waveform is drawn to full height at: its own peak, or :data:`QUIET_PEAK`."""
    return max(float(np.max(peak)) if len(peak) else 0.0, QUIET_PEAK)


def _waveform(ax: Any, data: ReportData) -> None:
    if data.tracks:
        offsets = {"caller": 1.0, "agent": -1.0}
        for leg, tr in data.tracks.items():
            y0 = offsets.get(leg, 0.0)
            colour = CALLER if leg == "caller" else AGENT
            t, p = _reduce(tr.env_t, tr.env_peak, MAX_ENVELOPE_POINTS)
            p = 0.75 * p / leg_scale(tr.env_peak)
            ax.fill_between(t, y0 - p, y0 + p, color=colour, linewidth=0, alpha=0.85)
            sign = 1.0 if y0 >= 0 else -1.0
            bars = [(a, b - a) for a, b in tr.speech]
            if bars:
                ax.broken_barh(bars, (sign * 0.05 if sign > 0 else -0.2, 0.15), color=colour, alpha=0.7,
                               linewidth=0)
            pauses = [(a, b - a) for a, b in tr.pauses]
            if pauses:
                ax.broken_barh(pauses, (0.05 if sign > 0 else -1.95, 1.9), color=PAUSE, alpha=0.3,
                               linewidth=0)
            for regions, colour_of in ((tr.breaths, BREATH), (tr.coughs, COUGH)):
                if regions:  # the breath lane: a strip along the leg's outer edge
                    ax.broken_barh([(a, b - a) for a, b in regions], (sign * 1.75 - 0.1, 0.2),
                                   color=colour_of, linewidth=0)
        ax.axhline(0, color="#cccccc", linewidth=0.5)
        ax.set_ylim(-2, 2)
        ax.set_yticks([1.0, -1.0] if len(data.tracks) > 1 else [1.0])
        ax.set_yticklabels(["caller", "agent"] if len(data.tracks) > 1 else ["caller"])
        ax.set_title("Waveform (each leg scaled to its own peak, or -40 dBFS if quieter); bars: speech, "
                     "shaded: caller's pauses, "
                     "outer strip: audible breaths (purple) and coughs (brown)",
                     loc="left", fontsize=9)
    else:
        t = np.array([c.t for c in data.cues], dtype=float)
        share = np.array([min(1.0, (c.speech_s or 0.0) / max(c.window_s or c.t, 1e-6))
                          for c in data.cues], dtype=float)
        t, share = broken_at_gaps(t, share, data.cue_gaps, step_s=data.snapshot_every_s)
        if len(t):
            ax.fill_between(t, 0, share, step="pre", color=CALLER, alpha=0.5, linewidth=0)
            ax.step(t, share, where="pre", color=CALLER, linewidth=1)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("speaking\nshare")
        ax.set_title("No audio available: caller's speech activity (share of each cue window spent "
                     "speaking) instead of the waveform", loc="left", fontsize=9)


def label_spans(x_pt: np.ndarray, widths_pt: np.ndarray, width_pt: float) -> np.ndarray:
    """Where the labels of alerts whose lines are ``x_pt`` points from the left end of a timeline
    ``width_pt`` points wide are drawn, in points from that end: each begins just after its line,
    or, where it would run past the timeline's right end, ends just before its line.
    Shapes: (n,), (n,) -> (n, 2) (start, end)."""
    widths = np.asarray(widths_pt, float)
    start = np.asarray(x_pt, float) + LABEL_GAP_PT
    start = np.where(start + widths > width_pt, start - 2 * LABEL_GAP_PT - widths, start)
    return np.stack([start, start + widths], axis=-1)


def label_rows(spans: np.ndarray, rows: int = LABEL_ROWS, first: np.ndarray | None = None) -> list[int | None]:
    """The row of each label drawn along ``spans`` (:func:`label_spans`, sorted by their alerts'
    times): the lowest row where it clears every label already placed. Labels ``first`` marks
    (critical alerts) are placed before the others; a label that clears no row, a critical one too
    (dozens of them on a call of hours), is left out (None: its alert keeps its line, and the report's
    table lists it): no two labels drawn overlap. Shapes: (n, 2), (n,) bool -> n rows."""
    start, end = spans[:, 0], spans[:, 1]
    first = np.zeros(len(spans), bool) if first is None else np.asarray(first, bool)
    placed: list[list[tuple[float, float]]] = [[] for _ in range(rows)]
    out: list[int | None] = [None] * len(spans)
    for i in [*np.flatnonzero(first), *np.flatnonzero(~first)]:  # one label at a time, a few hundred at most
        overlap = [sum(max(0.0, min(e, end[i]) - max(s, start[i])) for s, e in row) for row in placed]
        row = next((r for r, o in enumerate(overlap) if o == 0), None)
        if row is not None:
            placed[row].append((start[i], end[i]))
            out[i] = row
    return out


def text_width_pt(fig: Any, text: str, **font: Any) -> float:
    """How wide ``text`` is drawn in ``fig`` with ``font`` (FontProperties' keywords), in points."""
    from matplotlib.font_manager import FontProperties
    width, _, _ = fig.canvas.get_renderer().get_text_width_height_descent(text, FontProperties(**font), ismath=False)
    return width * 72.0 / fig.dpi


def _alert_markers(axes: list[Any], top: Any, data: ReportData, width_pt: float) -> None:
    alerts = sorted(data.alerts, key=lambda a: a.t)
    labels = [f"{kind_name(a.kind)} {fmt_time(a.t)}" for a in alerts]
    critical = np.array([a.severity == "critical" for a in alerts], bool)
    weights = ["bold" if c else "normal" for c in critical]
    widths = np.array([text_width_pt(top.figure, s, size=LABEL_PT, weight=w) for s, w in zip(labels, weights)])
    x = np.array([a.t for a in alerts], float) / max(data.duration_s, 1.0) * width_pt
    spans = label_spans(x, widths, width_pt)
    rows = label_rows(spans, first=critical)
    for a, label, weight, row, start, at in zip(alerts, labels, weights, rows, spans[:, 0], x):
        colour = SEVERITY_COLOURS.get(a.severity, "#555555")
        lw = 1.8 if a.severity == "critical" else 1.0
        for ax in axes:
            ax.axvline(a.t, color=colour, linewidth=lw, alpha=0.9, zorder=5)
        if row is not None:
            before = start < at  # ends at its line: begun there, it would run off the picture
            top.annotate(label, xy=(a.t, 1.0), xycoords=("data", "axes fraction"),
                         xytext=(-LABEL_GAP_PT if before else LABEL_GAP_PT, 14 + 9 * row), textcoords="offset points",
                         fontsize=LABEL_PT, color=LABEL_COLOURS.get(a.severity, "#555555"), rotation=0,
                         ha="right" if before else "left", va="bottom", annotation_clip=False, fontweight=weight)
    if (hidden := rows.count(None)):
        top.annotate(f"{hidden} of {len(alerts)} alert labels left out where they crowd (every alert's line is drawn)",
                     xy=(1.0, 1.0), xycoords="axes fraction", xytext=(0, 14 + 9 * LABEL_ROWS),
                     textcoords="offset points", fontsize=LABEL_PT, color="#555555", ha="right", va="bottom",
                     annotation_clip=False)


def _alert_spans(ax_for: dict[str, Any], data: ReportData) -> None:
    for a in data.alerts:
        cues = []
        ev = dict(a.evidence or {})
        if "cue" in ev:
            cues = [ev["cue"]]
        elif isinstance(ev.get("cues"), dict):
            cues = [v.get("cue") for v in ev["cues"].values() if isinstance(v, dict)]
        end = data.cleared_at(a)
        end = data.duration_s if end is None else end
        since = ev.get("since")
        start = float(since) if isinstance(since, (int, float)) and since <= a.t else a.t
        for cue in cues:
            ax = ax_for.get(cue)
            if ax is not None:
                ax.axvspan(start, end, color=SEVERITY_COLOURS.get(a.severity, "#999"), alpha=0.10,
                           linewidth=0, zorder=0)


def boxes_note(texts: Iterable[str], data: ReportData, in_page: bool, *, part: str, which: str) -> str:
    """"" where the picture's font draws every character of ``texts``; else what the boxes it draws
    are and where the characters are read: in the page's ``part`` ("transcript", for the picture
    in the HTML report: ``in_page``), else (a PNG alone, which has no page) in the HTML report, which
    ``report`` writes for an output ending in .html (``which``: "the words are")."""
    if not _lacks_glyphs(texts):
        return ""
    if in_page:
        return f"boxes: characters no font here draws; the page's {part} has them"
    return f"boxes: characters no font here draws; {which} in the HTML report: {html_report_command(data)}"


def html_report_command(data: ReportData) -> str:
    """The command that writes the HTML report of the call of ``data`` (by its id if stored, else
    its file's name, quoted for a shell where it needs it, where the picture's font draws it), for
    a PNG alone to send its reader to. A name a shell cannot be given as the line writes it (a line
    break written ``\\n``, which a shell reads as ``n``; one read as an option) is ``FILE``."""
    from ..console import one_line  # a name's line break written \n, as every line writes it
    name = os.path.basename(data.source)
    typed = bool(name) and one_line(name) == name and not name.startswith("-") and not _lacks_glyphs([name])
    again = str(data.call_id) if data.call_id is not None else shlex.quote(name) if typed else "FILE"
    return f"call-monitor report {again} -o report.html"


def left_out_note(left_out: int, data: ReportData, in_page: bool, *, told: bool = False) -> str:
    """"" when every transcript line is drawn; else how many ``left_out`` found no room on the
    panel, and where they all are: the page's transcript below the picture (``in_page``), else the
    HTML report, its command named unless another note of the title has ``told`` it already."""
    if not left_out:
        return ""
    where = ("in the transcript below" if in_page
             else "in the HTML report" + ("" if told else f": {html_report_command(data)}"))
    return f"{left_out} transcript line(s) not drawn (no room); all are {where}"


def transcript_title(data: ReportData, in_page: bool, left_out: int = 0) -> str:
    """The transcript panel's title: how many of its lines are not drawn for want of room, and
    where they are (:func:`left_out_note`); where a character no font here draws is drawn as a box,
    where the words are (:func:`boxes_note`)."""
    boxes = boxes_note((u.text for u in data.utterances), data, in_page, part="transcript", which="the words are")
    notes = [note for note in (left_out_note(left_out, data, in_page, told=bool(boxes)), boxes) if note]
    return f"Transcript (distress phrases in red{''.join('; ' + note for note in notes)})"


TRANSCRIPT_PT = 6.5
"""The size of a transcript line's text, in points."""
TRANSCRIPT_CHARS = 44
"""The most characters of an utterance a transcript line shows; a longer one is shortened, ending in
:data:`ELLIPSIS`."""
TRANSCRIPT_LANES = 3
"""Lanes of transcript lines per leg; an utterance that finds none free keeps only its bar."""
TRANSCRIPT_GAP_PT = 6.0
"""The least space between two transcript lines in one lane, in points."""
DISTRESS_PAD = 0.15
"""The padding of a distress line's box on either side, in its text's size."""
ELLIPSIS = "..."
"""What ends a transcript line shortened to fit (:func:`fit_line`)."""


def fit_line(text: str, room_pt: float, width_pt: Callable[[str], float]) -> str:
    """``text`` as a transcript line drawn at most ``room_pt`` wide (``width_pt``: the drawn width of a
    text): whole where it fits, else cut at a word (or, for a first word too long, a character) and
    ended with :data:`ELLIPSIS`; "" where not even a character and the ellipsis fit."""
    text = textwrap.shorten(text, width=TRANSCRIPT_CHARS, placeholder=ELLIPSIS)
    if width_pt(text) <= room_pt:
        return text
    body = text.removesuffix(ELLIPSIS)
    words = body.split(" ")
    for n in range(len(words) - 1, 0, -1):  # a few words at most: drop from the end until it fits
        cut = " ".join(words[:n]).rstrip(",.;:") + ELLIPSIS
        if width_pt(cut) <= room_pt:
            return cut
    chars = [words[0][:k] + ELLIPSIS for k in range(len(words[0]) - 1, 0, -1)]
    return next((cut for cut in chars if width_pt(cut) <= room_pt), "")


def transcript_lines(data: ReportData, axis_pt: float, width_pt: Callable[[str, bool], float]) -> dict[int, tuple[int, str]]:
    """Where each utterance's line is drawn on a transcript panel ``axis_pt`` points wide (the call's
    length): by utterance index, its lane and its text (:func:`fit_line`: shortened, with an ellipsis,
    to end by the call's end). Lanes are greedy: a line goes into the first lane of its leg free at its
    start, distress lines placed first; a line that finds no free lane, or no room before the end,
    is left out (its bar stays). ``width_pt(text, distress)``: the drawn width of a line."""
    span = max(data.duration_s, 1.0)
    pt_per_s = axis_pt / span
    order = sorted(range(len(data.utterances)), key=lambda i: (not data.utterances[i].distress, data.utterances[i].start))
    taken: dict[tuple[str, int], list[tuple[float, float]]] = {}
    out: dict[int, tuple[int, str]] = {}
    for i in order:
        u = data.utterances[i]
        text = fit_line(u.text, (span - u.start) * pt_per_s, lambda t: width_pt(t, bool(u.distress)))
        if not text:
            continue
        a, b = u.start, u.start + (width_pt(text, bool(u.distress)) + TRANSCRIPT_GAP_PT) / pt_per_s
        for lane in range(TRANSCRIPT_LANES):
            busy = taken.setdefault((u.channel, lane), [])
            if all(b <= x or a >= y for x, y in busy):
                busy.append((a, b))
                out[i] = (lane, text)
                break
    return out


def _transcript(ax: Any, data: ReportData, in_page: bool) -> None:
    ax.set_ylim(0, 4)
    ax.set_yticks([3.0, 1.0])
    ax.set_yticklabels(["caller", "agent"])
    fig = ax.figure
    lines = transcript_lines(data, FIG_WIDTH_IN * 72 * (PLOT_RIGHT - PLOT_LEFT), lambda text, hot: text_width_pt(
        fig, text, size=TRANSCRIPT_PT, weight="bold" if hot else "normal") + (2 * DISTRESS_PAD * TRANSCRIPT_PT if hot else 0))
    ax.set_title(transcript_title(data, in_page, len(data.utterances) - len(lines)), loc="left", fontsize=9)
    if not data.utterances:
        msg = ("no transcript (acoustic-only)" if not data.transcribed else "no words recognised")
        ax.text(0.5, 0.5, msg, transform=ax.transAxes, ha="center", va="center", color=MUTED,
                fontsize=9, style="italic")
        return
    for i, u in enumerate(data.utterances):
        base = 2.0 if u.channel == "caller" else 0.0
        colour = CALLER if u.channel == "caller" else AGENT
        hot = bool(u.distress)
        ax.plot([u.start, max(u.end, u.start + 0.3)], [base + 0.12] * 2, color=DISTRESS if hot else colour,
                linewidth=3, solid_capstyle="butt")
        if i not in lines:
            continue
        lane, text = lines[i]
        ax.text(u.start, base + 1.65 - 0.55 * lane, text, fontsize=TRANSCRIPT_PT, va="center", ha="left",
                color=DISTRESS if hot else "#222222", fontweight="bold" if hot else "normal",
                bbox=dict(boxstyle=f"round,pad={DISTRESS_PAD}", fc="#ffe0e0", ec=DISTRESS, lw=0.6) if hot else None)


TEXT_FONT = "DejaVu Sans"
"""The font the picture's text is drawn in (matplotlib's own)."""
FALLBACK_FONTS = ("NanumGothic", "NanumBarunGothic", "Noto Sans CJK KR", "Noto Sans KR", "Noto Sans CJK JP",
                  "Noto Sans CJK SC", "Noto Sans CJK TC", "WenQuanYi Zen Hei", "Droid Sans Fallback", "Unifont")
"""Fonts that draw what :data:`TEXT_FONT` cannot (Hangul, CJK), in the order tried, where installed
(Debian's fonts-nanum, fonts-noto-cjk, fonts-wqy-zenhei, fonts-droid-fallback, fonts-unifont)."""


def picture_fonts() -> list[str]:
    """The fonts the picture draws its text with: :data:`TEXT_FONT`, then the :data:`FALLBACK_FONTS`
    installed here, which matplotlib draws a character with where the fonts before lack it. A font
    file installed since matplotlib listed the system's fonts (its cache, made once) is added to
    its list first, else a font installed for the report would never be used."""
    from matplotlib import font_manager
    manager = font_manager.fontManager
    known = {f.fname for f in manager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known:
            try:
                manager.addfont(path)
            except (OSError, RuntimeError, ValueError) as err:  # a file FreeType cannot read
                log.debug("font %s not used: %s", path, err)
    installed = {f.name for f in manager.ttflist}
    return [TEXT_FONT, *(name for name in FALLBACK_FONTS if name in installed)]


def _lacks_glyphs(texts: Any) -> bool:
    """Some character of ``texts`` has no glyph in any of the fonts the picture's text is drawn
    with (:func:`picture_fonts`)."""
    from matplotlib.font_manager import FontProperties, findfont, get_font
    fonts = [get_font(findfont(FontProperties(family=name))) for name in picture_fonts()]
    chars = {ord(ch) for t in texts for ch in t if not ch.isspace()}
    return any(all(font.get_char_index(c) == 0 for font in fonts) for c in chars)


def _cue_panel(ax: Any, title: str, series: Any, data: ReportData) -> None:
    """One panel of cues sharing a unit, over the caller's baseline band (q1-q3) and median."""
    b = data.baseline
    for c in series:
        t, v = broken_at_gaps(*_series(data, c.name), data.cue_gaps)
        if len(t):
            ax.plot(t, v, c.style, color=c.colour, linewidth=1.3, label=c.label)
        st = b.stats(c.name) if b is not None else None
        if st is not None:
            ax.axhspan(st.q1, st.q3, color=c.colour if len(series) > 1 else BAND, alpha=0.15, linewidth=0)
            ax.axhline(st.median, color=c.colour if len(series) > 1 else BAND, linewidth=0.8,
                       linestyle=":")
    ax.set_ylabel(series[0].unit)
    ax.set_title(title + (" (band: caller's baseline q1-q3, dotted: median)" if b is not None
                          else f" (no baseline: {data.why_no_baseline})"),
                 loc="left", fontsize=9)
    if len(series) > 1 and ax.get_legend_handles_labels()[0]:  # no curve drawn (no cue window yet): no key
        # above the panel, right of its title: inside it, the key would hide the call's last seconds
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.1, borderpad=0.1, fontsize=7,
                  frameon=False, ncol=len(series))
    ax.grid(True, axis="y", alpha=0.3)


def _legend(fig: Any, data: ReportData) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    handles = [Line2D([], [], color=SEVERITY_COLOURS["warning"], lw=1.2, label="warning alert"),
               Line2D([], [], color=SEVERITY_COLOURS["critical"], lw=2, label="critical alert"),
               Patch(color=BAND, alpha=0.4, label="baseline band / baseline period")]
    if data.tracks:
        handles += [Patch(color=CALLER, alpha=0.6, label="caller speech"),
                    Patch(color=AGENT, alpha=0.6, label="agent speech"),
                    Patch(color=PAUSE, alpha=0.3, label="caller pause")]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.005))


def _title(fig: Any, data: ReportData, in_page: bool) -> float:
    """The picture's title: the call (and, where a character of its name is drawn as a box, where
    the name is read: :func:`boxes_note`), its length and alerts (none: what the call was not judged
    on, if so, :attr:`ReportData.nothing_judged`), where its monitoring stopped
    part-way (on a line of its own, as the page's banner says it), where its recording broke off,
    what was wrong with its samples (:attr:`ReportData.problems_said`, whole, over as many lines as
    it takes) and what was said of its legs (:attr:`ReportData.legs_said`), as the page's notes say
    them. Returns its height below its first line, in points."""
    from ..console import one_line  # a name's line break written \n, as every line writes it
    crit = data.critical
    note = boxes_note([data.title], data, in_page, part="heading", which="the name is")
    lines = [f"{one_line(data.title)}: {fmt_duration(data.duration_s)}, {len(data.alerts)} alert(s)"
             + (f", {crit} critical" if crit else "") + (f" ({note})" if note else "")]
    colour = SEVERITY_COLOURS["critical"] if crit else "#222222"
    cut = data.cut_short
    if cut:
        lines.append(cut[:1].upper() + cut[1:])
        colour = colour if crit else STOPPED
    if nothing := data.nothing_judged:  # on a line of its own, as the page's grey banner says it
        lines.append(nothing[:1].upper() + nothing[1:])
    lines += [line for line in (data.broken_off, data.legs_said) if line]
    size = _title_size(fig, lines)
    if data.problems_said:  # after where it broke off, before the legs, as in the notes
        at = len(lines) - bool(data.legs_said)
        lines[at:at] = _wrapped(fig, data.problems_said, size)
    fig.suptitle("\n".join(lines), x=TITLE_X, ha="left", fontsize=size, fontweight="bold", color=colour,
                 linespacing=TITLE_LINE_SPACING)
    return (len(lines) - 1) * size * TITLE_LINE_SPACING


def _title_room_pt() -> float:
    """The width a line of the title may take, in points: the picture's within its margins."""
    return FIG_WIDTH_IN * 72 * (1 - 2 * TITLE_X)


def _wrapped(fig: Any, text: str, size: float) -> list[str]:
    """``text`` as lines of the title at ``size`` points, each as many of its words as fit
    :func:`_title_room_pt` (a word wider than that alone on its line)."""
    lines: list[str] = []
    for word in text.split(" "):
        longer = f"{lines[-1]} {word}" if lines else word
        if lines and text_width_pt(fig, longer, size=size, weight="bold") <= _title_room_pt():
            lines[-1] = longer
        else:
            lines.append(word)
    return lines


def _title_size(fig: Any, lines: list[str]) -> float:
    """The largest size from :data:`TITLE_PT` down to :data:`MIN_TITLE_PT`, in half points, at which
    every line of the title fits the picture's width within its margins (a long file name's)."""
    room = _title_room_pt()
    for size in np.arange(TITLE_PT, MIN_TITLE_PT, -0.5):
        if max(text_width_pt(fig, line, size=size, weight="bold") for line in lines) <= room:
            return float(size)
    return float(MIN_TITLE_PT)


def clock_ticks(duration_s: float) -> list[float]:
    """The time axis's ticks: every whole step of :data:`CLOCK_STEPS_S` that leaves at most
    :data:`MAX_TICKS` spaces over the call (0:00, 1:00, 2:00, 3:00 for a call of 3:47)."""
    step = next((s for s in CLOCK_STEPS_S if duration_s / s <= MAX_TICKS), None)
    if step is None:  # past 16 hours: whole hours, as many as it takes
        step = 3600 * int(np.ceil(duration_s / 3600 / MAX_TICKS))
    return [float(t) for t in np.arange(0.0, duration_s + 1e-9, step)]


def timeline_figure(data: ReportData, *, in_page: bool = False) -> Any:
    """The timeline picture as a matplotlib figure (closed by the caller, ``plt.close``): a picture
    of its own, or with ``in_page`` one shown in the HTML page above its transcript."""
    plt = _pyplot()
    heights = [1.6] + [1.0] * len(registry_panels()) + [1.3]
    with plt.rc_context({**PLAIN_TEXT, "font.family": picture_fonts()}):
        fig, axes = plt.subplots(len(heights), 1, figsize=(FIG_WIDTH_IN, FIG_HEIGHT_IN), sharex=True,
                                 gridspec_kw={"height_ratios": heights, "hspace": 0.38})
        try:
            _draw(fig, list(axes), data, in_page)
        except BaseException:
            plt.close(fig)
            raise
    return fig


def _draw(fig: Any, axes: list[Any], data: ReportData, in_page: bool) -> None:
    """The rows of :func:`timeline_figure` on its ``axes``, its alerts, legend and title."""
    top, cue_axes, tax = axes[0], axes[1:-1], axes[-1]
    _waveform(top, data)
    ax_for: dict[str, Any] = {}
    b = data.baseline
    for ax, (title, series) in zip(cue_axes, registry_panels()):
        _cue_panel(ax, title, series, data)
        ax_for.update({c.name: ax for c in series})
    if b is not None:
        for ax in [top] + cue_axes:
            ax.axvspan(b.start_t, b.end_t,
                       ymin=0.0, ymax=0.03, color=BAND, alpha=0.8, linewidth=0)
    _alert_spans(ax_for, data)
    _transcript(tax, data, in_page)
    _alert_markers([top] + cue_axes + [tax], top, data, FIG_WIDTH_IN * 72 * (PLOT_RIGHT - PLOT_LEFT))
    end = max(data.duration_s, 1.0)
    tax.set_xlim(0, end)
    ticks = clock_ticks(end)
    labels = [fmt_time(x) for x in ticks]
    tax.set_xticks(ticks)
    tax.set_xticklabels(labels)
    tax.set_xlabel(f"call time ({'h:mm:ss' if labels[-1].count(':') > 1 else 'm:ss'})")
    _legend(fig, data)
    below = _title(fig, data, in_page)  # the timeline and its alert labels start under the title's last line
    fig.subplots_adjust(left=PLOT_LEFT, right=PLOT_RIGHT, top=PLOT_TOP - below / (FIG_HEIGHT_IN * 72), bottom=0.05)


class _NoBoldLookup(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(FONT_WEIGHT_LOOKUP)


FONT_WEIGHT_LOOKUP = "findfont: Failed to find font weight"
"""matplotlib's log line for a fallback font without a bold face (fonts-nanum's NanumGothic), which
it draws a bold label's characters in at its heaviest (the title's Hangul): no news for the user."""


@contextlib.contextmanager
def _quiet_font_lookup() -> Iterator[None]:
    """matplotlib's :data:`FONT_WEIGHT_LOOKUP` lines left out while the picture is drawn."""
    logger, quiet = logging.getLogger("matplotlib.font_manager"), _NoBoldLookup()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def render_png(data: ReportData, dpi: int = 100, *, in_page: bool = False) -> bytes:
    """The timeline picture (:func:`timeline_figure`) as PNG bytes."""
    plt = _pyplot()
    with warnings.catch_warnings(), _quiet_font_lookup():  # the picture says it once (boxes_note), not a line a character
        warnings.filterwarnings("ignore", message=MISSING_GLYPH, category=UserWarning)
        fig = timeline_figure(data, in_page=in_page)
        try:
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=dpi)
            return buf.getvalue()
        finally:
            plt.close(fig)
