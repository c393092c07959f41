"""The per-call table: one row per recording, written as CSV or Parquet.

A row holds the recording (path; ``agent_path``, the agent's leg's own file of a call of two files; ``hold``,
the call's holds as its manifest gave them, written as :func:`~monitor.capture.holds.holds_text` writes them; the
channels of its caller and agent legs as scored:
``caller_channel``, ``agent_channel`` with -1 for none, as a manifest gives them; duration,
channels), the seconds of the caller's speech in
the whole call (``caller_speech_s``: under 1 s for a call where nothing was judged, the caller's leg silent or on the
other channel), what was wrong with its samples (``problems``: clipped, a cut voice band, a corrupt
stretch; as ``replay`` warns), its two legs the same audio (``legs_same``: a dual-mono recording,
why, and the channel options that score it as mono), its legs read the wrong way round
(``legs_swapped``: why, and the channel options that turn them) and each leg too quiet to measure (``too_quiet``), in ``replay``'s
words, the number of alerts of each kind, the
first warning and first critical time, and for each cue the caller's baseline median and the
median over the call's cue windows (with ``--labels``, the call's label and the seconds from its onset to
its first alerts: :data:`~monitor.batch.labels.LABEL_COLUMNS`). Failed calls are rows with an ``error`` and empty figures.
"""

from __future__ import annotations

import csv
import io
import math
import os
from typing import Any, BinaryIO, Iterable, Sequence

import numpy as np

from ..capture.holds import holds_text
from ..config import Config
from ..cue_registry import ACOUSTIC_CUES as CUE_NAMES
from ..files import name_text, replaced
from ..events import AlertEvent, CallSummaryEvent, CuesEvent, Event
from .inputs import CallJob
from .labels import LABEL_COLUMNS

STATUSES: tuple[str, ...] = ("scored", "already_scored", "failed")
"""``already_scored``: skipped by ``--resume``; its figures come from the earlier run."""


QUIET_JOIN = " | "
"""Between the phrases of two legs too quiet to measure in a row's ``too_quiet`` (:func:`quiet_legs_of`):
no phrase holds it (:func:`~monitor.analysis.leg_tally.quiet_phrase` holds a "; ")."""


def quiet_legs_of(row: dict[str, Any]) -> tuple[str, ...]:
    """What the batch said of each of the row's legs too quiet to measure (a table without the
    column: none)."""
    cell = row.get("too_quiet")
    return tuple(said for said in cell.split(QUIET_JOIN) if said) if isinstance(cell, str) else ()


def legs_same_of(row: dict[str, Any]) -> str:
    """What the batch said of the row's two legs carrying the same audio (none, or a table without
    the column: empty)."""
    cell = row.get("legs_same")
    return cell if isinstance(cell, str) else ""


def legs_swapped_of(row: dict[str, Any]) -> str:
    """What the batch said of the row's legs read the wrong way round (none, or a table without the
    column: empty)."""
    cell = row.get("legs_swapped")
    return cell if isinstance(cell, str) else ""


class TableError(ValueError):
    """The table cannot be written or read; the message names the file."""


def alert_kinds(cfg: Config) -> tuple[str, ...]:
    """Every alert kind the configuration can raise, in a stable order."""
    return tuple(cfg.rules.kinds) + ("possible_emergency", "distress_phrase")


def columns(cfg: Config, labelled: bool = False) -> list[str]:
    """The table's columns for ``cfg`` (alert kinds and cues give one column each); ``labelled``: a
    batch with ``--labels``, whose columns (:data:`~monitor.batch.labels.LABEL_COLUMNS`) follow the
    first warning and critical."""
    return (["path", "agent_path", "caller_channel", "agent_channel", "call_id", "hold", "status", "error", "duration_s",
             "caller_speech_s", "sample_rate", "channels",
             "legs", "truncated", "problems", "legs_same", "legs_swapped", "too_quiet",
             "alerts", "warning_alerts", "critical_alerts"]
            + [f"alerts_{k}" for k in alert_kinds(cfg)]
            + ["first_warning_s", "first_critical_s"] + (list(LABEL_COLUMNS) if labelled else [])
            + [f"baseline_{c}" for c in CUE_NAMES] + [f"median_{c}" for c in CUE_NAMES]
            + ["db_call_id", "content_hash", "config_hash"])


def cue_medians(cues: Sequence[CuesEvent], min_speech_s: float) -> dict[str, float | None]:
    """Median of each cue over the caller's windows holding at least ``min_speech_s`` of speech
    (the windows the baseline would count); None for a cue never defined there."""
    kept = [c for c in cues if c.channel == "caller" and (c.speech_s or 0.0) >= min_speech_s]
    out: dict[str, float | None] = {}
    for name in CUE_NAMES:
        values = np.array([c.value(name) for c in kept if c.value(name) is not None], dtype=float)
        out[name] = round(float(np.median(values)), 4) if len(values) else None
    return out


def _round(v: float | None) -> float | None:
    return None if v is None else round(float(v), 4)


def _first(alerts: Sequence[AlertEvent], severity: str) -> float | None:
    return min((a.t for a in alerts if a.severity == severity), default=None)


def job_cells(job: CallJob, channels: int | None = None) -> dict[str, Any]:
    """The row's cells that name the call: its recording (and of a call of two files the agent's
    leg's own, ``agent_path``; else empty), its legs' channels (-1: no agent leg;
    those scored in a recording of ``channels`` channels when known, :meth:`CallJob.legs`, else the
    asked ones), its id and its holds from the manifest."""
    if channels is None:
        caller, agent = job.caller_channel, -1 if job.agent_channel is None else job.agent_channel
    else:
        caller, agent = job.legs(channels)
    return {"path": name_text(job.path), "agent_path": name_text(job.agent_path), "caller_channel": caller,
            "agent_channel": agent, "call_id": job.call_id, "hold": holds_text(job.holds)}


def call_row(job: CallJob, cfg: Config, events: Sequence[Event], facts: dict[str, Any], *,
             content_hash: str, config_hash: str) -> dict[str, Any]:
    """The table row of one scored call from its events (as ``replay --jsonl`` prints them)."""
    alerts = [e for e in events if isinstance(e, AlertEvent)]
    cues = [e for e in events if isinstance(e, CuesEvent)]
    summary = next(e for e in reversed(events) if isinstance(e, CallSummaryEvent))
    base = summary.baseline.get("cues", {}) if summary.baseline else {}
    medians = cue_medians(cues, cfg.analysis.baseline_min_window_speech_s)
    row: dict[str, Any] = {**job_cells(job, int(facts["channels"])), "status": "scored", "error": "",
                           "duration_s": summary.duration_s, "caller_speech_s": summary.caller_speech_s,
                           **facts, "alerts": len(alerts),
                           "warning_alerts": sum(a.severity == "warning" for a in alerts),
                           "critical_alerts": sum(a.severity == "critical" for a in alerts)}
    row.update({f"alerts_{k}": sum(a.kind == k for a in alerts) for k in alert_kinds(cfg)})
    row.update(first_warning_s=_first(alerts, "warning"), first_critical_s=_first(alerts, "critical"))
    row.update({f"baseline_{c}": _round((base.get(c) or {}).get("median")) for c in CUE_NAMES})
    row.update({f"median_{c}": medians[c] for c in CUE_NAMES})
    row.update(db_call_id=None, content_hash=content_hash, config_hash=config_hash)
    return row


def failed_row(job: CallJob, error: str, content_hash: str = "", config_hash: str = "") -> dict[str, Any]:
    return {**job_cells(job), "status": "failed", "error": error,
            "content_hash": content_hash, "config_hash": config_hash}


def _cell(v: Any) -> Any:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return v


def _write_csv(fh: BinaryIO, cols: list[str], rows: Iterable[dict[str, Any]]) -> None:
    text = io.TextIOWrapper(fh, newline="", encoding="utf-8")
    w = csv.writer(text)
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in cols])
    text.flush()
    text.detach()  # ``fh`` stays open: its writer closes it


def _write_parquet(fh: BinaryIO, cols: list[str], rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    text = {"path", "agent_path", "call_id", "hold", "status", "error", "label", "legs", "problems", "legs_same", "legs_swapped", "too_quiet",
            "content_hash",
            "config_hash"}
    arrays = {}
    for c in cols:
        values = [r.get(c) for r in rows]
        if c in text:
            arrays[c] = pa.array(["" if v is None else str(v) for v in values], pa.string())
        elif c == "truncated":
            arrays[c] = pa.array(values, pa.bool_())
        elif (c in ("caller_channel", "agent_channel", "sample_rate", "channels", "db_call_id",
                    "criticals_before_onset")
              or c.endswith("alerts") or c.startswith("alerts_")):
            arrays[c] = pa.array(values, pa.int64())
        else:
            arrays[c] = pa.array([None if v is None else float(v) for v in values], pa.float64())
    pq.write_table(pa.table(arrays), fh)


PARQUET_SUFFIXES = (".parquet", ".pq")
"""The extensions of a Parquet table (any case)."""


def table_format(path: str) -> str:
    """"csv" or "parquet" from the extension; TableError otherwise."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".csv":
        return "csv"
    if ext in PARQUET_SUFFIXES:
        return "parquet"
    raise TableError(f"{path}: the table must end in .csv or .parquet")


def write_table(path: str, cfg: Config, rows: Sequence[dict[str, Any]], labelled: bool = False) -> None:
    """Write ``rows`` (in their order) next to ``path`` and rename it into place (``labelled``: with
    the columns of ``--labels``)."""
    fmt = table_format(path)
    cols = columns(cfg, labelled)
    with replaced(path, ".batch-") as fh:
        (_write_csv if fmt == "csv" else _write_parquet)(fh, cols, list(rows))
