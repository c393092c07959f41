"""Whether an Ogg recording (Vorbis, Opus) ends where its stream ends.

An Ogg file declares no length in its header: a decoder takes the length from the last page it
finds, so a file cut short (a crash while it was written, a copy broken off) reads as a shorter,
whole recording. Its last page tells: an encoder that finishes a stream marks its last page
end-of-stream; a cut file ends inside a page, or after a page that is not the last.
"""

from __future__ import annotations

import os
import struct
import zlib

PAGE_MAX = 27 + 255 + 255 * 255
"""Largest Ogg page: a 27-byte header, a segment table of up to 255 entries, 255 segments of 255 bytes."""

CAPTURE = b"OggS"
END_OF_STREAM = 0x04
"""The header-type flag of a logical stream's last page."""

_REVERSED_BITS = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def ogg_crc(page: bytes) -> int:
    """Ogg's page checksum (CRC-32, polynomial 0x04C11DB7, not reflected, initial value 0, no final
    XOR) of ``page`` with its checksum field already zeroed: zlib's reflected CRC-32 of the
    bit-reversed bytes, with its initial and final inversions undone, bit-reversed."""
    reflected = ~zlib.crc32(page.translate(_REVERSED_BITS), 0xFFFFFFFF) & 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)


def _page_at(tail: bytes, i: int) -> tuple[int, int] | None:
    """The page starting at ``tail[i]`` if it is whole and its checksum holds: (its length,
    its header-type flags); else None (cut off, or the capture pattern by chance in packet data)."""
    if i + 27 > len(tail) or tail[i + 4] != 0:  # stream structure version 0
        return None
    segments = tail[i + 26]
    if i + 27 + segments > len(tail):
        return None
    length = 27 + segments + sum(tail[i + 27: i + 27 + segments])
    if i + length > len(tail):
        return None
    page = bytearray(tail[i: i + length])
    stored = struct.unpack_from("<I", page, 22)[0]
    page[22:26] = bytes(4)
    return (length, tail[i + 5]) if ogg_crc(bytes(page)) == stored else None


def ogg_finished(path: str | os.PathLike) -> bool:
    """Whether the Ogg file at ``path`` ends with a whole end-of-stream page: its last whole page
    (checksum verified) is marked end-of-stream and no page begins after it (bytes that begin no
    page, padding or a tag, may follow). False for a file cut inside a page or after a page
    that is not its stream's last, and for one whose last pages are damaged."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:  # a cut page is shorter than a page, the whole one before it starts within two
        fh.seek(max(0, size - 2 * PAGE_MAX))
        tail = fh.read()
    i = len(tail)
    while (i := tail.rfind(CAPTURE, 0, i)) >= 0:
        page = _page_at(tail, i)
        if page is not None:
            length, flags = page
            return bool(flags & END_OF_STREAM) and tail.find(CAPTURE, i + length) < 0
    return False
