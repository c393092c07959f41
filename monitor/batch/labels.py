"""A QA lead's labels of an archive's calls (``batch --labels LABELS.csv``), and the batch scored
against them: each call's first alerts relative to its marked onset, and the archive's figures
(:mod:`monitor.batch.detection`, as the project measures its own corpus).

The labels are a CSV file (UTF-8, commas): a ``file`` column (or ``path``: relative to the labels
file, as a manifest's paths are; else the end of a recording's path, a bare name too, when it names
one recording of the batch alone, and not a file from the labels file's folder: :func:`labels_of`), an ``onset`` column (seconds, ``m:ss`` or ``h:mm:ss`` into the call
where the caller's trouble starts; empty for a normal call) and an optional ``kind`` column:
``trouble`` (a critical alert is expected from the onset; a call in trouble from its start may
leave the onset empty, it is scored from 0), ``mild`` (trouble for which no critical is expected)
or ``normal`` (any critical is a false alarm). Without ``kind``, a call with an onset is
``trouble`` and one without is ``normal``. Other columns are the user's own.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..capture.holds import call_seconds, parse_holds
from ..events import AlertEvent, Span
from .detection import DETECT_WITHIN_S, call_scores, held_s, normal_time_s, row_metrics
from .inputs import CallJob, not_utf8, recording

if TYPE_CHECKING:
    from ..delivery.store import Store

KINDS: tuple[str, ...] = ("trouble", "mild", "normal")
"""A labelled call's kind: a critical expected from the onset, none expected, any one a false alarm."""
FILE_COLUMNS: tuple[str, ...] = ("file", "path")
"""The column naming each labelled recording (either name)."""
LABEL_COLUMNS: tuple[str, ...] = ("label", "onset_s", "warning_after_onset_s", "critical_after_onset_s",
                                  "criticals_before_onset")
"""The per-call table's columns a batch with ``--labels`` adds: the call's kind and onset (both
empty for a call without a label), the seconds from the onset to the first warning and the first
critical at or after it, and the criticals raised before it."""


class LabelError(ValueError):
    """A labels file that cannot be used; the message names the file and its line."""


@dataclass(frozen=True)
class CallLabel:
    """One labelled recording: its path from the labels file's folder (as a manifest's is), kind and onset."""

    path: str
    kind: str
    onset_s: float | None
    where: str
    """``labels.csv line 3``: the row that says it."""
    named: str = ""
    """The recording as the row names it."""

    @property
    def scored_onset_s(self) -> float | None:
        """The onset the scores count from: a troubled or mild call without one is scored from its start."""
        return 0.0 if self.onset_s is None and self.kind != "normal" else self.onset_s


def parse_onset(text: str) -> float | None:
    """Seconds into the call from ``75``, ``75.5``, ``1:15``, ``1:15.5`` or ``0:01:15``
    (:func:`~monitor.capture.holds.call_seconds`); None for an empty cell. Raises ValueError for
    anything else (minutes or seconds of 60 and more after a colon too)."""
    return call_seconds(text) if text.strip() else None


def _rows(path: str) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """The labels file's header and its rows, each with its line in the file."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames:
                reader.fieldnames = [(name or "").strip().lower() for name in reader.fieldnames]
            rows = [(reader.line_num, row) for row in reader]
            return list(reader.fieldnames or ()), rows
    except UnicodeDecodeError:
        raise LabelError(not_utf8(path, "the labels")) from None
    except (OSError, csv.Error) as err:
        raise LabelError(f"{path}: cannot read the labels ({getattr(err, 'strerror', None) or err})") from None


def _label(row: Mapping[str, Any], column: str, base: str, where: str) -> CallLabel:
    """One row's label; LabelError naming ``where`` for an empty file, an unreadable onset or kind."""
    name = (row.get(column) or "").strip()
    if not name:
        raise LabelError(f"{where}: empty {column}")
    cell = row.get("onset") or ""
    try:
        onset = parse_onset(cell)
    except ValueError:
        raise LabelError(f"{where}: onset {cell.strip()!r} is not seconds, m:ss or h:mm:ss into the call") from None
    kind = (row.get("kind") or "").strip().lower() or ("normal" if onset is None else "trouble")
    if kind not in KINDS:
        raise LabelError(f"{where}: kind {kind!r} is none of {', '.join(KINDS)}")
    if kind == "normal" and onset is not None:
        raise LabelError(f"{where}: a normal call with an onset ({cell.strip()}): leave the onset empty, "
                         "or say its kind is trouble or mild")
    return CallLabel(os.path.normpath(os.path.join(base, name)), kind, onset, where, name)


def read_labels(path: str) -> list[CallLabel]:
    """The labels of ``path`` (see the module); LabelError (one line naming the file, and the line
    of a bad row) for a file that cannot be read, a missing column, a bad row or a recording labelled twice."""
    header, rows = _rows(path)
    column = next((c for c in FILE_COLUMNS if c in header), None)
    if column is None or "onset" not in header:
        found = f"its columns: {', '.join(header)}" if header else "it is empty"
        sep = next((c for c in ";\t|" if len(header) == 1 and c in header[0]), None)
        found += f"; a labels file's columns are separated by commas, not {sep!r}" if sep else ""
        raise LabelError(f"{path}: labels need a 'file' and an 'onset' column ({found})")
    base = os.path.dirname(os.path.abspath(path))
    labels: list[CallLabel] = []
    for n, row in rows:
        where = f"{path} line {n}"
        if None in row:
            raise LabelError(f"{where}: more cells than the header has: a value holding a comma must be in "
                             'double quotes ("a, b.wav")')
        labels.append(_label(row, column, base, where))
    if not labels:
        raise LabelError(f"{path}: no labels under its header")
    return labels


def _trailing(path: str) -> tuple[str, ...]:
    """The folders and name a recording's path ends with, as a label may name it (``2024-05/a.wav``,
    ``a.wav``): its components, those that only climb or stay (``..``, ``.``) left out."""
    return tuple(part for part in os.path.normpath(path).split(os.sep) if part not in ("", ".", ".."))


def _recordings_named(label: CallLabel, recordings: Mapping[object, str]) -> list[object]:
    """The batch's ``recordings`` (each file by :func:`~monitor.batch.inputs.recording`, whatever its
    names: its path in the batch) that ``label`` names: the file its name reaches from the labels
    file's folder (or as an absolute path); else those whose path ends with the folders and name it
    gives (a bare name: the recordings of that name, wherever they are). A name that reaches a file
    here the batch does not score names that file, not a namesake this process sees elsewhere: only
    one on a cluster's workers alone (keyed by its path) may be it, seen from another mount."""
    if (file := recording(label.path)) in recordings:
        return [file]
    if os.path.isabs(label.named):
        return []
    tail, here = _trailing(label.named), os.path.lexists(label.path)
    return sorted((file for file, path in recordings.items()
                   if _trailing(path)[-len(tail):] == tail and not (here and isinstance(file, tuple))),
                  key=recordings.__getitem__)


def _looked(label: CallLabel) -> str:
    """Where a label that names none of the batch's recordings was looked for (:func:`_recordings_named`)."""
    if os.path.isdir(label.path):
        return f"it is {label.path}, a folder"
    if os.path.lexists(label.path):
        return f"it is {label.path}, which the batch does not read"
    return f"looked for as {label.path}" + ("" if os.path.isabs(label.named) else ", then as the end of a recording's path")


def _listed(paths: Sequence[str]) -> str:
    """``paths``, the first three named."""
    return ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def labels_of(labels: Sequence[CallLabel], jobs: Sequence[CallJob]) -> dict[object, CallLabel]:
    """The labels by the recording each names (:func:`_recordings_named`; the key
    :func:`~monitor.batch.inputs.recording` gives); LabelError naming the row of a label that names
    none of the batch's ``jobs``, several of them (a bare name of two recordings in different
    folders) or one a row before labels."""
    recordings = {recording(job.path): job.path for job in jobs}
    out: dict[object, CallLabel] = {}
    for label in labels:
        named = _recordings_named(label, recordings)
        if not named:
            raise LabelError(f"{label.where}: {label.named} is none of the recordings this batch scores ({_looked(label)})")
        if len(named) > 1:
            raise LabelError(f"{label.where}: {label.named} names {len(named)} recordings this batch scores "
                             f"({_listed([recordings[file] for file in named])}): give its path from the labels "
                             "file's folder")
        if (first := out.get(named[0])) is not None:
            raise LabelError(f"{label.where}: {label.named} is labelled again (first on line "
                             f"{first.where.rsplit(' ', 1)[1]})")
        out[named[0]] = label
    return out


def unlabelled(labels: Mapping[object, CallLabel], jobs: Sequence[CallJob], labels_path: str) -> str | None:
    """The warning line of the batch's recordings no label names (:func:`labels_of`), the first
    three named: scored, and left out of the figures; None when each has one."""
    recordings = {recording(job.path): job.path for job in jobs}
    left = sorted(path for file, path in recordings.items() if file not in labels)
    if not left:
        return None
    return (f"{labels_path}: {len(left)} of the {len(recordings)} recordings this batch scores have no label "
            f"({_listed(left)}): scored, and left out of the figures")


def labelled_row(row: dict[str, Any], label: CallLabel | None, alerts: Sequence[AlertEvent],
                 holds: Sequence[Span] = ()) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The table row with the label's columns (:data:`LABEL_COLUMNS`), and the call's scores for
    :func:`~monitor.batch.detection.row_metrics` (None: no label, or not scored), its time on
    ``holds`` left out of its normal time."""
    if label is None or row.get("status") not in ("scored", "already_scored"):
        return {**row, **({"label": label.kind, "onset_s": label.onset_s} if label else {})}, None
    onset, duration = label.scored_onset_s, float(row["duration_s"])
    scores = call_scores(sorted(alerts, key=lambda a: a.t), onset, normal_time_s(duration, onset), holds)
    scores.update(duration_s=duration, held_s=held_s(holds, duration), onset_s=onset,
                  expect_critical=label.kind == "trouble",
                  forbid_critical=label.kind == "normal")
    cells = {"label": label.kind, "onset_s": label.onset_s, "warning_after_onset_s": scores["time_to_warning_s"],
             "critical_after_onset_s": scores["time_to_critical_s"],
             "criticals_before_onset": None if onset is None else scores["criticals_before_onset"]}
    return {**row, **cells}, scores


def apply_labels(store: Store, rows: Sequence[dict[str, Any]],
                 labels: Mapping[object, CallLabel]) -> tuple[list[dict[str, Any]], list[dict], list[str]]:
    """The batch's rows with their labels' columns (:func:`labels_of`: by the recording), the
    scores of the labelled calls scored, from their alerts stored in ``store`` (those scored
    before, ``--resume``, too), and a warning line for each onset past its call's end."""
    out, scores, notes = [], [], []
    for row in rows:
        call_id, label = row.get("db_call_id"), labels.get(recording(row["path"]))
        alerts = [s.event for s in store.list_alerts(call_id=int(call_id))] if call_id else []
        row, score = labelled_row(row, label, alerts, parse_holds(row.get("hold") or ""))  # as the table wrote them
        out.append(row)
        if score is not None:
            scores.append(score)
            if label is not None and label.onset_s is not None and label.onset_s >= score["duration_s"]:
                notes.append(f"{label.where}: onset {label.onset_s:g} s is past the end of {label.named} "
                             f"({score['duration_s']:g} s): scored as a call never critical after it")
    return out, scores, notes


def _pct(k: int, n: int) -> str:
    return f"{k} of {n} ({100 * k / n:.0f} %)" if n else "none labelled"


def _secs(t: float | None) -> str:
    return "-" if t is None else "never" if math.isinf(t) else f"{t:.1f} s"


def figure_lines(against: str, rows: Sequence[Mapping[str, Any]], scores: Sequence[Mapping[str, Any]],
                 *left_out: str) -> list[str]:
    """The figures of the labelled calls' ``scores`` against the labels ``against`` names, the calls of
    ``rows`` left out of them counted (without a label, labelled and not scored, and ``left_out``,
    each ``3 not in qa.db``, say)."""
    unlabelled = sum(not r.get("label") for r in rows)
    unscored = sum(bool(r.get("label")) and r.get("status") == "failed" for r in rows)
    return summary_lines(against, scores, unlabelled, unscored, left_out)


def summary_lines(against: str, scores: Sequence[Mapping[str, Any]], unlabelled: int,
                  unscored: int, left_out: Sequence[str] = ()) -> list[str]:
    """The batch's figures against its labels (``against``: the labels file, or what names them), as
    the project reports them for its own corpus."""
    m = row_metrics(scores)
    n = m["expected"]
    within, after = round((m["detected_30s"] or 0) * n), round((m["detected_any"] or 0) * n)
    left = [f"{n} {what}" for n, what in ((unlabelled, "without a label"), (unscored, "not scored")) if n]
    left += list(left_out)
    lines = [f"detection against {against}: {n} troubled, {m['other']} mild and "
             f"{m['forbidden']} normal call(s)" + (f" ({', '.join(left)}: left out)" if left else ""),
             f"troubled calls critical within {DETECT_WITHIN_S:.0f} s of the onset: {_pct(within, n)}; "
             f"at all after it: {_pct(after, n)}",
             f"time from the onset to the first critical: median {_secs(m['median_ttc_s'])}, "
             f"90th percentile {_secs(m['p90_ttc_s'])}",
             "troubled and mild calls with a critical before their onset: "
             f"{_pct(m['pre_onset_false_alarm_files'], m['labored'])}",
             f"normal calls with a false critical: {_pct(m['false_alarm_files'], m['forbidden'])}",
             "warnings per hour of normal call time: " + ("-" if m["normal_warnings_per_hour"] is None else
                                                          f"{m['normal_warnings_per_hour']:.1f}")
             + f" (over {m['normal_hours'] * 60:.1f} min: the normal calls, the troubled and mild ones before their onset"
             + (f"; {m['normal_held_hours'] * 60:.1f} min on hold left out)" if m["normal_held_hours"] else ")")]
    if m["other"]:
        lines.append(f"mild calls critical after the onset: "
                     f"{_pct(round((m['other_detected'] or 0) * m['other']), m['other'])}")
    return lines
