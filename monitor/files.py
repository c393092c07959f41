"""Files: written whole or not at all (into a temporary file beside it, renamed over it at the end;
a new file beside another that goes whatever ends its block),
why a folder takes no new file (asked of the system by making one), the folder on a path that may not
be entered (why a file there cannot be read or reached, in one wording), whether two paths name one file or a pipe, what a file holds (a hash of its bytes), a file
or pipe read so that Ctrl-C ends the wait for it, a secret's file others may read, a file any user may change, a private folder made whatever the umask, and a
file's name as text."""

from __future__ import annotations

import errno
import hashlib
import os
import select
import stat
from contextlib import contextmanager
from typing import BinaryIO, Callable, Iterator, Sequence


def name_text(path: str | os.PathLike[str]) -> str:
    r"""``path`` as text that any UTF-8 writer takes: a name's bytes that are not UTF-8 (a Latin-1
    ``caf\xe9.wav``, which Python holds as surrogates) written as ``\xe9``; a surrogate that was no
    byte as Python writes it (``\ud800``)."""
    text = os.fsdecode(path)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def bytes_not_utf8(text: str) -> str | None:
    """The first bytes of ``text`` that are not UTF-8, as ``0xe9`` (``0xc3, 0x28``), or None when it is
    all text: a Latin-1 name or argument, which Python holds as surrogates, which no database, JSON or
    UTF-8 output takes (one that was no byte, a JSON ``"\\ud800"``, as Python writes it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        bad = text[err.start:err.end]
        try:
            return ", ".join(f"0x{b:02x}" for b in os.fsencode(bad))
        except UnicodeEncodeError:
            return bad.encode("unicode_escape").decode("ascii")
    return None


@contextmanager
def new_file_beside(folder: str | os.PathLike[str], prefix: str, suffix: str = "") -> Iterator[str]:
    """The path of a new empty file (mode 0600) in ``folder``, named ``prefix``, a random part and
    ``suffix``; removed when the block ends, however it ends (an error, Ctrl-C, SIGTERM), unless it
    was renamed away. Its name is drawn before the file is made and the file made inside the block's
    guard, so a stop at any moment leaves no such file behind."""
    with _made_beside(folder, prefix, suffix) as (tmp, fd):
        os.close(fd)
        yield tmp


def random_hex() -> str:
    """32 random hexadecimal digits (a random UUID's): a new file's or id's own; :mod:`uuid`, which
    imports :mod:`platform`, imported only when one is made, not by every command that imports this."""
    import uuid
    return uuid.uuid4().hex


@contextmanager
def _made_beside(folder: str | os.PathLike[str], prefix: str, suffix: str) -> Iterator[tuple[str, int]]:
    """A new file's path in ``folder`` (as :func:`new_file_beside`) and the descriptor it was made
    with (write-only, never through a link), which the block closes; the file removed as there."""
    tmp = os.path.join(folder, f"{prefix}{random_hex()}{suffix}")
    try:
        yield tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    finally:
        try:
            os.unlink(tmp)
        except OSError:  # gone (renamed away), or a disk gone read-only keeps it: the error that ended the block stands
            pass


@contextmanager
def replaced(path: str, prefix: str, mode: int | None = None) -> Iterator[BinaryIO]:
    """A new temporary file beside ``path`` (same folder, same extension), open to write in binary,
    written through the descriptor it was made with, its name never opened again (a link put in its
    place in a folder others write to receives nothing); when the block ends without an error it is
    given ``mode`` (if any), put on the disk (fsync: a disk that takes the bytes and fails to store
    them later, one thin-provisioned past its room or failing, says so here) and renamed over ``path``
    (OSError if its name no longer is that file), else removed (:func:`new_file_beside`), so a reader
    never sees half a file and an old one stays as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    with _made_beside(folder, prefix, os.path.splitext(path)[1]) as (tmp, fd), os.fdopen(fd, "wb") as fh:
        yield fh
        fh.flush()
        if mode is not None:
            os.fchmod(fd, mode)
        os.fsync(fd)
        if not os.path.samestat(os.fstat(fd), os.lstat(tmp)):
            raise OSError(errno.EEXIST, "another file was put in place of the file being written", tmp)
        os.replace(tmp, path)


def make_private_folder(path: str | os.PathLike[str]) -> None:
    """Make the folder ``path`` (``~`` expanded) and each missing folder above it, each mode 0700
    whatever the umask (``mkdir -p`` and :meth:`pathlib.Path.mkdir` give the folders above it the
    umask's mode: 0777 under umask 000, where any user may rename them and put their own in place);
    the one way every command makes a folder of its database, audio, reports or keys. Folders there
    already, and one another process makes meanwhile, are left as they are. Raises OSError as
    :meth:`~pathlib.Path.mkdir` with ``parents`` and ``exist_ok`` does (FileExistsError: a file
    there, not a folder)."""
    folder = os.path.abspath(os.path.expanduser(os.fspath(path)))
    missing: list[str] = []
    while not os.path.exists(folder) and folder not in missing:
        missing.append(folder)
        folder = os.path.dirname(folder)
    for made in reversed(missing):
        try:
            os.mkdir(made, 0o700)
        except FileExistsError:
            continue
        fd = os.open(made, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchmod(fd, 0o700)  # a umask that takes the owner's bits too (0277) is undone
        finally:
            os.close(fd)
    if not os.path.isdir(os.path.expanduser(os.fspath(path))):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(path))


def not_writable(path: str | os.PathLike[str]) -> str:
    """Why this user may not write ``path`` (a folder there, or a file), in words: "a read-only
    filesystem" (a read-only mount, which permissions do not tell) or "permission denied"."""
    return "a read-only filesystem" if os.statvfs(path).f_flag & os.ST_RDONLY else "permission denied"


def cannot_make_in(folder: str | os.PathLike[str]) -> str | None:
    """Why this process cannot make a file in the folder ``folder``, in words (:func:`refused`),
    found by making one there, without a name (``O_TMPFILE``, else one removed at once): nothing is
    left there, however the process ends. Permissions do not tell it all: root's pass a folder of a
    file system that takes no file (/sys, /proc). None when it can."""
    import tempfile
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        return refused(err, folder)
    return None


def cannot_open_to_write(path: str | os.PathLike[str]) -> str | None:
    """Why this process cannot write the file ``path``, in words (:func:`refused`), found by opening
    it to write, which changes nothing in it (but drops this process's POSIX locks on it, as any
    descriptor of it closed does: asked before the process opens it); None when it can."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC))
    except OSError as err:
        return refused(err, path)
    return None


def folder_not_entered(path: str | os.PathLike[str]) -> str | None:
    """The folder on the way to ``path`` (``~`` expanded) this process may not enter (a folder's search permission,
    its ``x``), which hides whether anything is at ``path``: :func:`os.path.exists` says False there,
    :func:`os.stat` and Path's checks raise PermissionError. None when ``path`` can be looked up,
    whether or not anything is there (or names no file: a file where a folder of it belongs)."""
    path = os.path.expanduser(path)
    try:
        os.stat(path)
    except PermissionError:
        pass
    except (OSError, ValueError):
        return None
    else:
        return None
    full = os.path.abspath(path)
    folder = os.sep
    for part in full.split(os.sep)[1:]:  # from the root down: the first name its folder does not let be looked up
        here = os.path.join(folder, part)
        try:
            os.lstat(here)
        except PermissionError:
            return folder
        except OSError:
            break
        folder = here
    target = os.path.realpath(full)  # every name looked up: the link at its end points behind such a folder
    return (target != full and folder_not_entered(target)) or os.path.dirname(target)


def not_entered(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be looked up, in the words every command says it in: "the folder F cannot
    be entered: permission denied", F the folder on the way to it this process may not enter
    (:func:`folder_not_entered`), which keeps whatever is there out of its reach (a database, a token
    or configuration file). None when ``path`` can be looked up."""
    folder = folder_not_entered(path)
    return None if folder is None else f"the folder {folder} cannot be entered: permission denied"


def refused(err: OSError, path: str | os.PathLike[str]) -> str:
    """``err``, the system's refusal to make or write a file at ``path`` (a folder, or a file), in
    words: :func:`not_writable`'s for a permission or a read-only filesystem, the system's own
    otherwise (/proc's "no such file or directory")."""
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return not_writable(path)
    return (err.strerror or str(err)).lower()


def cannot_read(err: OSError, path: str | os.PathLike[str]) -> str:
    """``err``, the system's refusal to read ``path``, in words: its own (``Permission denied``), or,
    where a folder above ``path`` this user may not enter is why, that folder (:func:`not_entered`:
    the file may well be there, out of this user's reach)."""
    shut = not_entered(path) if err.errno == errno.EACCES else None
    return shut or err.strerror or str(err)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether the paths ``a`` and ``b`` name one file: :func:`os.path.samefile` where both are
    there (a hard or symbolic link to the other too), else their resolved paths compared (a file
    not made yet)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


PIPE_WAIT_S = 0.1
"""The longest a wait for a pipe's bytes runs before Python's signal handlers get their turn
(:func:`read_waiting`)."""


def read_waiting(path: str | os.PathLike[str], *, first_line: bool = False,
                 until: Callable[[bytes], bool] | None = None) -> bytes:
    """The bytes of the file ``path`` (a pipe: until its writers close it), or with ``first_line``
    only up to its first line end (a pipe: until one is written), or with ``until`` those read by
    the time it is true of them, all that were (a pipe: until they are written), read so that Ctrl-C and SIGTERM
    end the wait for a pipe nobody writes to yet (``<(pass show ...)``, a named pipe) wherever they
    come. The wait is in polls of at most :data:`PIPE_WAIT_S`, each of which lets the main thread
    run the handler of a signal that came meanwhile: a blocking ``open`` or ``read`` would hold it
    until something is written when the signal comes just before the call, or when another thread
    takes it (the process's signals go to any thread that does not block them). Raises OSError
    (FileNotFoundError, IsADirectoryError, ...) as ``open`` and ``read`` do."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a pipe: no wait for a writer
    try:
        poll = select.poll()
        poll.register(fd, select.POLLIN)
        enough = line_ends if first_line else until
        chunks: list[bytes] = []
        while not (enough is not None and chunks and enough(b"".join(chunks))):
            if not poll.poll(PIPE_WAIT_S * 1000):
                continue
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:  # woken, nothing to read (yet)
                continue
            if not chunk:
                break
            chunks.append(chunk)
        data = b"".join(chunks)
        return data.splitlines(keepends=True)[0] if first_line and data else data
    finally:
        os.close(fd)


def line_ends(data: bytes) -> bool:
    """Whether ``data`` holds a line end (LF, CRLF or a lone CR)."""
    return b"\n" in data or b"\r" in data


HASH_BLOCK = 1 << 20
"""The blocks a file is read and hashed in (1 MiB)."""
SAMPLED_BLOCKS = 8
"""The blocks a sampled hash (:func:`content_hash`) reads of a file longer than that many."""


def is_pipe(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a pipe (``<(pass show ...)``, a named pipe): what it holds is read once,
    and a second read waits until something writes to it again. False when it is not there."""
    try:
        return stat.S_ISFIFO(os.stat(os.path.expanduser(path)).st_mode)
    except OSError:
        return False


def others_may_read(path: str | os.PathLike[str], what: str = "the token file",
                    beside: Sequence[str | os.PathLike[str]] = ()) -> str | None:
    """Why a secret in ``path`` (``what`` holds it: a token file, a configuration naming tokens, a
    database with the files ``beside`` it that hold its data too, its -wal and -shm) is not private:
    a regular file among them that other users may read (its group or everyone), in one phrase naming
    the mode of the first (and which file it is, when not ``path``) and the fix for each; None when
    only their owner may, for a pipe or when they cannot be looked at (reading says why)."""
    exposed = [(f, mode) for f in (path, *beside) if (mode := others_read_mode(f)) is not None]
    if not exposed:
        return None
    (first, mode), files = exposed[0], " ".join(name_text(f) for f, _ in exposed)
    whose = "" if first is path else f"{name_text(first)}: "
    return (f"{name_text(path)}: {what} may be read by {readers(mode)} ({whose}mode {mode:04o}); "
            f"make it private: chmod 600 {files}")


def others_may_change(path: str | os.PathLike[str], what: str, then: str) -> str | None:
    """Why another user could change the file at ``path`` (``what`` it is, ``then`` what they could
    do with it, after "could"): a regular file of another user's (:func:`another_user`; root's own
    in a folder of that user's own tree aside: :func:`in_own_folder`), one every user may write
    (mode 0666), or one in a folder every user may write without the sticky bit (``chmod 777``:
    anyone may remove or rename a file there and put their own in its place), the folder of its name
    and of the file it names, if a link; in one phrase naming the file or folder, its mode and owner,
    and the fix. None otherwise, for a pipe or a device, or when it cannot be looked at (reading says
    why)."""
    shown = name_text(path)
    try:
        st = os.stat(os.path.expanduser(path))
        if not stat.S_ISREG(st.st_mode):
            return None
        if another_user(st.st_uid) and not (os.geteuid() == 0 and in_own_folder(path, st.st_uid)):
            return (f"{shown}: {what} belongs to another user, {user_name(st.st_uid)} (mode "
                    f"{stat.S_IMODE(st.st_mode):04o}), who could {then}; use a file of your own")
        if st.st_mode & stat.S_IWOTH:
            return (f"{shown}: {what} may be changed by every user (mode {stat.S_IMODE(st.st_mode):04o}, owner "
                    f"{user_name(st.st_uid)}): any of them could {then}; make it yours alone: chmod o-w {shown}")
        for folder in _folders_of(path):
            fst = os.stat(folder)
            if fst.st_mode & stat.S_IWOTH and not fst.st_mode & stat.S_ISVTX:
                return (f"{shown}: {what} may be replaced by every user: its folder {name_text(folder)} may be written "
                        f"by every user, without the sticky bit (mode {stat.S_IMODE(fst.st_mode):04o}, owner "
                        f"{user_name(fst.st_uid)}): any of them could {then}; move it to a folder of your own")
    except OSError:
        return None
    return None


def _folders_of(path: str | os.PathLike[str]) -> list[str]:
    """The folder of ``path``'s name, then that of the file it names, if a link leads elsewhere."""
    given = os.path.expanduser(path)
    return list(dict.fromkeys(os.path.dirname(os.path.abspath(p)) for p in (given, os.path.realpath(given))))


def another_user(uid: int, me: int | None = None) -> bool:
    """Whether the user ``uid`` is another user than ``me`` (this process's, by default) and root:
    one whose file or folder their calls should not be kept in or sent to (root may change any file
    whatever its mode)."""
    return uid not in (os.geteuid() if me is None else me, 0)


def in_own_folder(path: str | os.PathLike[str], uid: int) -> bool:
    """Whether the file or folder at ``path`` (the one it names, if a link) lies in a folder of the
    user ``uid``, its owner: in that user's own tree (their home), where root writing is an
    administrator's common case, not another user's file or folder put in a shared place."""
    try:
        return os.stat(os.path.dirname(os.path.realpath(os.path.expanduser(path)))).st_uid == uid
    except OSError:
        return False


def user_name(uid: int) -> str:
    """The user ``uid`` in words: the name and the number (``mallory (uid 1002)``), the number alone
    where no name is known."""
    import pwd
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def folder_not_own(st: os.stat_result, uid: int) -> str | None:
    """Why the folder of stat ``st`` is not the user ``uid``'s own, in one phrase that follows the
    folder's name (``belongs to USER``, ``may be written by other users``, ``may be written by the
    group GROUP``): another user than ``uid`` and root owns it, who may remove or replace what is
    kept there at any time, or a group or anyone may write it, and one of them place a file or a
    socket at a name not taken yet (without the sticky bit, remove one too); None for a folder no
    one else may change (its owner's own private group's writing it aside: :func:`own_group`). The judgement of the runtime folder a default status socket goes in and of
    the folders ``run`` keeps its socket, call audio and reports in (:func:`shared_folder_warning`)."""
    if another_user(st.st_uid, uid):
        return f"belongs to {user_name(st.st_uid)}"
    if st.st_mode & stat.S_IWOTH:
        return "may be written by other users"
    if st.st_mode & stat.S_IWGRP and not own_group(st.st_gid, st.st_uid):
        return f"may be written by the group {group_name(st.st_gid)}"
    return None


def own_group(gid: int, uid: int) -> bool:
    """Whether the group ``gid`` is the user ``uid``'s own private group: their primary group, with
    no member named besides them (``alice``'s group ``alice``, as Ubuntu and Fedora make one for each
    user, whose umask 002 makes their folders 0775). Another user with it as their primary group is
    not looked for: listing every user may take long where they come from a directory."""
    import grp
    import pwd
    try:
        owner = pwd.getpwuid(uid)
        members = grp.getgrgid(gid).gr_mem
    except KeyError:
        return False
    return owner.pw_gid == gid and set(members) <= {owner.pw_name}


def group_name(gid: int) -> str:
    """The group ``gid``'s name, else ``gid N``."""
    import grp
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def shared_folder_warning(what: str, folder: str | os.PathLike[str], could: str, key: str) -> str | None:
    """The warning for ``what`` (the status socket at its path, call audio, call reports) kept in
    ``folder``, which is not this user's own (:func:`folder_not_own`): what its owner or one of its
    writers ``could`` do there, and the setting ``key`` that gives it a folder of one's own; None in
    a folder of one's own, or one not there yet (made 0700: :func:`make_private_folder`). Root's
    daemon in a folder of a user's own tree (:func:`in_own_folder`: their home) is judged as that user
    would be, as root's writing into their database is (no "belongs to" them)."""
    try:
        st = os.stat(os.path.expanduser(folder))
    except OSError:
        return None
    me = os.geteuid()
    judged = st.st_uid if me == 0 and in_own_folder(folder, st.st_uid) else me  # root in a user's own tree
    if (why := folder_not_own(st, judged)) is None:
        return None
    who = "who" if another_user(st.st_uid, judged) else "and one of them"
    return f"{what}: its folder {os.fsdecode(folder)} {why}, {who} could {could}; give {key} a folder of your own"


def others_read_mode(path: str | os.PathLike[str]) -> int | None:
    """The permission bits of ``path``, a regular file other users may read (its group or everyone);
    None when only its owner may, for a pipe or when it cannot be looked at."""
    try:
        st = os.stat(os.path.expanduser(path))
    except OSError:
        return None
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) and st.st_mode & 0o044 else None


def readers(mode: int) -> str:
    """Who besides its owner may read a file of permission bits ``mode`` (one of
    :func:`others_read_mode`): "every user" or "its group"."""
    return "every user" if mode & 0o004 else "its group"


def content_hash(path: str | os.PathLike[str], *, sampled: bool = False) -> str:
    """BLAKE2b-128 (hex) of the file's bytes, read in :data:`HASH_BLOCK` blocks. Raises OSError.

    ``sampled``: a fingerprint that reads at most :data:`SAMPLED_BLOCKS` blocks (8 MiB) whatever the
    file's length: the hash of its size and of that many blocks spread evenly over it, the first
    and the last among them (a file of no more blocks is hashed whole, with its size). It tells a
    recording from another put at its path (a size, a header or audio at any of those blocks
    that differ: two recordings of one length differ in the first block already) without reading
    hours of audio again; an edit that keeps the size and changes only bytes between the blocks
    goes unseen. A sampled hash and a whole one of the same file differ: compare like with like."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if sampled:
            h.update(f"{size}:".encode("ascii"))
        if sampled and size > SAMPLED_BLOCKS * HASH_BLOCK:
            for i in range(SAMPLED_BLOCKS):
                fh.seek(i * (size - HASH_BLOCK) // (SAMPLED_BLOCKS - 1))
                h.update(fh.read(HASH_BLOCK))
        else:
            while block := fh.read(HASH_BLOCK):
                h.update(block)
    return h.hexdigest()


def recording_hash(path: str | os.PathLike[str], agent_file: str | None = None, *, sampled: bool = False) -> str:
    """The :func:`content_hash` of a call's recording; of a call of two files (``agent_file`` the
    agent's), the caller's file's and the agent's joined by "+", so that either file changed is
    another recording. Raises OSError (its ``filename`` the file that cannot be read)."""
    own = content_hash(path, sampled=sampled)
    return f"{own}+{content_hash(agent_file, sampled=sampled)}" if agent_file else own


def recording_fingerprint(path: str | os.PathLike[str], agent_file: str | None = None) -> str | None:
    """The sampled :func:`recording_hash` of a call's recording (of a call of two files, of both),
    kept with a call replayed from it so that its report can tell the recording still at that path
    from another put there since; None when a file cannot be read."""
    try:
        return recording_hash(path, agent_file, sampled=True)
    except OSError:
        return None
