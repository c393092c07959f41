"""The files the daemon writes of a call beside its database: its audio (``call-<id>.wav``), its
report (``call-<id>-report.html``) and the series its report draws (``call-<id>-series.npz``; replay
writes a replayed call's too, named after its database as well: :func:`replayed_series_name`,
:mod:`~monitor.analysis.hop_series`), where they go, and their deletion with the call when the
retention period purges it. The daemon writes an ended call's series and report in a thread of
its own, the series first (:class:`CallFileWrites`).

The names come from the database's call ids, which another database repeats: a folder of call
files belongs to one database, named in the folder's :data:`OWNER_FILE` when the daemon starts (or
reloads) with ``daemon.write_audio`` (the audio folder) or ``daemon.report_on_critical`` (the
report folder). A daemon of another database is refused that folder in one line, rather than its
call 1 overwriting the first's ``call-1.wav`` or ``call-1-report.html``, and a purge deletes
nothing in a folder another database owns, nor audio the database never named in a folder that
does not name it (:func:`purge_unnamed_audio`), nor a half-written file it cannot tell is its own
in a folder that names no database and holds another database's call files
(:func:`purge_unfinished_writes`); a replayed call's series, whose name is its
database's own, goes beside its database when another database owns its call folder
(:func:`replayed_series_folder`), and is purged wherever it is. The database keeps the folders its
daemon wrote call files to, and replay its calls' series, so that a purge run with another
configuration, or none, finds them there."""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import itertools
import logging
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Iterable

from ..config import Config
from ..files import make_private_folder, replaced, shared_folder_warning
from ..local_time import local_text
from .store_rows import LIVE_SOURCE

if TYPE_CHECKING:
    from ..analysis.hop_series import CallSeries

log = logging.getLogger(__name__)


def report_folder(cfg: Config) -> Path:
    """Where the daemon writes call reports: ``daemon.report_dir``, else the database's folder."""
    return Path(os.path.expanduser(cfg.daemon.report_dir or os.path.dirname(
        os.path.expanduser(cfg.storage.db)) or "."))


def audio_name(call_id: int) -> str:
    """The name of the daemon's file of a call's audio (in :func:`audio_folder`)."""
    return f"call-{call_id}.wav"


def report_name(call_id: int) -> str:
    """The name of the daemon's report of a call (in :func:`report_folder`)."""
    return f"call-{call_id}-report.html"


def report_path(cfg: Config, call_id: int) -> str:
    """Where the daemon writes a call's report (in :func:`report_folder`)."""
    return os.path.join(report_folder(cfg), report_name(call_id))


def audio_folder(cfg: Config) -> Path:
    """Where the daemon writes call audio: ``daemon.audio_dir``, else the database's folder."""
    return call_folder(cfg, cfg.storage.db)


def call_folder(cfg: Config, db: str | os.PathLike[str]) -> Path:
    """Where the calls of database ``db`` have their audio and series: ``daemon.audio_dir``, else
    the database's folder."""
    return Path(os.path.expanduser(cfg.daemon.audio_dir or os.path.dirname(os.path.expanduser(str(db))) or "."))


def series_name(call_id: int) -> str:
    """The name of a live call's series file, beside its audio (in :func:`audio_folder`, which one
    database owns), and of a replayed call's as an earlier release named it."""
    return f"call-{call_id}-series.npz"


def replayed_series_name(call_id: int, db: str | os.PathLike[str]) -> str:
    """The name of the series file of replayed call ``call_id`` of database ``db`` (in its
    :func:`call_folder`): ``<database's name>-<8 hex digits of its absolute path>-call-<id>-series.npz``,
    as a folder no daemon owns holds the replayed calls of any database (``replay --db a.db`` and
    ``--db b.db`` in one folder: each has a call 1, with a series file of its own)."""
    return f"{_replayed_series_start(db)}{call_id}-series.npz"


def _replayed_series_start(db: str | os.PathLike[str]) -> str:
    """The start of the name of each series of a replayed call of database ``db``
    (:func:`replayed_series_name`), up to the call's id."""
    real = os.path.realpath(os.path.expanduser(str(db)))
    return f"{Path(real).stem}-{hashlib.sha1(os.fsencode(real)).hexdigest()[:8]}-call-"


def replayed_series_folder(cfg: Config, db: str | os.PathLike[str]) -> Path:
    """Where replay writes the series of database ``db``'s calls: its :func:`call_folder`, unless
    another database's daemon owns that folder (``daemon.audio_dir`` of a configuration shared with
    it, ``replay --db qa.db``): then the database's own folder, beside it, as with no
    ``daemon.audio_dir`` (the file's name is the database's own there too)."""
    folder, real = call_folder(cfg, db), os.path.realpath(os.path.expanduser(str(db)))
    return folder if other_database(folder, real) is None else Path(os.path.dirname(real))


def replayed_series_path(cfg: Config, db: str | os.PathLike[str], call_id: int,
                         recorded: Iterable[str] = ()) -> Path:
    """Where the series of replayed call ``call_id`` of database ``db`` are: its
    :func:`replayed_series_name` in its :func:`replayed_series_folder`, else in a folder of
    ``recorded`` (those the database keeps its call files went to: found whatever configuration
    asks), else, when an earlier release wrote it so, the :func:`series_name` it gave it in its
    :func:`call_folder`; the first place when none is there."""
    own = replayed_series_name(call_id, db)
    places = list(dict.fromkeys((replayed_series_folder(cfg, db) / own, *(_absolute(f) / own for f in recorded))))
    earlier = call_folder(cfg, db) / series_name(call_id)
    return next((p for p in places if p.exists()), earlier if earlier.exists() else places[0])


def write_call_series(cfg: Config, db: str | os.PathLike[str], call_id: int, series: CallSeries,
                      live: bool) -> str | None:
    """Write the series of call ``call_id`` of database ``db`` whole (mode 0600): a ``live``
    call's to its :func:`call_folder`, named :func:`series_name`, unless that folder holds another
    database's call files (whose calls have the same names); a replayed call's to its
    :func:`replayed_series_folder`, named :func:`replayed_series_name`. The path, or None. Never
    raises (the call is stored without it: its report analyses its audio): a failure is a warning."""
    from ..analysis.hop_series import write_series
    owner = os.path.realpath(os.path.expanduser(str(db)))
    folder = call_folder(cfg, db) if live else replayed_series_folder(cfg, db)
    path = folder / (series_name(call_id) if live else replayed_series_name(call_id, owner))
    try:
        if live and other_database(folder, owner) is not None:
            return None
        make_private_folder(folder)
        with replaced(str(path), SERIES_WRITING, mode=0o600) as fh:
            write_series(fh, replace(series, call_id=call_id, database=owner))
    except OSError as err:
        log.warning("%s: call %s's series not written (%s): its report will analyse its audio", path, call_id,
                    err.strerror or err)
        return None
    return str(path)


class CallFileWrites:
    """The files the daemon writes of its ended calls once they end: a call's audio closed (put on
    the disk), its series (:func:`write_call_series`), then its report, which draws them, written one after another in
    the order given, in a thread of their own (``pool``: an executor of one worker, made when None).
    A call of hours takes most of a second to compress its series and more than a second to draw its
    report, which the capture loop spends on the next call's audio and alerts meanwhile.
    :meth:`reports_written` says the reports written since it was last asked, :meth:`close` waits
    for all before the daemon exits: each file is written whole, or not at all (one log line naming
    it)."""

    def __init__(self, pool: concurrent.futures.Executor | None = None) -> None:
        self._pool = pool or concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="call-files")
        self._reports: list[concurrent.futures.Future] = []

    def close_audio(self, close: Callable[[], None], failed: Callable[[Exception], None]) -> None:
        """Run ``close``, the close of an ended call's audio, which puts it on the disk (fsync: seconds
        on a busy disk, as long as a failing one stalls, which the capture loop must not wait for),
        in the writing thread, before the call's series and report given after it; ``failed`` is
        given what it raised. After :meth:`close`, run here and now (the file is never left open)."""
        try:
            self._pool.submit(self._audio_closed, close, failed)
        except RuntimeError:  # no more are taken
            self._audio_closed(close, failed)

    @staticmethod
    def _audio_closed(close: Callable[[], None], failed: Callable[[Exception], None]) -> None:
        try:
            close()
        except Exception as err:  # noqa: BLE001 - said by ``failed``: no one waits for it
            failed(err)

    def write_series(self, cfg: Config, db: str | os.PathLike[str], call_id: int, series: CallSeries) -> None:
        """Write live call ``call_id``'s ``series`` of database ``db`` as :func:`write_call_series` does,
        in the writing thread."""
        self._pool.submit(self._series_written, cfg, db, call_id, series)

    def write_report(self, call_id: int, path: str, write: Callable[[], str | None]) -> None:
        """Write call ``call_id``'s report to ``path`` by calling ``write`` (the path it wrote, or
        None: no report due, or a failure it said), in the writing thread, after the call's series."""
        self._reports.append(self._pool.submit(self._report_written, call_id, path, write))

    def reports_written(self) -> list[tuple[int, str]]:
        """(call id, path) of each report written since the last call, in the order given; one still
        being written is said by a later call."""
        done = list(itertools.takewhile(lambda f: f.done(), self._reports))
        self._reports = self._reports[len(done):]
        return [r for r in (f.result() for f in done) if r is not None]

    @staticmethod
    def _series_written(cfg: Config, db: str | os.PathLike[str], call_id: int, series: CallSeries) -> str | None:
        try:
            return write_call_series(cfg, db, call_id, series, live=True)
        except Exception as err:  # noqa: BLE001 - said here: no one waits for it (the call is stored without it)
            log.error("call %s's series not written (%s): its report will analyse its audio", call_id, err)
            return None

    @staticmethod
    def _report_written(call_id: int, path: str, write: Callable[[], str | None]) -> tuple[int, str] | None:
        try:
            written = write()
        except Exception as err:  # noqa: BLE001 - said here: no one waits for it (the call is stored all the same)
            log.error("%s: call %s's report not written (%s)", path, call_id, err)
            return None
        return (call_id, written) if written else None

    def close(self) -> None:
        """Once every file given is written; no more are taken."""
        self._pool.shutdown(wait=True)


OWNER_FILE = ".callmonitor-database"
"""In a call audio or report folder: the absolute path of the database whose call files it holds."""


def database_path(cfg: Config) -> str:
    """``storage.db`` as the owner file names it: absolute, links resolved."""
    return os.path.realpath(os.path.expanduser(cfg.storage.db))


def owner_of(folder: Path) -> str | None:
    """The database ``folder``'s owner file names, or None (no owner file yet)."""
    try:
        return (folder / OWNER_FILE).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def other_database(folder: Path, db: str) -> str | None:
    """The database other than ``db`` whose call files ``folder`` holds: the one its owner file
    names, while that database exists (one moved or deleted leaves the folder free); else None."""
    owner = owner_of(folder)
    return owner if owner and owner != db and os.path.exists(owner) else None


def audio_folder_problem(cfg: Config) -> str | None:
    """Why the daemon could not write call audio (``daemon.write_audio``), in one line; None when
    it can (the folder is made if missing, and named this database's: :data:`OWNER_FILE`)."""
    return _folder_problem(audio_folder(cfg), database_path(cfg), "daemon.audio_dir", "call audio", "call-<id>.wav")


def report_folder_problem(cfg: Config) -> str | None:
    """Why the daemon could not write call reports (``daemon.report_on_critical``), in one line;
    None when it can (the folder is made if missing, and named this database's)."""
    return _folder_problem(report_folder(cfg), database_path(cfg), "daemon.report_dir", "call reports",
                           "call-<id>-report.html")


def shared_call_folders(cfg: Config) -> list[str]:
    """A warning for each folder the daemon writes call files to (``daemon.write_audio``'s audio,
    ``daemon.report_on_critical``'s reports) that every user may write, naming it: one of them could
    move a call's file away or put another in its place (a purge then misses the one moved), as
    :func:`~monitor.files.shared_folder_warning` says of the status socket's."""
    kept = [("call audio (daemon.audio_dir)", audio_folder(cfg), "a call's audio (call-<id>.wav)", "daemon.audio_dir",
             cfg.daemon.write_audio),
            ("call reports (daemon.report_dir)", report_folder(cfg), "a call's report (call-<id>-report.html)",
             "daemon.report_dir", cfg.daemon.report_on_critical)]
    return [said for what, folder, files, key, on in kept if on and (said := shared_folder_warning(
        what, folder, f"move {files} away or put another in its place (a purge then misses the one moved)", key))]


def call_files_problem(cfg: Config) -> str | None:
    """Why the daemon could not write the call files ``cfg`` asks for (audio, reports), in one line;
    None when it can: what the daemon checks as it starts and as it reloads."""
    return (cfg.daemon.write_audio and audio_folder_problem(cfg)) \
        or (cfg.daemon.report_on_critical and report_folder_problem(cfg)) or None


def _folder_problem(folder: Path, db: str, key: str, what: str, names: str) -> str | None:
    try:
        make_private_folder(folder)
        with tempfile.TemporaryFile(dir=folder):
            pass
        other = other_database(folder, db)
        if other is None:
            _claim(folder, db)
    except OSError as err:
        return f"{key}: cannot write {what} to {folder} ({err.strerror or err})"
    if other is not None:
        return (f"{key}: {folder} holds the {what} of another database, {other} (its calls have the same "
                f"{names} names): give each database its own folder")
    return None


def _claim(folder: Path, db: str) -> None:
    """Name ``db`` in ``folder``'s owner file (raises OSError)."""
    if owner_of(folder) == db:
        return
    with replaced(str(folder / OWNER_FILE), OWNER_FILE + ".") as fh:
        fh.write((db + "\n").encode("utf-8"))


SERIES_WRITING = ".series-"
"""The name's start of a series file being written (:func:`~monitor.files.replaced`), renamed once whole."""
REPORT_WRITING = ".report-"
"""The name's start of a report being written, renamed once whole."""
UNFINISHED_RANDOM = re.compile(r"[0-9a-f]{32}|[a-z0-9_]{8}")
"""The random part of the name of a file being written (:data:`SERIES_WRITING`, :data:`REPORT_WRITING`):
32 hexadecimal digits (:func:`~monitor.files.random_hex`), or the 8 characters of ``mkstemp`` with
which earlier releases named it. A purge deletes no other name."""
UNFINISHED_AFTER_S = 3600.0
"""A file being written (:data:`SERIES_WRITING`, :data:`REPORT_WRITING`) last written longer ago than this
was left by a process killed as it wrote it (no write of a series or report takes so long)."""


CALL_FILE_SLACK_S = 300.0
"""A call's audio or report file is written while the call runs or when it ends: one whose time
is further than this outside the call is another call's, with the same id (another database
in the same folder), and a purge leaves it."""


def _absolute(folder: str | os.PathLike[str]) -> Path:
    return Path(os.path.abspath(os.path.expanduser(folder)))


def _call_file_places(cfg: Config, call_id: int, recorded: Iterable[str] = (), live: bool = True) -> list[Path]:
    """Where the daemon (or replay) may have written the files of call ``call_id``: its series, and
    of a ``live`` call its audio, in :func:`audio_folder` and its report in :func:`report_folder`
    of ``cfg``, and each in each folder of ``recorded``, those the database keeps its daemon wrote
    call files to (:meth:`~monitor.delivery.store.Store.note_call_folder`: found whatever
    configuration a purge runs with). A replayed call's series under both its names
    (:func:`replayed_series_name`, and :func:`series_name` as an earlier release named it)."""
    series = (series_name(call_id),) if live else (replayed_series_name(call_id, cfg.storage.db), series_name(call_id))
    names = (audio_name(call_id), report_name(call_id), *series) if live else series
    own = (_absolute(audio_folder(cfg)) / names[0], _absolute(report_folder(cfg)) / names[1]) if live \
        else (_absolute(replayed_series_folder(cfg, cfg.storage.db)) / series[0],)
    return list(dict.fromkeys((*own, *(_absolute(audio_folder(cfg)) / name for name in series),
                               *(_absolute(f) / name for f in recorded for name in names))))


def purge_call_files(cfg: Config, calls: Iterable[tuple[int, float, float, str]],
                     recorded: Iterable[str] = (), others: dict[Path, str | None] | None = None) -> int:
    """Delete the audio (``call-<id>.wav``) and report (``call-<id>-report.html``) the daemon wrote
    for ``calls`` ((id, started_at, ended_at, source), purged from the database; only the daemon's,
    source ``live:...``, have any) and the series of every call (``call-<id>-series.npz``) where
    :func:`_call_file_places` says, ``recorded`` the folders the database keeps: the retention
    period holds for them too. Only regular files (a link or a folder is the user's). Returns how
    many were deleted; one that cannot be is a warning. ``others``: the folders found holding
    another database's call files or not (said once), kept across the transactions of one purge."""
    deleted, db, recorded = 0, database_path(cfg), list(recorded)
    others = {} if others is None else others
    for call_id, started_at, ended_at, source in calls:
        ours = replayed_series_name(call_id, db)  # the database's own name: its file in any folder
        for path in _call_file_places(cfg, call_id, recorded, live=source.startswith(LIVE_SOURCE)):
            # in a folder another database owns, the files of the names calls share are that one's
            if path.name != ours and path.parent not in others:
                others[path.parent] = other_database(path.parent, db)
                if others[path.parent]:
                    log.warning("%s holds the call files of another database, %s: none of them deleted",
                                path.parent, others[path.parent])
            if (path.name == ours or others[path.parent] is None) and not another_databases_series(path, db):
                deleted += _delete_own(path, lambda t: (started_at - CALL_FILE_SLACK_S <= t
                                                        <= ended_at + CALL_FILE_SLACK_S))
    return deleted


def another_databases_series(path: Path, db: str) -> bool:
    """Whether ``path`` is the series of a call of another database than ``db`` that still exists, as
    the file names its database: two databases in one folder (``replay --db a.db``, then ``--db
    b.db``) of an earlier release shared the name ``call-<id>-series.npz``, which the call of that id
    to end last wrote. Not for any other file, nor a series that cannot be read (the time a purge
    judges files by decides)."""
    if not path.name.endswith("-series.npz") or not path.is_file():
        return False
    from ..analysis.hop_series import SeriesFileError, read_series
    try:
        owner = read_series(str(path)).database
    except SeriesFileError:
        return False
    return bool(owner) and owner != db and os.path.exists(owner)


def _delete_own(path: Path, written_ok: Callable[[float], bool]) -> bool:
    """Delete ``path`` if it is a regular file (a link or a folder is the user's) last written at a
    time ``written_ok`` accepts; whether it was. A file that cannot be deleted is a warning."""
    try:
        st = path.lstat()
        if stat.S_ISREG(st.st_mode) and written_ok(st.st_mtime):
            path.unlink()
            return True
    except FileNotFoundError:
        pass
    except OSError as err:
        log.warning("%s not deleted: %s", path, err.strerror or err)
    return False


def purge_unnamed_audio(cfg: Config, before: float, keep: Iterable[Path] = (), recorded: Iterable[str] = ()) -> int:
    """Delete the audio of calls the database never named (``call-started-*.wav``: written while it
    failed, the daemon stopped before the call had its id) last written before ``before``: the
    retention period holds for them too, though no row of theirs is left to purge. In the audio
    folder of ``cfg`` and the folders ``recorded`` (as :func:`purge_call_files`), only in one that
    names this database (no row tells whose such a file is: in a folder with no owner file yet,
    written by a daemon started before folders named their database, it may be another database's,
    whose retention is not this one's); only regular files; ``keep``: files a running daemon still
    waits to name. Returns how many were deleted."""
    waiting = {_absolute(p) for p in keep}
    folders = dict.fromkeys((_absolute(audio_folder(cfg)), *map(_absolute, recorded)))
    return sum(_delete_own(path, lambda t: t < before) for folder in folders
               if owner_of(folder) == database_path(cfg)
               for path in folder.glob("call-started-*.wav") if path not in waiting)


def purge_unfinished_writes(cfg: Config, before: float, recorded: Iterable[str] = (),
                            now: float | None = None) -> int:
    """Delete the series and reports a process killed as it wrote them left (``.series-<random>.npz``,
    ``.report-<random>.html``, :func:`unfinished_write`: a kill or a power loss in the second a
    call's series or report is written, before the file is renamed whole into place) last written
    before ``before`` and :data:`UNFINISHED_AFTER_S` before ``now``: they hold the call's data, which
    no row names, and the retention period holds for them too. In every folder of the database's
    call files: the audio and report folders of ``cfg``, its replayed calls' series folder and the
    folders ``recorded`` (as :func:`purge_unnamed_audio`), where :func:`_unfinished_ours` says the
    file is this database's; only regular files. Returns how many were deleted."""
    last, db = min(before, (time.time() if now is None else now) - UNFINISHED_AFTER_S), database_path(cfg)
    folders = dict.fromkeys((_absolute(audio_folder(cfg)), _absolute(report_folder(cfg)),
                             _absolute(replayed_series_folder(cfg, db)), *map(_absolute, recorded)))
    deleted = 0
    for folder in folders:
        whose = ""  # found out once the folder has a file to judge
        for path in (p for pattern in (f"{SERIES_WRITING}*.npz", f"{REPORT_WRITING}*.html")
                     for p in folder.glob(pattern) if unfinished_write(p.name)):
            whose = whose or _whose_files(folder, db)
            if _unfinished_ours(path, db, whose):
                deleted += _delete_own(path, lambda t: t < last)
    return deleted


def unfinished_write(name: str) -> bool:
    """Whether ``name`` is exactly that of a series or report being written (:data:`SERIES_WRITING`,
    :data:`REPORT_WRITING`, then :data:`UNFINISHED_RANDOM` and the file's extension)."""
    for start, ext in ((SERIES_WRITING, ".npz"), (REPORT_WRITING, ".html")):
        if name.startswith(start) and name.endswith(ext):
            return UNFINISHED_RANDOM.fullmatch(name[len(start):-len(ext)]) is not None
    return False


def _unfinished_ours(path: Path, db: str, whose: str) -> bool:
    """Whether the half-written ``path`` (:func:`unfinished_write`) is of database ``db``, in a
    folder of its call files whose files are ``whose`` (:func:`_whose_files`): any in a folder that
    names ``db`` (a daemon's), none in one that names another database; in one that names none
    (replay's series), a series written whole before its rename by the database it names, and any
    other only when no other database's call files are there."""
    if whose in ("this", "another's"):
        return whose == "this"
    if path.name.endswith(".npz") and path.is_file():
        from ..analysis.hop_series import SeriesFileError, read_series
        with contextlib.suppress(SeriesFileError):
            if owner := read_series(str(path)).database:
                return owner == db
    return whose == "only this"


_DAEMON_FILE = re.compile(r"call-(\d+\.wav|started-.+\.wav|\d+-report\.html)")
"""The name of a daemon's call file (:func:`audio_name`, :func:`new_audio_file`'s unnamed audio,
:func:`report_name`): which database's, only a folder's :data:`OWNER_FILE` says."""
_REPLAYED_SERIES = re.compile(r".+-[0-9a-f]{8}-call-\d+-series\.npz")
"""The name of a replayed call's series (:func:`replayed_series_name`)."""


def _whose_files(folder: Path, db: str) -> str:
    """Whose call files ``folder`` holds, as far as can be told, for a purge of database ``db``:
    ``"this"`` when its owner file (:data:`OWNER_FILE`) names ``db``, ``"another's"`` when it names
    another database that exists; in a folder that names none, ``"shared"`` when it holds a file
    that is, or may be, another database's (a replayed series named after another database, a
    daemon's call file, a series that names another database), else ``"only this"``."""
    if owner_of(folder) == db:
        return "this"
    if other_database(folder, db) is not None:
        return "another's"
    ours = _replayed_series_start(db)
    for path in folder.glob("call-*"):
        if _DAEMON_FILE.fullmatch(path.name) or another_databases_series(path, db):
            return "shared"
    if any(not p.name.startswith(ours) for p in folder.glob("*-call-*-series.npz")
           if _REPLAYED_SERIES.fullmatch(p.name)):
        return "shared"
    return "only this"


def started_name(started_at: float) -> str:
    """The name (without ``.wav``) of the audio of a call started at unix seconds ``started_at`` that
    has no id yet: ``call-started-20261025-013000``, its local start time, and in the hour a change
    of daylight saving time repeats, its zone too (:func:`~monitor.local_time.local_text`), which
    tells the two readings of the wall clock apart: ``call-started-20261025-023000-CEST``, an hour
    later ``-CET`` (the offset, ``-+0200``, in a zone whose two readings have one abbreviation: no
    colon, which some shared file systems refuse). A purge finds them all as ``call-started-*.wav``."""
    return "call-started-" + local_text(started_at, "%Y%m%d-%H%M%S").replace(" ", "-").replace(":", "")


_NEW_PRIVATE = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
"""How a call's audio file is made: a new file of this process, never one there before (another
user's, readable by them, in a folder they may write) nor one a symbolic link there points to."""


def new_audio_file(folder: Path, call_id: int | None, started_at: float) -> tuple[Path, int]:
    """A new, empty, private file for a call's audio, and its descriptor (the audio is written through
    it, never by its name): ``call-<id>.wav`` (whatever was at that name, an earlier call's file or a
    link, removed first), or without an id ``call-started-<local start time>.wav`` (:func:`started_name`;
    ``-2``, ``-3``, ... if that exists, as long as it does: a file of that name still written, or
    waiting for its call's id)."""
    make_private_folder(folder)
    if call_id is not None:
        path = folder / audio_name(call_id)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return path, os.open(path, _NEW_PRIVATE, 0o600)
    stem = started_name(started_at)
    for n in range(1, 1000):
        path = folder / (f"{stem}.wav" if n == 1 else f"{stem}-{n}.wav")
        try:
            return path, os.open(path, _NEW_PRIVATE, 0o600)
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: too many call audio files named {stem}-N.wav")
