"""Call reports: one self-contained HTML page (or a PNG timeline) per call.

``data`` gathers what to show (from a recording or from the store) without matplotlib;
``figure`` draws the timeline (matplotlib, the optional ``report`` extra); ``html`` writes
the page. :func:`write_call_report` and :func:`maybe_write_call_report` are what the
daemon calls when a call ends.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from ..delivery.call_files import REPORT_WRITING, report_path
from ..files import make_private_folder, replaced
from ..installing import extra_packages, install_hint
from .data import ReportData, ReportError, from_file, from_store

MATPLOTLIB_HINT = f"reports need matplotlib (callmonitor's [report] extra): {install_hint(*extra_packages('report'))}"


def render(data: ReportData, fmt: str) -> bytes:
    """``fmt`` "html" or "png"; ImportError when matplotlib is missing."""
    from .figure import render_png
    png = render_png(data, in_page=fmt == "html")
    if fmt == "png":
        return png
    from .html import render_html
    return render_html(data, png).encode("utf-8")


def write_atomic(path: str, payload: bytes) -> None:
    """Write next to ``path`` and rename, mode 0600 (reports hold call content)."""
    with replaced(path, REPORT_WRITING, mode=0o600) as fh:
        fh.write(payload)


def write_call_report(store: Any, call_id: int, path: str, cfg: Any = None) -> str:
    """Write the HTML (or PNG, by extension) report of stored call ``call_id`` to ``path``."""
    if cfg is None:
        from ..config import load_config
        cfg = load_config(None, {"storage.db": str(store.path)})
    data = from_store(store, call_id, cfg)
    fmt = "png" if path.lower().endswith(".png") else "html"
    write_atomic(path, render(data, fmt))
    return path


def maybe_write_call_report(cfg: Any, store: Any, call_id: int | None,
                            on_error: Callable[[str], None] | None = None) -> str | None:
    """For the daemon at the end of a call: when ``daemon.report_on_critical`` is on and the
    call raised a critical alert, write its report to ``daemon.report_dir`` (default: next
    to the database) as ``call-<id>-report.html``; returns the path, or None. Never raises (a
    report must not take the monitor down): a failure is handed to ``on_error`` as one line."""
    if call_id is None or not getattr(cfg.daemon, "report_on_critical", False):
        return None
    problem: str
    try:
        if not any(a.event.severity == "critical" for a in store.list_alerts(call_id=call_id)):
            return None
        path = report_path(cfg, call_id)
        make_private_folder(os.path.dirname(path))
        return write_call_report(store, call_id, path, cfg)
    except ImportError:
        problem = MATPLOTLIB_HINT
    except Exception as err:  # noqa: BLE001
        problem = f"call {call_id}: report not written: {err}"
    if on_error is not None:
        on_error(problem)
    return None


__all__ = ["ReportData", "ReportError", "from_file", "from_store", "render", "write_call_report",
           "maybe_write_call_report", "report_path", "write_atomic", "MATPLOTLIB_HINT"]
