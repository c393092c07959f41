"""``call-monitor report FILE_OR_CALL_ID -o report.html|report.png``: a call at a glance."""

from __future__ import annotations

import argparse
import os
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..console import error, info, warning
from ..files import name_text
from ..installing import install_hint, requirement
from ..stops import stopped_by
from .common import (ExitStatus, add_call_options, add_config_options, add_hold_option, agent_file_option, call_id,
                     not_used)

if TYPE_CHECKING:
    from ..config import Config

FORMATS = MappingProxyType({".html": "html", ".htm": "html", ".png": "png"})


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a call report (HTML page or PNG timeline)",
                       description="Report of a recorded call (replayed through the monitor) or of a "
                                   "call stored in the database (by its id, as `call-monitor alerts` "
                                   "shows it): timeline of both legs, cues against the caller's "
                                   "baseline, alerts with evidence and actions (a stored call's with "
                                   "their webhook delivery and a supervisor's acknowledgement, as `call-monitor alerts` "
                                   "says them), transcript. "
                                   f"Needs matplotlib ({install_hint(requirement('matplotlib'))}).")
    p.add_argument("target", metavar="FILE_OR_CALL_ID", nargs="?",
                   help="a recording (WAV, FLAC, OGG, MP3) or the id of a stored call")
    p.add_argument("--call", type=call_id, metavar="ID",
                   help="the id of a stored call to report: as FILE_OR_CALL_ID takes it, but also when a file "
                        "of that name is there (then ./ID names the file)")
    p.add_argument("--batch", metavar="TABLE",
                   help="instead of one call: the overview of an archive scored by `call-monitor batch` "
                        "(its --out table, CSV or Parquet); the flagged calls' reports go beside it in "
                        "<output>_calls/ (from --db, else from the recordings)")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="report.html (self-contained page) or report.png (timeline only)")
    p.add_argument("--agent", metavar="FILE", type=agent_file_option,
                   help="a recording's report: the agent's leg as a recording of its own (mono), the recording "
                   "given the caller's (as replay --agent; \"\": none)")
    add_hold_option(p, "a recording's report", "the report's notes say the hold")
    add_call_options(p)
    add_config_options(p)
    # None: not given (a recording's report reads the usual legs; a stored call's and an archive's
    # use none of these options, and say so of one given)
    p.set_defaults(run=run, caller_channel=None, agent_channel=None)


def _check_output(path: str) -> str | None:
    """The format, or None after printing why ``path`` cannot be written."""
    if not path.strip():  # "-o $PAGE" with PAGE unset
        error('-o/--output "": an empty path; give a file (report.html or report.png)')
        return None
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        error(f"{path}: the report must end in .html or .png")
        return None
    d = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        error(f"{path}: is a directory")
        return None
    if not os.path.isdir(d):
        error(f"{path}: cannot write the report: no such directory {d}")
        return None
    from ..files import cannot_make_in, cannot_open_to_write
    # written beside its name, then renamed over it: its folder must take a file (asked of the system:
    # root's permissions pass /proc), and one there already be writable
    if why := cannot_make_in(d) or (os.path.exists(path) and cannot_open_to_write(path)):
        error(f"{path}: cannot write the report ({why})")
        return None
    return FORMATS[ext]


def run(args: argparse.Namespace) -> int:
    """Write the report of a recording, a stored call or a batch's table (``--batch``) to the
    output, its format by the output's name."""
    from .common import StoreError
    if sum(x is not None for x in (args.target, args.call, args.batch)) != 1:
        error("report: give a recording or call id, --call ID or --batch TABLE (one of them)")
        return ExitStatus.BAD_SETUP
    fmt = _check_output(args.output)
    if fmt is None:
        return ExitStatus.BAD_SETUP
    if args.batch is not None:
        return _archive(args, fmt)
    try:
        import matplotlib  # noqa: F401 - fail early, before a long replay
    except ImportError:
        from ..report import MATPLOTLIB_HINT
        error(MATPLOTLIB_HINT)
        return ExitStatus.BAD_SETUP
    cfg = _config_for(args)
    if cfg is None:
        return ExitStatus.BAD_SETUP
    from ..report import ReportError, render, write_atomic

    target = args.target
    if target is not None and (problem := _ambiguous(target, cfg)):
        error(problem)
        return ExitStatus.BAD_SETUP
    try:
        data = _report_data(args, cfg, target)
        if data is None:
            return ExitStatus.BAD_SETUP
        payload = render(data, fmt)
    except (ReportError, StoreError, ImportError) as err:
        return _failed(err, args.output)
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM while it replays or draws: nothing written
        error(f"{args.output}: {stopped_by(stop)} before it was written: no report written")
        raise
    try:
        write_atomic(args.output, payload)
    except OSError as err:
        return _failed(err, args.output)
    info(f"report written to {name_text(args.output)}")
    return ExitStatus.OK


def _report_data(args: argparse.Namespace, cfg: Config, target: str | None):
    """The report's data: the recording ``target`` replayed (None when it cannot be, said), or the
    stored call ``target`` or ``--call`` names (None for a ``target`` of digits that is no call id,
    said), with the recording's options said not to be used."""
    if target is not None and (os.path.exists(target) or not target.strip().isdigit()):
        return _recording(args, cfg, target)
    try:
        stored = args.call if target is None else call_id(target)
    except argparse.ArgumentTypeError as err:
        error(str(err))
        return None
    data = _stored(args, cfg, stored)
    not_used(_recording_options(args), f"call {stored} is reported as it was stored (its legs' "
                                      "channels and its words are the stored call's; to choose others, "
                                      "report its recording)")
    return data


def _recording(args: argparse.Namespace, cfg: Config, target: str):
    """The report data of the recording ``target``, replayed, what it holds said in warning lines as
    replay says them (and a ``--db`` given, not used); None after the line for a speech model that
    cannot be used. Raises ReportError for a recording that cannot be read."""
    from .common import ModelError, agent_file_contradicted, open_transcription
    from ..capture.holds import past_end
    from ..report import from_file
    from ..report.data import check_recording
    check_recording(target)
    channels = [given for given in _recording_options(args) if given.startswith(("--caller-", "--agent-"))]
    if args.agent is not None and (problem := agent_file_contradicted(args.agent, channels)):
        error(problem)
        return None
    if args.db is not None:
        not_used([f"--db {args.db}"], f"{target} is a recording, reported by replaying it (no stored call is "
                                      "read); --call ID reports a stored call")
    try:
        transcription = open_transcription(args, cfg)
    except ModelError as err:  # a broken model folder: one clear line
        error(str(err))
        return None
    caller = 1 if args.caller_channel is None else args.caller_channel
    agent = 0 if args.agent_channel is None else args.agent_channel
    data = from_file(target, cfg, transcription=transcription, caller_channel=caller,
                     agent_channel=None if agent < 0 else agent, agent_file=args.agent, on_hold=args.hold)
    if data.unread_channels:
        warning(f"{target}: {data.unread_channels}")
    for line in past_end(args.hold, data.duration_s):  # as replay says it
        warning(f"{target}: {line}")
    _say_flaws(target, data)
    return data


def _say_flaws(recording: str, data) -> None:
    """The warning lines of a reported call's recording flaws, as replay says them (and the report's
    notes): its audio broke off, what was wrong with its samples, its two legs the same audio, its
    legs read the wrong way round, a leg too quiet to measure."""
    from ..capture.audio_files import audio_breaks_off
    if data.truncated_s is not None:
        warning(audio_breaks_off(recording, "the report covers", data.truncated_s))
    for line in data.flaws.lines(recording):
        warning(line)


def _ambiguous(target: str, cfg: Config) -> str | None:
    """The line for a ``target`` that names both a file there and a call stored in the database a
    call's report reads (``--db``, else the configured one); None otherwise (a database that cannot
    be read holds no call to take it for)."""
    from ..delivery.store import Store
    from ..delivery.store_errors import StoreError
    if not (target.strip().isdigit() and os.path.exists(target)):
        return None
    db = os.path.expanduser(cfg.storage.db)
    if not os.path.isfile(db):
        return None
    try:  # read as it is: the file's report neither upgrades nor makes a database
        store = Store.open_readonly(db)
    except StoreError:
        return None
    try:
        stored = store.get_call(int(target)) is not None
    except StoreError:
        stored = False
    finally:
        store.close()
    if not stored:
        return None
    return (f"{target}: both a file here and call {int(target)} in {db}; give ./{target} to report the file, "
            f"or --call {int(target)} to report the stored call")


def _config_for(args: argparse.Namespace) -> Config | None:
    """The configuration, or None when it cannot be loaded or the report (``-o``) would overwrite
    its database (either said in one line)."""
    from .common import config_or_error
    cfg = config_or_error(args)
    if cfg is None:
        return None
    if problem := _over_the_database(args.output, cfg):
        error(problem)
        return None
    return cfg


def _over_the_database(output: str, cfg: Config) -> str | None:
    """Why ``output`` may not be written, in one line naming it: it is the database of stored
    calls (``--db``, else the configured one), which the report would replace; None otherwise."""
    from ..files import same_file
    db = os.path.expanduser(cfg.storage.db)
    if not same_file(output, db):
        return None
    named = "" if os.path.abspath(db) == os.path.abspath(output) else f" ({db})"
    return f"-o {output}: is the database of stored calls{named}, which the report would replace; give -o another file"


def _recording_options(args: argparse.Namespace) -> list[str]:
    """The options of a recording's report given on the command line, as given (``--model ko``):
    a stored call's report and an archive's use none of them."""
    given = [f"--caller-channel {args.caller_channel}" if args.caller_channel is not None else "",
             f"--agent-channel {args.agent_channel}" if args.agent_channel is not None else "",
             f"--agent {args.agent}" if args.agent is not None else "",
             *(f"--hold {text}" for text in _holds_given(args)),
             "--no-transcribe" if args.no_transcribe else "",
             f"--model {args.model}" if args.model is not None else ""]
    return [option for option in given if option]


def _holds_given(args: argparse.Namespace) -> list[str]:
    """Each ``--hold`` given, in the words a manifest's ``hold`` takes (:func:`~monitor.capture.holds.holds_text`)."""
    from ..capture.holds import holds_text
    return [holds_text([span]) for span in args.hold]


def _failed(err: Exception, output: str) -> int:
    """Say in one line why the report was not made; the exit status: 1 when the report itself
    failed (its content, writing it), 2 when its setup did (database, matplotlib)."""
    if isinstance(err, ImportError):
        from ..report import MATPLOTLIB_HINT
        error(f"{MATPLOTLIB_HINT} ({err})")
        return ExitStatus.BAD_SETUP
    if isinstance(err, OSError):
        error(f"{output}: cannot write the report ({err.strerror or err})")
        return ExitStatus.FAILED
    error(str(err))
    from ..report import ReportError
    return ExitStatus.FAILED if isinstance(err, ReportError) else ExitStatus.BAD_SETUP


def _stored(args: argparse.Namespace, cfg: Config, call_id: int):
    """The report data of stored call ``call_id``, its recording's flaws said in warning lines as
    a recording's report says them, and that its audio was analysed again, no series file of it
    found; a database that is not there is a StoreError (exit 2, as for
    every command that reads one), which names a running daemon's other database."""
    from ..report import from_store
    from ..report.data import recording_warning
    from ..delivery.store import Store
    from ..delivery.store_errors import StoreError
    from ..delivery.store_files import a_folder, unreachable
    from .common import daemon_elsewhere

    db = os.path.expanduser(cfg.storage.db)
    if (why := unreachable(db)) is not None:  # there or not, it cannot be told: not "no database at"
        raise StoreError(why)
    if os.path.isdir(db):
        raise StoreError(a_folder(db))
    if not os.path.isfile(db):
        hint = " (give --db FILE)" if args.db is None else ""  # a --db given is no hint to give it
        raise StoreError(f"call {call_id}: no database at {db}{hint}" + daemon_elsewhere(args, cfg))
    store = Store.open_to_read(db, snapshot_every_s=cfg.storage.snapshot_every_s)
    try:
        data = from_store(store, call_id, cfg)
    finally:
        store.close()
    if said := recording_warning(call_id, data):
        warning(said)
    if data.no_series:  # here only: an archive's calls (a batch's) have none, the daemon said why it wrote none
        warning(data.no_series)
    _say_flaws(data.source, data)
    return data


def _archive(args: argparse.Namespace, fmt: str) -> int:
    """``report --batch TABLE -o archive.html``: the overview page of a scored archive."""
    from .common import StoreError
    if fmt != "html":
        error(f"{args.output}: an archive report is an .html page")
        return ExitStatus.BAD_SETUP
    cfg = _config_for(args)
    if cfg is None:
        return ExitStatus.BAD_SETUP
    from ..report import ReportError
    from ..batch.progress import progress_shown
    from ..delivery.store_files import no_database_there
    from ..report.archive import archive_calls_folder, archive_report, read_table
    try:
        rows = read_table(args.batch)
    except ReportError as err:
        return _failed(err, args.output)
    if args.db is not None and (none := no_database_there(cfg.storage.db)):  # named, so said, before the reports
        warning(f"{none}: the flagged calls' reports are made from their recordings")
    not_used(_recording_options(args), "an archive's call reports are made as its calls were scored "
                                      "(from the database, else from the recording with the row's channels)")
    unwritten: list[str] = []  # a flagged call's report that could not be made: said, and the exit status 1

    def not_written(line: str) -> None:
        error(line)
        unwritten.append(line)

    try:
        n = archive_report(args.batch, rows, args.output, cfg, on_error=not_written, on_warning=warning,
                           progress=progress_shown())  # as the batch's: a bar on a terminal, else lines
    except (ReportError, StoreError, ImportError, OSError) as err:
        return _failed(err, args.output)
    except KeyboardInterrupt as stop:  # the call reports written so far are whole (each written atomically)
        error(f"{args.output}: {stopped_by(stop)} before the archive page was written: no page written; "
              f"the call reports already made are kept in {archive_calls_folder(args.output)}")
        raise
    info(f"archive report written to {name_text(args.output)} ({n} call report(s) beside it)")
    return ExitStatus.FAILED if unwritten else ExitStatus.OK
