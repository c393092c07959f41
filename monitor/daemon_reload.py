"""What a reload of the live daemon's configuration (SIGHUP) checks and applies outside the daemon's
own parts: the keys left for the next start, the refusal of one source for both legs (the start's
too), the transcription setup's notes said again, the webhook's new URL and token, the status
socket's new place, and the call files' new folders that other users may change.

:meth:`~monitor.daemon.Daemon.request_reload` asks for it; the capture loop applies it between
chunks, handing the new thresholds to the running call.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from .capture.devices import same_source
from .config import Config, changed_keys, named_as, where_set
from .console import problem_of, said_recovery_of

log = logging.getLogger(__name__)

AT_NEXT_START = ("daemon.caller", "daemon.agent", "daemon.wait_for_source", "daemon.call_boundaries",
                 "daemon.status_socket", "storage.db", "storage.snapshot_every_s",
                 "delivery.terminal",
                 "delivery.webhook_url", "delivery.webhook_token_file", "delivery.timeout_s", "delivery.retries",
                 "delivery.backoff_s", "delivery.max_backoff_s", "delivery.include_phrase_text",
                 "delivery.agent_name", "delivery.heartbeat_s", "delivery.report_url_base",
                 "transcription.enabled", "transcription.model", "transcription.language", "transcription.agent",
                 "transcription.renew_s")
"""Keys a reload cannot apply to a running daemon (its devices, database, socket, webhook and
recognizer are opened at start): changed, they are named in the reload's line. The webhook's URL
and token file are applied to a webhook that runs (:func:`retarget_webhook`), and the status
socket's place to the socket that listens (:func:`move_status_socket`)."""

WEBHOOK_KEYS = ("delivery.webhook_url", "delivery.webhook_token_file")
"""The keys :func:`retarget_webhook` applies to a running webhook (a token it refuses: neither)."""


TRANSCRIPTION_NOTES = "transcription notes"
"""The source (:func:`problem_of`) of the transcription setup's notes a reload says (its phrase lists
against the model's language): a reload that leaves none resolves them (:func:`recovery_of`)."""

RELOAD = "reload"
"""The source (:func:`problem_of`) of a reload's problem, a configuration refused or keys left for the
next start: the next reload that applies all of it resolves it (:func:`recovery_of`)."""


def one_source_line(cfg: Config, label: str) -> str:
    """The line refusing the caller's and the agent's leg on one source ``label`` (one audio would be
    scored as two legs), naming the options or keys (and their files) that set them; with no caller
    given, the default input, and the caller's source as the way out."""
    if not cfg.daemon.caller:
        return (f"the default input (no --caller or daemon.caller) and {named_as(cfg, 'daemon.agent', '--agent')} "
                f"both name {label}: one audio would be scored as both legs; give --caller SOURCE, the monitor of "
                "the softphone's sink (`call-monitor devices` lists them)")
    return (f"{named_as(cfg, 'daemon.caller', '--caller')} and {named_as(cfg, 'daemon.agent', '--agent')} both "
            f"name {label}: one audio would be scored as both legs; give the agent's own source (the microphone; "
            "see `call-monitor devices`)")


def one_source_problem(cfg: Config, resolve_fn: Callable[[str], Any] | None = None) -> str | None:
    """:func:`one_source_line` when ``cfg``'s caller and agent name one source (:func:`same_source`:
    one name, or two resolving to one device or sound-server source now), else None."""
    label = same_source(cfg.daemon.caller, cfg.daemon.agent, resolve_fn)
    return None if label is None else one_source_line(cfg, label)


def legs_problem(running: Config, cfg: Config) -> str | None:
    """:func:`one_source_problem` of a reload that changes the caller's or the agent's source (which
    apply at the next start, refused there) from the ``running`` ones: the reload is refused, the
    running sources stay."""
    if not changed_keys(running, cfg, ("daemon.caller", "daemon.agent")):
        return None
    problem = one_source_problem(cfg)
    return None if problem is None else f"{problem}; the running sources stay"


def notes_change(setup: Any, before: Config, cfg: Config) -> bool:
    """Whether the reload of ``cfg`` over ``before`` changes what the transcription setup's notes read
    (its :attr:`~TranscriptionSetup.NOTES_KEYS`; ``setup`` None: no transcription): only then are
    they said again."""
    return setup is not None and bool(changed_keys(before, cfg, setup.NOTES_KEYS))


def say_notes(setup: Any, cfg: Config, before: Config,
              say: Callable[[str, str, Mapping[str, object] | None], None]) -> None:
    """The transcription setup's notes for the reloaded configuration ``cfg``, each one warning line
    (``say``) in the words the start says them; none left where ``before`` (the configuration it
    replaced) had some: one line that they no longer apply, which resolves them in the status and is
    said on stderr at every verbosity, as the warnings were (:func:`said_recovery_of`)."""
    notes = setup.notes(cfg, setup.info)
    for note in notes:
        say("warning", note, problem_of(TRANSCRIPTION_NOTES))
    if not notes and setup.notes(before, setup.info):
        over = setup.notes_over(cfg, setup.info)
        say("info", over, said_recovery_of(TRANSCRIPTION_NOTES))


def retarget_webhook(webhook: Any, heartbeat: Any, running: Config, cfg: Config) -> tuple[str, ...] | None:
    """A reload's webhook URL and token, applied to the running ``webhook`` (and its ``heartbeat``,
    if it runs): what is pending goes to a new URL. The token file is read again even when its name
    did not change (a rotated token written into the same file). Returns the keys applied; none
    without a webhook at the start or with the URL removed (those apply at the next start); None
    for a token file that cannot be read (one warning line, the reload's problem until a reload
    applies all of it: :data:`RELOAD`; the old URL and token stay)."""
    from .config.tokens import TokenFileError

    new = cfg.delivery
    if webhook is None or not new.webhook_url:
        return ()
    try:
        token = reloaded_token(new.webhook_token_file, running, webhook)
    except TokenFileError as err:
        log.warning("webhook not changed: %s", where_set(cfg, "delivery.webhook_token_file", str(err)),
                    extra=problem_of(RELOAD))
        return None
    webhook.retarget(new.webhook_url, token)  # nothing when both are as they were
    if heartbeat is not None:
        heartbeat.retarget(new.webhook_url, token)
    return WEBHOOK_KEYS


def reloaded_token(path: str | None, running: Config, webhook: Any) -> str | None:
    """The webhook token a reload posts with: the file ``path`` read again (a rotated token),
    but not a pipe (:func:`~monitor.config.tokens.kept_pipe_token`): the pipe the start read
    (``running``'s) keeps its token, ``webhook``'s; another is refused. Raises TokenFileError naming
    the file."""
    from .config.tokens import kept_pipe_token, read_token_file

    if not path:
        return None
    kept = kept_pipe_token(path, running.delivery.webhook_token_file, webhook.target.token)
    return kept if kept is not None else read_token_file(path)


def move_status_socket(server: Any, running: Config, cfg: Config) -> tuple[str, ...] | None:
    """A reload's new place for the status socket (a new ``daemon.status_socket``, or a new
    ``storage.db`` where the socket is beside the database) applied to the ``server`` that
    listens: ``status`` and ``call``, which read the configuration again, find the daemon there (the
    daemon says so, as it says the reload: :meth:`~monitor.daemon.Daemon._move_status_socket`). Returns the keys applied (``daemon.status_socket``; a new ``storage.db``
    still applies at the next start); none without a server or a new place; None for a place it
    cannot listen at (one warning line, the reload's problem until a reload applies all of it: the
    socket stays where it was)."""
    from .delivery.status_socket import SOCKET_KEYS, shared_folder_warning, socket_path

    if server is None or not changed_keys(running, cfg, SOCKET_KEYS):
        return ()
    path, was = socket_path(cfg), server.path
    if path != was:
        try:
            _move_server(server, path)
        except (RuntimeError, OSError) as err:
            why = str(err) if isinstance(err, RuntimeError) else f"cannot listen there ({err.strerror or err})"
            log.warning("status socket not moved to %s: %s; it stays at %s until a reload places it where it can "
                        "listen (status and call ask it there with --socket %s)", path, why, was, was,
                        extra=problem_of(RELOAD))
            return None
        if shared := shared_folder_warning(path):
            log.warning("%s", shared)
    return ("daemon.status_socket",)


def shared_call_folders_taken(running: Config, cfg: Config) -> list[str]:
    """The warnings the start says of the folders call files go to that other users may change
    (:func:`~monitor.delivery.call_files.shared_call_folders`) for those a reload gives: ``cfg``'s
    that ``running`` (the configuration before it) did not warn of (a new ``daemon.audio_dir`` or
    ``daemon.report_dir``, audio or reports turned on), as a move of the status socket is warned of."""
    from .delivery.call_files import shared_call_folders

    before = set(shared_call_folders(running))
    return [said for said in shared_call_folders(cfg) if said not in before]


def _move_server(server: Any, path: str) -> None:
    """``server`` listening at ``path`` from now on; RuntimeError for a path no socket's holds."""
    from .delivery.status_socket import socket_path_problem
    if problem := socket_path_problem(path):
        raise RuntimeError(problem)
    server.move_to(path)
