"""A playback stream of the test's own that it pauses (corks) and plays again, as a softphone may on hold.

Only the application that owns a stream corks it (``pactl`` has no command for it): this one is made
through libpulse itself (ctypes), on the server ``PULSE_SERVER`` names. It plays nothing (an uncorked stream with no data plays on, as a stream).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import time
from typing import Iterator

_READY, _FAILED = 4, (5, 6)  # pa_context_state: READY; FAILED, TERMINATED
_STREAM_READY, _STREAM_FAILED = 2, (3, 4)  # pa_stream_state: READY; FAILED, TERMINATED


class _SampleSpec(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("rate", ctypes.c_uint32), ("channels", ctypes.c_uint8)]


def _libpulse() -> ctypes.CDLL:
    pa = ctypes.CDLL(ctypes.util.find_library("pulse") or "libpulse.so.0")
    p = ctypes.c_void_p
    for name, res, args in (
            ("pa_threaded_mainloop_new", p, []), ("pa_threaded_mainloop_get_api", p, [p]),
            ("pa_threaded_mainloop_start", ctypes.c_int, [p]), ("pa_threaded_mainloop_stop", None, [p]),
            ("pa_threaded_mainloop_free", None, [p]), ("pa_threaded_mainloop_lock", None, [p]),
            ("pa_threaded_mainloop_unlock", None, [p]), ("pa_context_new", p, [p, ctypes.c_char_p]),
            ("pa_context_connect", ctypes.c_int, [p, ctypes.c_char_p, ctypes.c_int, p]),
            ("pa_context_get_state", ctypes.c_int, [p]), ("pa_context_disconnect", None, [p]),
            ("pa_context_unref", None, [p]),
            ("pa_stream_new", p, [p, ctypes.c_char_p, ctypes.POINTER(_SampleSpec), p]),
            ("pa_stream_connect_playback", ctypes.c_int, [p, ctypes.c_char_p, p, ctypes.c_int, p, p]),
            ("pa_stream_get_state", ctypes.c_int, [p]), ("pa_stream_get_index", ctypes.c_uint32, [p]),
            ("pa_stream_cork", p, [p, ctypes.c_int, p, p]), ("pa_operation_unref", None, [p]),
            ("pa_stream_disconnect", ctypes.c_int, [p]), ("pa_stream_unref", None, [p])):
        getattr(pa, name).restype, getattr(pa, name).argtypes = res, args
    return pa


class CorkableStream:
    """A stream into ``sink`` (``index``: its sink-input's id), playing once made; :meth:`cork`
    pauses it and plays it again, :meth:`close` removes it."""

    def __init__(self, sink: str = "softphone", timeout: float = 30.0) -> None:
        self._pa = pa = _libpulse()
        self._loop = pa.pa_threaded_mainloop_new()
        self._ctx = pa.pa_context_new(pa.pa_threaded_mainloop_get_api(self._loop), b"softphone")
        self._stream = None
        pa.pa_context_connect(self._ctx, None, 0, None)
        pa.pa_threaded_mainloop_start(self._loop)
        self._until(lambda: pa.pa_context_get_state(self._ctx), _READY, _FAILED, timeout)
        spec = _SampleSpec(3, 16000, 1)  # PA_SAMPLE_S16LE, mono
        with self._locked():
            self._stream = pa.pa_stream_new(self._ctx, b"call", ctypes.byref(spec), None)
            pa.pa_stream_connect_playback(self._stream, sink.encode(), None, 0, None, None)
        self._until(lambda: pa.pa_stream_get_state(self._stream), _STREAM_READY, _STREAM_FAILED, timeout)
        with self._locked():
            self.index = int(pa.pa_stream_get_index(self._stream))

    def cork(self, paused: bool = True) -> None:
        with self._locked():
            self._pa.pa_operation_unref(self._pa.pa_stream_cork(self._stream, int(paused), None, None))

    def close(self) -> None:
        pa = self._pa
        with self._locked():
            if self._stream is not None:
                pa.pa_stream_disconnect(self._stream)
                pa.pa_stream_unref(self._stream)
                self._stream = None
            pa.pa_context_disconnect(self._ctx)
        pa.pa_threaded_mainloop_stop(self._loop)
        pa.pa_context_unref(self._ctx)
        pa.pa_threaded_mainloop_free(self._loop)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """libpulse's objects are touched with its loop's thread held off."""
        self._pa.pa_threaded_mainloop_lock(self._loop)
        try:
            yield
        finally:
            self._pa.pa_threaded_mainloop_unlock(self._loop)

    def _until(self, state, ready: int, failed: tuple[int, ...], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._locked():
                now = state()
            if now == ready:
                return
            if now in failed or time.monotonic() > deadline:
                raise RuntimeError(f"the sound server refused the stream (state {now})")
            time.sleep(0.01)
