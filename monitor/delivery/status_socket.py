"""The daemon's status socket: a Unix socket (mode 0600, no network port). A connection sends
one JSON request line (or nothing, then closes its side or waits ``REQUEST_WAIT_S``) and gets one
JSON object back: the daemon's state for ``{"status": true}`` or no request (``call-monitor
status`` sends none: every version of the daemon answers that); for ``{"call": "start"}`` and
``{"call": "end"}`` (``call-monitor call``), what the daemon did (``{"ok": true, "message":
...}``) or ``{"error": ...}``. The daemon opens it first thing in its start: until it listens, the
status is ``{"starting": true, ...}`` and a call mark an error (:meth:`StatusServer.answer_with`).
A request may say how long its client waits for the answer (``"wait_s"``) and when it was sent
(``"sent_at"``, :func:`sent_clock`): the daemon then does nothing for it once its client has given up
(:func:`wait_left`). The daemon hands a request on with the pid of the process that sent it
(``"peer_pid"``, as the kernel tells it; a client's own is replaced).

Each connection is served in a thread of its own (up to ``MAX_CLIENTS`` at once, the next ones
waiting in a backlog of ``BACKLOG``), its request read within ``REQUEST_WAIT_S``: clients that
connect and send nothing, or send slowly, delay no other (a softphone's ``call start`` among them).
A client finding the backlog full retries for its timeout (:func:`ask`) before it says that no
daemon answers."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import socket
import stat
import struct
import threading
import time
from typing import Callable, Mapping

from ..config import Config
from ..config.sockets import LOGIN_RUNTIME_BASE, SOCKET_NAME, runtime_dirs, socket_length_problem
from ..files import another_user, make_private_folder, user_name
from ..json_text import TooDeep, json_value


SOCKET_KEYS = ("daemon.status_socket", "storage.db")
"""The configuration's keys that place the daemon's status socket (:func:`socket_paths`): ``storage.db``
where neither ``daemon.status_socket`` nor a runtime folder of the user's does. What ``status`` and
``call`` take of a configuration they cannot load, and ``alerts`` (its database, and the daemon it asks
where another database records); a reload that changes them moves the socket that listens."""


def socket_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be a Unix socket's (:func:`~monitor.config.sockets.socket_length_problem`),
    in one line naming it and the way out; None when it can."""
    problem = socket_length_problem(path)
    if problem is None:
        return None
    return f"status socket {path}: {problem}: give a shorter one with --socket PATH or daemon.status_socket"


def socket_paths(cfg: Config, env: Mapping[str, str] | None = None, base: str = LOGIN_RUNTIME_BASE) -> list[str]:
    """Where a daemon of this user started with ``cfg`` may listen, in the order a daemon places its
    socket and ``status`` looks for it: ``daemon.status_socket`` alone when the configuration gives
    one; else ``callmonitor.sock`` in each of the user's runtime folders (``$XDG_RUNTIME_DIR``, then
    logind's ``/run/user/UID``: :func:`~monitor.config.sockets.runtime_dirs`), then the database's
    path + .sock (a daemon started where neither was there). A daemon takes the first."""
    if cfg.daemon.status_socket:
        return [os.path.expanduser(cfg.daemon.status_socket)]
    runtime = runtime_dirs(os.environ if env is None else env, os.geteuid(), base)
    return [*(os.path.join(d, SOCKET_NAME) for d in runtime), os.path.expanduser(cfg.storage.db) + ".sock"]


def socket_path(cfg: Config, env: Mapping[str, str] | None = None, base: str = LOGIN_RUNTIME_BASE) -> str:
    """Where the daemon started with ``cfg`` places its status socket: the first of :func:`socket_paths`."""
    return socket_paths(cfg, env, base)[0]


def socket_beside_db(cfg: Config, env: Mapping[str, str] | None = None) -> bool:
    """Whether :func:`socket_path` places the socket next to the database: no
    ``daemon.status_socket``, and no runtime folder of the user's."""
    return len(socket_paths(cfg, env)) == 1 and not cfg.daemon.status_socket


LIVENESS_TIMEOUT_S = 3.0
"""How long a starting daemon waits for the answer of a daemon already at its socket path: one
that listens is never removed, however slowly it answers (only a socket nobody listens on is)."""

REQUEST_WAIT_S = 0.3
"""How long the daemon waits for a connection's request line, all told: one that neither sends one
nor closes its side (an older client) is then answered with the status."""

MAX_CLIENTS = 16
"""Connections the daemon serves at once, each in a thread of its own."""

BACKLOG = 64
"""Connections waiting to be served beyond those; a client finding them full retries."""

BUSY_RETRY_S = 0.05
"""How often a client retries a daemon whose backlog is full, until its timeout."""


def sent_clock() -> float:
    """The clock a request's ``sent_at`` is read on: ``CLOCK_MONOTONIC``, in seconds, the same for
    every process of the machine (the time since its boot, the time it slept suspended not counted),
    and never set back as the wall clock may be."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def wait_left(request: dict, now: float | None = None) -> float | None:
    """How long the client of ``request`` still waits for its answer (``sent_at`` plus ``wait_s``
    less :func:`sent_clock`'s ``now``): negative once it has given up, None for a request that does
    not say (both fields, or neither). Raises ValueError, in one phrase, for fields that are no
    numbers, or one without the other."""
    sent, wait = request.get("sent_at"), request.get("wait_s")
    if sent is None and wait is None:
        return None
    return _seconds(sent) + _seconds(wait) - (sent_clock() if now is None else now)


def _seconds(value: object) -> float:
    """``value``, one of a request's ``sent_at`` and ``wait_s``, as a number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError("sent_at and wait_s go together, each a number of seconds (sent_at read on CLOCK_MONOTONIC)")
    return float(value)


class ForeignSocket(PermissionError):
    """The socket at a path belongs to another user: not this user's daemon. In a folder others may
    write (``/tmp``) anyone can place a socket at the path first, answer ``status`` with what they
    like and read the ``call`` marks sent there."""


def foreign_owner(path: str) -> str | None:
    """The user owning the socket at ``path`` in words (``mallory (uid 1005)``) when it is another
    user than this one and root; None otherwise, and when nothing is there."""
    try:
        owner = os.stat(path).st_uid
    except OSError:
        return None
    return _foreign_uid(owner)


def _foreign_uid(uid: int) -> str | None:
    """The user ``uid`` in words (:func:`~monitor.files.user_name`) when it is another user than
    this one and root (:func:`~monitor.files.another_user`); else None."""
    return user_name(uid) if another_user(uid) else None


def _refuse_foreign(path: str, listener: socket.socket | None = None) -> None:
    """Raise :class:`ForeignSocket` when the socket at ``path`` is another user's: its file's owner,
    or, once connected (``listener``), the user of the process that listens on it, which the kernel
    tells (``SO_PEERCRED``): the path may have been swapped for another between the two (a symbolic
    link in a shared folder), or the file be of a user other than the one who listens."""
    if owner := (foreign_owner(path) if listener is None else _foreign_uid(_listening_uid(listener))):
        raise ForeignSocket(errno.EACCES, f"{path} belongs to {owner}, not to this user: not this user's daemon "
                                          "(anyone may place a socket in a shared folder); give --socket in a "
                                          "folder of your own")


def _listening_uid(s: socket.socket) -> int:
    """The user id of the process listening on the Unix socket ``s`` is connected to."""
    return _listener(s)[1]


def _listener(s: socket.socket) -> tuple[int, int, int]:
    """The pid, user id and group id of the process listening on the Unix socket ``s`` is connected
    to, as the kernel tells them (``SO_PEERCRED``: those of the process that called ``listen``)."""
    fmt = "3i"  # struct ucred: pid, uid, gid
    return struct.unpack(fmt, s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize(fmt)))


def _peer_pid(conn: socket.socket) -> int | None:
    """The pid of the process that connected ``conn`` (accepted at a listening socket), as the kernel
    tells it (``SO_PEERCRED``); None where it does not."""
    try:
        return _listener(conn)[0] or None
    except OSError:
        return None


class NotAnswering(TimeoutError):
    """A process listens at the socket (the kernel took the connection into its backlog) but sent
    no answer in time: stopped, frozen or starved of CPU, say. ``pid``: the listening process's, as
    the kernel tells it."""

    def __init__(self, pid: int) -> None:
        super().__init__("timed out")  # as socket.timeout says it
        self.pid = pid


def shared_folder_warning(path: str) -> str | None:
    """A warning when the socket at ``path`` lies in a folder that is not this user's own
    (:func:`~monitor.files.folder_not_own`, the judgement that passes over such a runtime folder for
    the default socket): one that another user owns (who may remove the socket and place theirs while
    the daemon runs) or that others may write (where one of them could take the path before the
    daemon starts); None in a folder of one's own, or one not there yet (the daemon makes it 0700)."""
    from ..files import shared_folder_warning as shared
    return shared(f"status socket {path}", os.path.dirname(os.path.abspath(path)),
                  "remove the socket and place their own at its path, or take the path first (status and call "
                  "would then say that no daemon runs, or ask theirs, and call marks be lost)", "daemon.status_socket")


STATUS_FIELDS = ("pid", "uptime_s", "db")
"""What every daemon's status holds, starting or not; one that is listening, its ``legs`` (an
object), ``calls``, ``alerts`` and ``overflows`` too, and one starting (``"starting": true``)
what it is ``doing``."""


def status_problem(answer: object) -> str | None:
    """Why ``answer``, read at a daemon's status socket, is no daemon's status (one phrase: what it
    lacks, and why that may be), or None."""
    why = "another program listening there, or a daemon of a release whose status this one does not read"
    if not isinstance(answer, dict):
        return f"the answer is no JSON object, so no daemon's status ({why})"
    starting = answer.get("starting") is True
    needed = (*STATUS_FIELDS, *(("doing",) if starting else ("legs", "calls", "alerts", "overflows")))
    if missing := [k for k in needed if k not in answer]:
        return f"the answer is no daemon's status: it lacks {', '.join(missing)} ({why})"
    legs = answer.get("legs", {})
    if not isinstance(legs, dict) or not all(isinstance(leg, dict) for leg in legs.values()):
        return f"the answer is no daemon's status: its legs are no object of objects ({why})"
    return None


def answer_problem(answer: object, request: dict | None) -> str | None:
    """Why ``answer``, read at a daemon's status socket for ``request`` (None: the status), is no
    daemon's answer (one phrase), or None. A daemon answers a request with ``ok`` or ``error``; a
    daemon older than the request answers its status instead (the asker says that it is older), so
    an answer that is neither is no daemon's (:func:`status_problem`), nor one whose ``message``,
    ``warning`` or ``error`` is no text."""
    if request is not None and isinstance(answer, dict) and ("ok" in answer or "error" in answer):
        if untold := [k for k in ANSWER_TEXTS if k in answer and not isinstance(answer[k], str)]:
            are = "is" if len(untold) == 1 else "are"
            return f"the answer is no daemon's: its {' and '.join(untold)} {are} no text (another program listening there)"
        return None
    return status_problem(answer)


ANSWER_TEXTS = ("message", "warning", "error")
"""The fields of a daemon's answer to a request other than the status that are text, when it gives them."""


class RequestNotRead(ConnectionError):
    """The daemon closed the connection without reading the request: a daemon older than the
    requests other than the status (it answers every connection with its status, unread)."""


def query_status(path: str, timeout: float = 2.0) -> dict:
    """The daemon's state: the connection sends nothing and closes its side (which every version
    of the daemon answers with its status, at once)."""
    return ask(path, None, timeout)


def ask(path: str, request: dict | None, timeout: float = 2.0) -> dict:
    """Send ``request`` (None: nothing, for the status) to the daemon's socket at ``path`` and
    return its JSON answer (OSError when there is no daemon there, :class:`RequestNotRead` when it
    did not read the request, :class:`NotAnswering` when what listens there sent nothing within
    ``timeout``, ValueError, its message the problem in one phrase, for an answer that is no JSON
    object; BlockingIOError when the daemon's backlog stayed full for ``timeout``). Whether an object
    is a daemon's status is :func:`status_problem`'s to say. A request that says how long its client
    waits (any ``wait_s``) is sent saying ``timeout`` (how long the answer is waited for once it is
    sent) and when it is sent (``sent_at``), so that a daemon reading it after then does nothing for it."""
    with _connect(path, timeout) as s:
        data = b""
        try:
            if request is not None:
                stamp = {"sent_at": sent_clock(), "wait_s": timeout} if "wait_s" in request else {}
                s.sendall(json.dumps(request | stamp).encode("utf-8") + b"\n")
            s.shutdown(socket.SHUT_WR)
            while True:
                part = s.recv(65536)
                if not part:
                    break
                data += part
        except socket.timeout:
            raise NotAnswering(_listener(s)[0]) from None
        except (BrokenPipeError, ConnectionResetError) as err:
            if request is None:
                raise
            raise RequestNotRead(err.errno, "the daemon closed the connection without reading the request") \
                from err
    try:
        answer = json_value(data.decode("utf-8"))
    except ValueError as err:
        raise ValueError(f"the daemon's answer was not readable JSON{_deep_said(err)}") from None
    if not isinstance(answer, dict):
        raise ValueError(status_problem(answer) if request is None else "the daemon's answer is no JSON object")
    return answer


def _deep_said(err: ValueError) -> str:
    """`` (nested too deeply)`` for a :class:`TooDeep`, else ''."""
    return f" ({err})" if isinstance(err, TooDeep) else ""


def _connect(path: str, timeout: float) -> socket.socket:
    """A connection to the socket at ``path``, retried while the daemon's backlog is full (it is busy
    with other clients, not gone), for ``timeout`` at most. Another user's socket is never connected
    to, nor one another user listens on asked anything (:class:`ForeignSocket`)."""
    _refuse_foreign(path)
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(path)
            _refuse_foreign(path, s)  # before a word is sent: it is still this user's daemon that listens
            return s
        except BlockingIOError:  # EAGAIN: the backlog is full
            s.close()
            if time.monotonic() + BUSY_RETRY_S > deadline:
                raise
            time.sleep(BUSY_RETRY_S)
        except BaseException:
            s.close()
            raise


def _read_request(conn: socket.socket) -> dict:
    """The connection's request line as JSON (``{}`` for none), read within ``REQUEST_WAIT_S``
    all told (a client that sends a byte at a time holds the socket no longer)."""
    deadline = time.monotonic() + REQUEST_WAIT_S
    data = b""
    try:
        while b"\n" not in data and len(data) < 4096:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            conn.settimeout(left)
            part = conn.recv(4096)
            if not part:
                break
            data += part
    except socket.timeout:
        pass
    line = data.split(b"\n", 1)[0].strip()
    if not line:
        return {}
    request = json_value(line.decode("utf-8"))
    if not isinstance(request, dict):
        raise ValueError("a request is a JSON object")
    return request


def _listening(path: str) -> socket.socket:
    """A Unix socket listening at ``path`` (mode 0600, its folders made 0700 if missing, each level:
    :func:`~monitor.files.make_private_folder`): a stale socket there, which nobody listens on, is
    replaced. Raises RuntimeError, in one line saying the
    way out, for a file there that is no socket, another user's socket and a socket someone listens
    on (another daemon, answering or not); OSError where it cannot listen."""
    if os.path.lexists(path) and not stat.S_ISSOCK(os.lstat(path).st_mode):  # a file given for the socket
        raise RuntimeError(f"{path} is there and is no socket (not removed): give the daemon another "
                           "--socket or daemon.status_socket")
    if os.path.exists(path):
        try:
            query_status(path, timeout=LIVENESS_TIMEOUT_S)
        except ForeignSocket as err:
            raise RuntimeError(err.strerror) from err
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # stale socket of a dead daemon: nobody listens
        except (OSError, ValueError) as err:  # someone listens, however it answers: not ours to remove
            raise RuntimeError(f"the status socket {path} is in use but its daemon does not answer ({err}); "
                               "stop that daemon, or give this one another --socket") from err
        else:
            raise RuntimeError(f"another call-monitor daemon is running (status socket {path}); give "
                               "this one another --socket, and `call-monitor status --socket` asks it")
    make_private_folder(os.path.dirname(os.path.abspath(path)))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old = os.umask(0o177)
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    sock.settimeout(0.3)
    return sock


class StatusServer:
    """Answer each connection on a Unix socket, in a thread of its own (``MAX_CLIENTS`` at once):
    ``state()`` as JSON, or, for a request other than the status, what ``control(request)`` answers
    (see the module's docstring)."""

    def __init__(self, path: str, state: Callable[[], dict],
                 control: Callable[[dict], dict] | None = None) -> None:
        self.path = path
        self.state = state
        self.control = control
        self.sock = _listening(path)
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._thread = threading.Thread(target=self._serve, name="status", daemon=True)
        self._thread.start()

    def move_to(self, path: str) -> None:
        """Listen at ``path`` from now on (a reload's new place for the socket), with the checks of a
        start (:func:`_listening`), then stop listening at the old path and remove its socket: the
        connections already waiting there are answered all the same. Raises RuntimeError or OSError
        as a start would, still listening where it did."""
        sock = _listening(path)
        old, old_path = self.sock, self.path
        self.sock, self.path = sock, path
        self._answer_waiting(old)
        with contextlib.suppress(OSError):
            os.unlink(old_path)

    def _answer_waiting(self, old: socket.socket) -> None:
        """The connections waiting at the socket ``old`` no longer listened at answered, each in a
        thread of its own, as :meth:`_serve` does; then ``old`` closed."""
        with old:
            old.setblocking(False)
            while True:
                try:
                    conn, _ = old.accept()
                except OSError:  # none waiting (BlockingIOError), or the socket closed
                    return
                conn.setblocking(True)
                self._slots.acquire()
                try:
                    threading.Thread(target=self._serve_one, args=(conn,), name="status-client", daemon=True).start()
                except RuntimeError:
                    conn.close()
                    self._slots.release()

    def answer_with(self, state: Callable[[], dict], control: Callable[[dict], dict] | None) -> None:
        """Answer the connections from now on with ``state`` and ``control`` (a starting daemon's
        socket, opened before it listens, once it does)."""
        self.state, self.control = state, control

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=0.3):  # as many served as it takes: the next ones wait
                continue
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                self._slots.release()
                continue
            try:
                threading.Thread(target=self._serve_one, args=(conn,), name="status-client", daemon=True).start()
            except RuntimeError:  # no thread could be started: this one goes unanswered
                conn.close()
                self._slots.release()

    def _serve_one(self, conn: socket.socket) -> None:
        """Read the connection's request and answer it (a call mark waits for the capture loop)."""
        try:
            self._reply(conn, self._answer(conn))
        finally:
            self._slots.release()

    def _answer(self, conn: socket.socket) -> Callable[[], dict]:
        """What answers the connection's request."""
        try:
            request = _read_request(conn)
        except (ValueError, UnicodeDecodeError) as err:  # said now: ``err`` is unbound once the block ends
            said = {"error": f"the request is not one line of JSON ({err})"}
            return lambda: said
        except OSError as err:
            said = {"error": f"the request could not be read ({err})"}
            return lambda: said
        if not request or request.get("status"):
            return self.state
        control = self.control
        if control is None:
            return lambda: {"error": "this daemon takes no requests but the status"}
        sent_by = request | {"peer_pid": _peer_pid(conn)}
        return lambda: control(sent_by)

    @staticmethod
    def _reply(conn: socket.socket, answer: Callable[[], dict]) -> None:
        with conn:
            try:
                body = answer()
            except Exception as err:  # noqa: BLE001 - a bad state is answered as an error, not silence
                body = {"error": str(err)}
            try:
                conn.settimeout(2.0)
                conn.sendall(json.dumps(body, default=str).encode("utf-8") + b"\n")
            except OSError:
                pass

    def close(self) -> None:
        """Stop answering and remove the socket; a second close does nothing (the path may be
        another daemon's socket by then)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(1.0)
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
