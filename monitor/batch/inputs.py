"""What to score: files, folders (recursively), globs and CSV manifests, as :class:`CallJob` objects."""

from __future__ import annotations

import csv
import difflib
import errno
import glob
import os
import re
import stat
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3")
"""Extensions picked up inside folders and globs (any case). Files named directly are always taken."""


BATCH_CHOOSE_LEGS = "--caller-channel N and --agent-channel N, or a manifest's columns of those names, choose others"
"""How a batch is told other channels of a recording's legs (its options, a manifest's columns)."""


MANIFEST_COLUMNS: tuple[str, ...] = ("path", "caller_channel", "agent_channel", "call_id", "agent_path", "hold")
"""The columns a manifest's rows are read by; any other column is the user's own (notes, a name).
``agent_path``: the agent's leg as a recording of its own, ``path`` then the caller's (mono each);
``hold``: the call's holds (``1:40-2:25; 5:00-5:31.5``, :func:`~monitor.capture.holds.parse_holds`),
empty for none."""


class InputError(ValueError):
    """An input that names nothing to score; the message names it and the problem."""


@dataclass(frozen=True)
class CallJob:
    """One recording to score. ``agent_channel`` None: no agent leg (mono files have none anyway)."""

    path: str
    caller_channel: int = 1
    agent_channel: int | None = 0
    call_id: str = ""
    index: int = 0
    """Position in the batch (the order of the inputs): the order of the per-call table."""
    row: str = ""
    """The manifest's row that lists it (``calls.csv line 3``); empty for a recording named as an
    input, or found in a folder or by a glob."""
    agent_path: str = ""
    """The agent's leg's own recording (a manifest's ``agent_path``), ``path`` then the caller's: a
    call of two files, each leg read from its file's one channel (``caller_channel`` and
    ``agent_channel`` 0, :data:`~monitor.capture.leg_files.LEG_FILE_CHANNELS`); empty for a call of
    one recording."""
    holds: tuple[tuple[float, float], ...] = ()
    """The stretches of the call its caller was on hold in (a manifest's ``hold``), in time order,
    joined where they meet: scored as ``replay --hold`` replays it; () for none."""

    def said(self, problem: str) -> str:
        """The one line of ``problem`` (naming the file), with the manifest's row that lists the
        call, if one does: the row to mend."""
        return f"{problem} (listed on {self.row})" if self.row else problem

    def legs(self, channels: int) -> tuple[int, int]:
        """The channels its caller and agent legs are scored from (-1: no agent leg) in a recording
        of ``channels`` channels: the asked ones, but channel 0 alone for a mono recording, as
        :func:`~monitor.capture.sources.leg_channels` reads it (what the table and the ledger keep)."""
        from ..capture.sources import leg_channels
        scored = leg_channels(channels, self.caller_channel, self.agent_channel)
        return scored["caller"], scored.get("agent", -1)

    def legs_turned(self, caller: int, agent: int) -> str:
        """How the batch is told to score this call's legs the other way round, the caller's from
        channel ``agent`` and the agent's from ``caller`` (a
        :data:`~monitor.pipeline.LegsTurn`): its manifest row's columns, else the batch's channel
        options (which every recording named outside a manifest is scored with) or a row of its own."""
        columns = f"caller_channel {agent} and agent_channel {caller}"
        if self.agent_path:  # a call of two files is only listed in a manifest
            if caller < 0:
                return f"change its row of the manifest ({self.row}) to an empty agent_path and run the batch again"
            return (f"change its row of the manifest ({self.row}) to the path {self.agent_path} and the agent_path "
                    f"{self.path} and run the batch again")
        if self.row:
            return f"change its row of the manifest ({self.row}) to {columns} and run the batch again with --resume"
        return (f"score it with --caller-channel {agent} --agent-channel {caller} (the batch's options, for every "
                f"recording named outside a manifest), or list it in a manifest with {columns}")


def _is_audio(name: str) -> bool:
    return name.lower().endswith(AUDIO_SUFFIXES)


def _is_pattern(item: str) -> bool:
    """Whether the input ``item`` is a glob: magic in its name and no file of that name (a
    recording named call[1].wav is that file)."""
    return glob.has_magic(item) and not os.path.lexists(item)


def _new_folder(path: str, searched: set[tuple[int, int]]) -> bool:
    """Whether the folder ``path`` (a link to one too) is none of those ``searched``, which it joins;
    one that cannot be read is new (the search says why it cannot search it)."""
    try:
        st = os.stat(path)
    except OSError:
        return True
    folder = (st.st_dev, st.st_ino)
    new = folder not in searched
    searched.add(folder)
    return new


def _unsearchable(problems: list[str] | None, named: str | None = None) -> Callable[[OSError], None]:
    """What is done of a folder that cannot be searched: a line in ``problems`` (an InputError
    without the list, or for the folder ``named`` as an input itself)."""
    def said(err: OSError) -> None:
        why = err.strerror or str(err)
        why = why[:1].lower() + why[1:]
        message = f"{err.filename}: cannot search the folder ({why}); its recordings are not scored"
        if problems is None or (named and os.path.normpath(str(err.filename)) == os.path.normpath(named)):
            raise InputError(message)
        problems.append(message)
    return said


def _folders(folder: str, onerror: Callable[[OSError], None] | None = None) -> Iterator[tuple[str, list[str]]]:
    """Each folder under ``folder`` (itself first) with the names of its files, hidden folders left
    out, links to folders followed, each folder once however many links reach it (a loop too)."""
    searched: set[tuple[int, int]] = set()
    _new_folder(folder, searched)
    for root, dirs, files in os.walk(folder, onerror=onerror, followlinks=True):
        dirs[:] = [d for d in sorted(dirs) if not d.startswith(".") and _new_folder(os.path.join(root, d), searched)]
        yield root, files


def _glob(pattern: str, onerror: Callable[[OSError], None] | None = None) -> list[str]:
    """What ``glob.glob(pattern, recursive=True)`` finds, but with each folder a ``**`` reaches
    searched once: glob's own ``**`` follows every link to a folder, so that an archive holding a
    link back up its tree is searched round it without end. A ``**`` that ends the pattern is the
    folders before it, which are searched whole. A folder the ``**`` cannot search goes to ``onerror``."""
    parts = pattern.split(os.sep)
    if "**" not in parts:
        return sorted(glob.glob(pattern))
    at = parts.index("**")
    head, rest = os.sep.join(parts[:at]) or ("." if at == 0 else os.sep), os.sep.join(parts[at + 1:])
    bases = [b for b in (glob.glob(head) if glob.has_magic(head) else [head]) if os.path.isdir(b)]
    if not rest:
        return sorted(bases)
    return sorted(p for base in bases for root, _ in _folders(base, onerror)
                  for p in _glob(os.path.join(glob.escape(root), rest), onerror))


def _walk(folder: str, problems: list[str] | None = None, named: bool = False) -> Iterator[str]:
    """The recordings under ``folder``, hidden names left out as a glob leaves them (a Mac's
    ``._call.wav`` beside each recording copied from it, which is no audio, a ``.Trash``), links to
    folders followed as a glob follows them, each folder searched once (a link to one searched
    already, or to a folder above it, adds nothing). A folder
    that cannot be searched is a line in ``problems`` (an InputError without the list, or when it
    is ``folder`` itself and ``named`` as an input)."""
    for root, files in _folders(folder, _unsearchable(problems, folder if named else None)):
        for name in sorted(files):
            if _is_audio(name) and not name.startswith("."):
                yield os.path.join(root, name)


def _channel(value: str, default: int | None, where: str, leg: str) -> int | None:
    """A row's channel of ``leg`` (``default`` where the column is empty): 0 or more, or -1 for no
    agent leg; anything else names the row."""
    value = (value or "").strip()
    if not value:
        return default
    try:
        n = int(value)
    except ValueError:
        raise InputError(f"{where}: not a channel number: {value!r}") from None
    if n < 0 and (leg == "caller" or n < -1):
        allowed = "0 or more" if leg == "caller" else "0 or more, or -1 for none"
        raise InputError(f"{where}: the {leg} channel must be {allowed} ({n} asked)")
    return None if n < 0 else n


def _holds(value: str | None, where: str) -> tuple[tuple[float, float], ...]:
    """A row's holds (:func:`~monitor.capture.holds.parse_holds`); a cell that is no stretch of the
    call is an InputError naming the row and the stretch (the whole cell too, where it holds more
    than that one), as a bad channel is."""
    from ..capture.holds import parse_holds
    cell = (value or "").strip()
    try:
        return parse_holds(cell)
    except ValueError as err:
        whole = "" if str(err).startswith(repr(cell)) else f" {cell!r}"
        raise InputError(f"{where}: hold{whole}: {err}") from None


def not_utf8(path: str, what: str = "the manifest") -> str:
    """The line of a CSV file (``what``: a manifest, a batch table) that is not UTF-8 text (a
    spreadsheet's export in Windows-1252, say), where it is and what to do."""
    from ..config.loader import not_utf8_at
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        raw.decode("utf-8-sig")
        return f"{path}: cannot read {what} (not UTF-8 text)"
    except UnicodeDecodeError as err:
        return f"{path} {not_utf8_at(raw, err)}: save {what} as UTF-8 (a spreadsheet's 'CSV UTF-8')"


def _other_separator(header: list[str]) -> str | None:
    """What a header that is one column holding ``path`` and another separator (a spreadsheet's
    export in a locale whose lists take ';') says of it, or None."""
    if len(header) != 1:
        return None
    for sep in (";", "\t", "|"):
        if "path" in (name.strip() for name in header[0].split(sep)):
            return f"its one column: {header[0]!r}; a manifest's columns are separated by commas, not {sep!r}"
    return None


def read_manifest(path: str, caller_channel: int, agent_channel: int | None) -> list[tuple[str, CallJob]]:
    """Rows of a CSV manifest: a ``path`` column (relative paths are relative to the manifest),
    optional ``caller_channel``, ``agent_channel`` (-1 = none) and ``call_id`` columns; each row's
    call with where the row is (``calls.csv line 3``: its line in the file, blank lines counted)."""
    base = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames:  # "path, caller_channel": the space is no part of the name
                reader.fieldnames = [(name or "").strip() for name in reader.fieldnames]
            # each row with its line in the file (a blank line is no row; a row whose quoted cell holds
            # a line break: the line it ends on)
            lines = [(reader.line_num, row) for row in reader]
            header = list(reader.fieldnames or ())
    except UnicodeDecodeError:
        raise InputError(not_utf8(path)) from None
    except (OSError, csv.Error) as err:
        raise InputError(f"{path}: cannot read the manifest ({getattr(err, 'strerror', None) or err})") from None
    if "path" not in header:
        columns = _other_separator(header) or (f"its columns: {', '.join(header)}" if header else "it is empty")
        raise InputError(f"{path}: a manifest needs a 'path' column ({columns})")
    if not lines:
        raise InputError(f"{path}: a manifest needs at least one row under its header")
    if problem := _column_twice(header) or _misspelt_column(header, [row for _, row in lines]):
        raise InputError(f"{path}: {problem}")
    jobs = []
    for n, row in lines:
        where = f"{path} line {n}"
        if None in row:  # csv's cells past the header's: a comma unquoted, every later value shifted
            raise InputError(f"{where}: {len(header) + len(row[None])} cells, the header has {len(header)}: "
                             'a value holding a comma (a path, a note) must be in double quotes ("a, b.wav")')
        p = (row.get("path") or "").strip()
        if not p:
            raise InputError(f"{where}: empty path")
        if agent_path := (row.get("agent_path") or "").strip():
            jobs.append((where, _two_files(row, where, os.path.normpath(os.path.join(base, p)),
                                           os.path.normpath(os.path.join(base, agent_path)))))
            continue
        caller = _channel(row.get("caller_channel", ""), caller_channel, where, "caller")
        assert caller is not None  # a caller's -1 is refused
        jobs.append((where, CallJob(path=os.path.normpath(os.path.join(base, p)), caller_channel=caller,
                                    agent_channel=_channel(row.get("agent_channel", ""), agent_channel, where, "agent"),
                                    call_id=(row.get("call_id") or "").strip(), holds=_holds(row.get("hold"), where))))
    return jobs


def _two_files(row: dict, where: str, path: str, agent_path: str) -> CallJob:
    """The call of a manifest's row that gives the agent's leg a file of its own (``agent_path``),
    each leg read from its file's one channel: a channel column that says otherwise (a number other
    than 0) contradicts it, an InputError naming the row, as a bad channel is."""
    from ..capture.leg_files import LEG_FILE_CHANNELS, ONE_CHANNEL_EACH
    for column in CHANNEL_COLUMNS:
        value = (row.get(column) or "").strip()
        if value not in ("", "0"):
            raise InputError(f"{where}: {column} {value} contradicts agent_path {agent_path}: {ONE_CHANNEL_EACH} "
                             f"(leave {column} empty)")
    return CallJob(path=path, caller_channel=LEG_FILE_CHANNELS["caller"], agent_channel=LEG_FILE_CHANNELS["agent"],
                   call_id=(row.get("call_id") or "").strip(), agent_path=agent_path, holds=_holds(row.get("hold"), where))


CHANNEL_COLUMNS = ("caller_channel", "agent_channel")


def _column_twice(header: Sequence[str]) -> str | None:
    """What is wrong with a manifest's header that names a column the rows are read by twice
    (``path,caller_channel,path``: one of the two would be read, the other dropped unsaid), or None."""
    twice = [name for name in MANIFEST_COLUMNS if header.count(name) > 1]
    return (f"column '{twice[0]}' is named {header.count(twice[0])} times in its header: "
            "a manifest names each of its columns once") if twice else None


def _misspelt_column(header: Sequence[str], rows: Sequence[dict]) -> str | None:
    """What is wrong with a manifest's header whose column looks meant as one the rows are read by,
    which would leave its calls scored on the default legs, unsaid: a column named like a channel's
    (``caller``, ``agent_chanel``: the start of its name, or a near spelling) whose every value is a
    channel number (and that channel's own column is not there too: ``agent`` with the agents'
    numbers beside ``agent_channel``), one spelt nearly as ``call_id`` (``callid``, ``call-id``;
    with no ``call_id`` column), or one meant as ``agent_path`` (with no ``agent_path`` column),
    which would leave each call of two files scored as its caller's file alone: spelt nearly so
    (``Agent_Path``, ``agent path``, ``agentpath``), or named ``agent...`` with an audio file in each
    of its cells (``agent_file``, ``agent_wav``), or one spelt nearly as ``hold`` (``holds``, ``Hold``;
    with no ``hold`` column), which would leave each call's hold music judged as its caller. Other
    columns are the user's own and kept (notes, an agent's name, ``caller_id`` with the caller's number)."""
    for column in header:
        if not column or column in MANIFEST_COLUMNS:
            continue
        name = column.lower().replace("-", "_").replace(" ", "_")
        cells = [(row.get(column) or "").strip() for row in rows]
        meant = _meant_channels(header, name, cells) + [
            known for known, like in (("call_id", _like(name, "call_id", 0.9)),
                                      ("agent_path", _like(name, "agent_path", 0.8) or _agent_files(name, cells)),
                                      ("hold", _like(name, "hold", 0.88)))
            if like and known not in header]
        if meant:
            return (f"column '{column}' is not one a manifest is read by (did you mean {' or '.join(meant)}?); "
                    f"its columns are {', '.join(MANIFEST_COLUMNS)}")
    return None


def _like(name: str, known: str, ratio: float) -> bool:
    """Whether a column's ``name`` (lower case, ``_`` for ``-`` and spaces) is spelt nearly as ``known``."""
    return difflib.SequenceMatcher(None, name, known).ratio() >= ratio


def _meant_channels(header: Sequence[str], name: str, cells: Sequence[str]) -> list[str]:
    """The channel columns absent from ``header`` that the column ``name`` looks meant as: the
    start of their name, or a near spelling, with a channel number (or nothing) in every cell."""
    if not all(re.fullmatch(r"-?\d+", cell or "0") for cell in cells):
        return []
    return [known for known in CHANNEL_COLUMNS if known not in header  # (one there is read)
            and ((len(name) >= 5 and known.startswith(name)) or _like(name, known, 0.8))]


def _agent_files(name: str, cells: Sequence[str]) -> bool:
    """Whether a column named ``agent...`` holds an audio file's name (:data:`AUDIO_SUFFIXES`) in
    each of its cells, some filled: the agents' own files, as ``agent_path`` gives them."""
    filled = [cell for cell in cells if cell]
    return name.startswith("agent") and bool(filled) and all(_is_audio(cell) for cell in filled)


def is_manifest(item: str) -> bool:
    """Whether the input ``item`` is read as a CSV manifest (a file ending in .csv), not scored."""
    return item.lower().endswith(".csv") and os.path.isfile(item)


def _expand_one(item: str, caller_channel: int, agent_channel: int | None,
                problems: list[str] | None) -> list[tuple[str, CallJob]]:
    """The calls the input ``item`` names, each with where it is named (a manifest's row, else the input)."""
    if is_manifest(item):
        return read_manifest(item, caller_channel, agent_channel)
    if not item:  # an unset shell variable, say: read as the working folder, it would score what is there
        raise InputError('"": an empty path; give a recording, folder, glob or manifest')
    where = f"the input {item}"
    if os.path.isdir(item):
        return [(where, CallJob(p, caller_channel, agent_channel)) for p in _walk(item, problems, named=True)]
    if _is_pattern(item):
        found = _glob(item, _unsearchable(problems))
        paths = [p for f in found for p in (_walk(f, problems) if os.path.isdir(f) else [f] if _is_audio(f) else [])]
        if not paths:
            raise InputError(f"{item}: the pattern matches no recording")
        return [(where, CallJob(p, caller_channel, agent_channel)) for p in paths]
    if item.endswith(("/", os.sep)) and not os.path.lexists(item):  # a folder's name mistyped: no call to list
        raise InputError(f"{item}: no such folder")
    # a plain file, readable or not: a bad recording is a row with its error, not a stop
    return [(where, CallJob(item, caller_channel, agent_channel))]


def named_as_recording(item: str) -> bool:
    """Whether the name ``item`` may be a recording: an audio extension (:data:`AUDIO_SUFFIXES`),
    no trailing slash and no pattern; not a folder, a manifest or a glob, even of recordings."""
    return not item.endswith(("/", os.sep)) and _is_audio(item) and not _is_pattern(item)


def _nothing_here(item: str) -> bool:
    """Whether this process sees nothing of the input ``item``: :func:`unseen`, or for a glob no
    match (the literal name of a glob is never there)."""
    return not _glob(item) if _is_pattern(item) else unseen(item)


def client_must_see(item: str) -> str:
    """The line for an input a cluster's client cannot see whose name says it is no recording."""
    return (f"{item}: cannot be seen from this machine, and its name is not a recording's "
            f"({', '.join(AUDIO_SUFFIXES)}, no pattern): the client lists folders and globs and reads "
            "manifests itself, so with --scheduler they must be visible here at the same path (only "
            "recordings may be on the workers alone)")


def expand_inputs(items: Iterable[str], caller_channel: int = 1, agent_channel: int | None = 0,
                  problems: list[str] | None = None, *, workers_see_more: bool = False,
                  notes: list[str] | None = None) -> list[CallJob]:
    """Every recording the inputs name, once each (first mention wins, by its name then), numbered
    in order, with absolute paths (the workers of a cluster read them from a path they share with
    the client). A recording is the file a name reaches (:func:`recording`): a link to one named
    before, or another hard link of it, is the same recording again. A manifest's row that names a recording again with other channels (its other leg as the
    caller, say) is a call of its own. A manifest's row left out as a call named before, whose
    call_id is not the one kept, is a line in ``notes`` when given (:func:`_named_again`).

    Raises InputError for a folder or pattern with no recording, a folder that cannot be searched,
    or a bad manifest; a sub-folder that cannot be searched is a line in ``problems`` when given
    (the rest is scored), else an InputError too. With ``workers_see_more`` (a running cluster,
    whose workers may see what this process cannot), an input :func:`unseen` here is left to the
    workers only when :func:`named_as_recording`, else an InputError (:func:`client_must_see`); a
    glob is unseen when it matches nothing here."""
    jobs: list[CallJob] = []
    first: dict[object, tuple[str, CallJob]] = {}  # a recording's first call, where it is named
    by_legs: dict[tuple[object, int, int | None, object], tuple[str, CallJob]] = {}
    for item in items:
        if workers_see_more and not named_as_recording(item) and _nothing_here(item):
            raise InputError(client_must_see(item))
        found = _expand_one(item, caller_channel, agent_channel, problems)
        if os.path.isdir(item) and not found:
            raise InputError(f"{item}: the folder holds no recording ({', '.join(AUDIO_SUFFIXES)})")
        listed = is_manifest(item)
        for where, job in found:
            path = os.path.abspath(job.path)
            file = recording(path)
            agent_path = job.agent_path  # (a manifest's: absolute) another call than its caller's file's alone
            legs = (file, job.caller_channel, job.agent_channel, recording(agent_path) if agent_path else None)
            # a mono recording is one call whatever legs a manifest's rows name
            mono = legs not in by_legs and file in first and listed and not agent_path and _mono(path)
            kept = by_legs.get(legs) or (first.get(file) if not listed or mono else None)
            if kept is not None:
                if listed and notes is not None and _says_otherwise(job, kept[1]):
                    notes.append(_named_again(where, job, kept, mono))
                continue
            call = (where, CallJob(path, job.caller_channel, job.agent_channel, job.call_id, len(jobs),
                                  where if listed else "", agent_path, job.holds))
            if not agent_path:
                first.setdefault(file, call)
            by_legs[legs] = call
            jobs.append(call[1])
    return jobs


def _says_otherwise(job: CallJob, kept: CallJob) -> bool:
    """Whether a manifest's row naming the call ``kept`` again (``job``) says another thing of it:
    a call_id of its own other than the one kept, or other holds."""
    return bool(job.call_id and job.call_id != kept.call_id) or job.holds != kept.holds


def _named_again(where: str, job: CallJob, kept: tuple[str, CallJob], mono: bool) -> str:
    """The line for the manifest's row at ``where``, whose ``job`` is left out as the call ``kept``
    (where it is named, its call) named before: its call_id, or its holds, are not the ones kept."""
    from ..capture.holds import holds_text
    kept_where, call = kept
    agent = "no agent channel" if job.agent_channel is None else f"agent channel {job.agent_channel}"
    legs = "mono: one call whatever channels a row names" if mono else \
        f"the agent's leg in {job.agent_path}" if job.agent_path else f"caller channel {job.caller_channel}, {agent}"
    kept_as, unused = [], []
    if job.call_id and job.call_id != call.call_id:
        kept_as.append(f"call_id '{call.call_id}'" if call.call_id else "no call_id")
        unused.append(f"call_id '{job.call_id}'")
    if job.holds != call.holds:
        kept_as.append(f"hold '{holds_text(call.holds)}'" if call.holds else "no hold")
        unused.append(f"hold '{holds_text(job.holds)}'" if job.holds else "empty hold")
    return (f"{where}: {job.path} ({legs}) is named already ({kept_where}): it is scored once, with "
            f"{' and '.join(kept_as)}; this row's {' and '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used")


def recording(path: str) -> object:
    """What tells the file ``path`` reaches from another: its device and inode, the same by every
    name of it (a link to it, a hard link, a folder reached through a link); its resolved path where
    this process cannot see it (a recording on a cluster's workers only)."""
    try:
        st = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (st.st_dev, st.st_ino)


def _mono(path: str) -> bool:
    """Whether the recording at ``path`` has one channel (read from its header; False when it cannot
    be read: its own check says why)."""
    from ..capture.audio_files import AudioFileError, probe
    try:
        return probe(path).channels == 1
    except AudioFileError:
        return False


CHECK_QUIET_S = 1.0
"""How long the batch's check of the recordings' headers runs before a terminal shows its progress."""


def unseen(path: str) -> bool:
    """Whether this process cannot see the recording at ``path`` at all, where another machine or
    user may: nothing there (a path mounted on a cluster's workers only), a folder on the way it may
    not enter, or a file it may not read."""
    try:
        st = os.stat(path)
    except OSError as err:
        return err.errno in (errno.ENOENT, errno.ENOTDIR, errno.EACCES)
    return stat.S_ISREG(st.st_mode) and not os.access(path, os.R_OK)


def unopenable(jobs: Sequence[CallJob], progress_after_s: float | None = None, *,
               unseen_to_workers: bool = False) -> dict[int, str]:
    """The calls whose recording cannot be read at all, by index: the one-line problem naming the
    file (:func:`~monitor.capture.sources.open_problem`). The client finds them before it starts any
    worker, from each file's header as a worker opens it (under 1 ms a WAV, FLAC or MP3 file, about
    2 ms an OGG one), so that a batch of nothing it can read stops at its error lines. With
    ``unseen_to_workers`` (a running cluster, whose workers may see what the client cannot) a file
    :func:`unseen` here is left to the worker, which checks it the same way and fails it with the
    same line. A check that lasts over ``progress_after_s`` (None: never) shows the files checked on
    a line of stderr, gone when it ends."""
    if unseen_to_workers:
        jobs = [job for job in jobs if not unseen(job.path) and not (job.agent_path and unseen(job.agent_path))]
    with ExitStack() as shown_until_done:  # its line gone too when a stop ends the check
        shown: Iterable[CallJob] = jobs
        if progress_after_s is not None:
            from tqdm import tqdm
            shown = shown_until_done.enter_context(tqdm(jobs, desc="checking recordings", unit="file",
                                                        file=sys.stderr, leave=False, delay=progress_after_s,
                                                        dynamic_ncols=True))
        problems = ((job, job_problem(job)) for job in shown)
        return {job.index: job.said(problem) for job, problem in problems if problem}


def job_problem(job: CallJob) -> str | None:
    """Why the call's recording (or either file of a call of two files) cannot be read at all, in
    one line naming the file (:func:`~monitor.capture.sources.open_problem`,
    :func:`~monitor.capture.leg_files.leg_files_problem`); None when it can."""
    from ..capture.leg_files import leg_files_problem
    from ..capture.sources import open_problem
    if job.agent_path:
        return leg_files_problem(job.path, job.agent_path)
    return open_problem(job.path, job.caller_channel, job.agent_channel)
