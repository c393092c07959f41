"""Files: written whole or not at all (into a temporary file beside it, renamed over it at the end),
and whether two paths name one file."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def replaced(path: str, prefix: str, mode: int | None = None) -> Iterator[str]:
    """A temporary file's path beside ``path`` (same folder, same extension) to write; when the block
    ends without an error it is given ``mode`` (if any) and renamed over ``path``, else removed, so a
    reader never sees half a file and an old one stays as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=os.path.splitext(path)[1], dir=folder)
    os.close(fd)
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether the paths ``a`` and ``b`` name one file: :func:`os.path.samefile` where both are
    there (a hard or symbolic link to the other too), else their resolved paths compared (a file
    not made yet)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)
