"""Token files: the console's shared token (``supervisor.token_file``, which ``forget-agent`` sends too)
and the daemon's webhook token (``delivery.webhook_token_file``, often that very file) are read by
one reader, so that one file gives both the same token or the same one-line refusal naming it; the
console alone wants a token of 16 characters at least."""
from __future__ import annotations

import os
import threading

import pytest

from conftest import call_monitor, fifo_writer
from monitor.config.tokens import TokenFileError, read_token_file
from monitor.supervisor.auth import token_or_new

TOKEN = "tok-0123456789abcdefgh"
READERS = {"console": lambda path: token_or_new(path, create=False)[0], "daemon": read_token_file}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("written", [b"\n\n" + TOKEN.encode() + b"\n", b"  \r\n\t" + TOKEN.encode() + b"  \r\nmore\n",
                                     b"\xef\xbb\xbf" + TOKEN.encode() + b"\r\n"])
def test_the_token_is_the_first_line_that_holds_more_than_whitespace(tmp_path, reader, written):
    path = tmp_path / "console.token"
    path.write_bytes(written)
    assert READERS[reader](path) == TOKEN


@pytest.mark.parametrize("reader", READERS)
def test_a_token_file_that_cannot_be_used_is_one_line_naming_it_alike_for_both(tmp_path, reader):
    (tmp_path / "folder").mkdir()
    os.symlink(tmp_path / "gone", tmp_path / "dangling")
    (tmp_path / "latin-1").write_bytes(f"caf\u00e9{TOKEN}\n".encode("latin-1"))
    (tmp_path / "form-feed").write_bytes(f"{TOKEN}\x0cmore\n".encode())  # no line end, in a header
    (tmp_path / "one-line").write_bytes(b"a" * 70_000)  # a recording, a device named by mistake: not read for ever
    said = {"missing": "no such token file",
            "dangling": f"no such token file (a link to {tmp_path / 'gone'}, which is not there)",
            "folder": "a folder, not a token file",
            "latin-1": "the token is no UTF-8 text (byte 0xE9, at byte 4 of its line): write the token alone, as "
                       "ASCII text",
            "form-feed": "the token holds U+000C (character 23), which an HTTP header cannot carry: write the token "
                         "alone, as ASCII text",
            "one-line": "no line end in its first 64 KiB: no token file (write the token alone, on one line)"}
    for name, problem in said.items():
        with pytest.raises(TokenFileError) as refused:
            READERS[reader](tmp_path / name)
        assert str(refused.value) == f"{tmp_path / name}: {problem}"


def test_the_console_alone_wants_a_token_of_16_characters_and_says_so_of_an_empty_file(tmp_path):
    (tmp_path / "empty").write_bytes(b" \n\t\n")
    (tmp_path / "short").write_text("short\n")
    with pytest.raises(TokenFileError, match="the token file is empty; it must hold a token of at least 16 char"):
        READERS["console"](tmp_path / "empty")
    with pytest.raises(TokenFileError, match=r"^[^:]*empty: the token file is empty$"):
        READERS["daemon"](tmp_path / "empty")
    with pytest.raises(TokenFileError, match="short: the token file must hold a token of at least 16 characters"):
        READERS["console"](tmp_path / "short")
    assert READERS["daemon"](tmp_path / "short") == "short"  # a receiver's token is the receiver's to choose


def test_forget_agent_refuses_a_console_token_too_short_to_be_the_consoles_before_it_connects(tmp_path):
    short = tmp_path / "short.token"
    short.write_text("short\n")
    r = call_monitor("forget-agent", "zoe", "--console", "http://127.0.0.1:9", "--token-file", short, timeout=60)
    assert (r.returncode, r.stderr) == (2, f"call-monitor: error: {short}: the token file must hold a token of at "
                                           "least 16 characters\n")


def test_a_token_file_this_user_may_not_read_is_said_in_the_same_line_by_the_console_and_forget_agent(tmp_path):
    private = tmp_path / "private.token"
    private.write_text(f"{TOKEN}\n")
    private.chmod(0)
    said = f"call-monitor: error: {private}: cannot read the token file (Permission denied)\n"
    console = call_monitor("supervisor", "--listen", "127.0.0.1:0", "--db", tmp_path / "c.db", "--token-file", private,
                           permissions_bind=True, timeout=60)
    client = call_monitor("forget-agent", "zoe", "--console", "http://127.0.0.1:9", "--token-file", private,
                          permissions_bind=True, timeout=60)
    assert (console.returncode, console.stderr) == (client.returncode, client.stderr) == (2, said)


def test_a_token_file_in_a_folder_this_user_may_not_look_in_is_one_it_cannot_read_not_one_to_create(tmp_path):
    """Another user's token file in their folder of mode 0700: whether it is there cannot be told
    (``os.path.exists`` says False), so the console does not offer to make it ("cannot create the token
    file"), and says, as forget-agent does, that it cannot read it and which folder keeps it out of reach."""
    folder = tmp_path / "theirs"
    folder.mkdir()
    private = folder / "supervisor.token"
    private.write_text(f"{TOKEN}\n")
    folder.chmod(0)
    said = (f"call-monitor: error: {private}: cannot read the token file (the folder {folder} cannot be entered: "
            f"permission denied)\n")
    console = call_monitor("supervisor", "--listen", "127.0.0.1:0", "--db", tmp_path / "c.db", "--token-file", private,
                           permissions_bind=True, timeout=60)
    client = call_monitor("forget-agent", "zoe", "--console", "http://127.0.0.1:9", "--token-file", private,
                          permissions_bind=True, timeout=60)
    assert (console.returncode, console.stderr) == (client.returncode, client.stderr) == (2, said)
    assert not (tmp_path / "c.db").exists()


def test_the_console_takes_its_token_from_a_pipe_at_its_line_end_not_when_the_writer_closes(tmp_path):
    pipe = tmp_path / "token"
    os.mkfifo(pipe)
    read, closed_early = threading.Event(), []

    def write() -> None:
        held = fifo_writer(pipe, timeout=10)
        os.write(held, f"{TOKEN}\nmore\n".encode())
        closed_early.append(not read.wait(10))  # held open until the token is read (or for ever, as it were)
        os.close(held)
    writer = threading.Thread(target=write)
    writer.start()
    assert token_or_new(pipe, create=False) == (TOKEN, False)
    read.set()
    writer.join()
    assert closed_early == [False]
