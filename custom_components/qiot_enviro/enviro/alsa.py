"""ALSA capture through ctypes and the system's ``libasound.so.2`` (alsa-lib).

No compiled Python dependency: alsa-lib is a system library that Raspberry Pi OS ships
(``libasound2``) and Home Assistant's container image carries (its Dockerfile installs
``ffmpeg`` and ``pulseaudio-alsa``, which depend on Alpine's ``alsa-lib``). Where it
cannot be loaded the microphone is reported as not present, with that reason.

The calls used are alsa-lib's stable PCM API: ``snd_pcm_open`` (non-blocking),
``snd_pcm_set_params`` (format, access, channels, rate, latency in one call),
``snd_pcm_wait`` / ``snd_pcm_readi`` to read with a timeout, ``snd_pcm_recover``
after an overrun, ``snd_pcm_close``.
"""

import ctypes
import ctypes.util
import errno
import os
import threading
from typing import Any

from .models import BusDevice, DeviceProbe, DeviceStatus, status_for_errno

# ALSA's name for the Enviro's microphone card (the adau7002-simple overlay's card),
# the hardware device itself: no plugin between us and the samples.
DEFAULT_DEVICE = "hw:CARD=adau7002,DEV=0"
LIBRARY = "libasound.so.2"

SND_PCM_STREAM_CAPTURE = 1
SND_PCM_NONBLOCK = 1
SND_PCM_FORMAT_S32_LE = 10
SND_PCM_ACCESS_RW_INTERLEAVED = 3
# Ring buffer of the capture device: what may pile up while the thread is busy.
LATENCY_US = 500_000
BYTES_PER_SAMPLE = 4

HINT_MISSING = "enable the microphone: dtoverlay=adau7002-simple in config.txt, then reboot"
HINT_DENIED = "add the user to the audio group (or give the container /dev/snd)"
HINT_BUSY = "another program (arecord, PulseAudio, PipeWire) holds the microphone"
HINT_NO_LIBRARY = (
    f"{LIBRARY} (alsa-lib) not found: install the ALSA library "
    "(Debian/Raspberry Pi OS: libasound2, Alpine: alsa-lib)"
)


_lib_lock = threading.Lock()
_lib: Any = None


# void (*)(const char *file, int line, const char *function, int err, const char *fmt, ...)
_ERROR_HANDLER = ctypes.CFUNCTYPE(
    None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
)


def _ignore(file: bytes, line: int, function: bytes, err: int, fmt: bytes) -> None:
    """Drop an alsa-lib message."""


# Kept alive here for the library's lifetime.
_silent = _ERROR_HANDLER(_ignore)


class AlsaUnavailableError(OSError):
    """alsa-lib could not be loaded."""


def load_library() -> Any:
    """Return alsa-lib with the prototypes we call; AlsaUnavailableError if absent."""
    global _lib  # noqa: PLW0603 - one handle per process
    with _lib_lock:
        if _lib is not None:
            return _lib
        name = LIBRARY
        try:
            lib = ctypes.CDLL(name, use_errno=True)
        except OSError:
            found = ctypes.util.find_library("asound")
            if found is None:
                raise AlsaUnavailableError(errno.ENOENT, HINT_NO_LIBRARY) from None
            try:
                lib = ctypes.CDLL(found, use_errno=True)
            except OSError as err:
                raise AlsaUnavailableError(errno.ENOENT, HINT_NO_LIBRARY) from err
        pcm_p = ctypes.c_void_p
        lib.snd_pcm_open.argtypes = [
            ctypes.POINTER(pcm_p), ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
        ]  # fmt: skip
        lib.snd_pcm_open.restype = ctypes.c_int
        lib.snd_pcm_set_params.argtypes = [
            pcm_p, ctypes.c_int, ctypes.c_int, ctypes.c_uint, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint,
        ]  # fmt: skip
        lib.snd_pcm_set_params.restype = ctypes.c_int
        lib.snd_pcm_start.argtypes = [pcm_p]
        lib.snd_pcm_start.restype = ctypes.c_int
        lib.snd_pcm_wait.argtypes = [pcm_p, ctypes.c_int]
        lib.snd_pcm_wait.restype = ctypes.c_int
        lib.snd_pcm_readi.argtypes = [pcm_p, ctypes.c_void_p, ctypes.c_ulong]
        lib.snd_pcm_readi.restype = ctypes.c_long
        lib.snd_pcm_recover.argtypes = [pcm_p, ctypes.c_int, ctypes.c_int]
        lib.snd_pcm_recover.restype = ctypes.c_int
        lib.snd_pcm_close.argtypes = [pcm_p]
        lib.snd_pcm_close.restype = ctypes.c_int
        lib.snd_strerror.argtypes = [ctypes.c_int]
        lib.snd_strerror.restype = ctypes.c_char_p
        # alsa-lib prints every error to stderr ("Unknown PCM ..." on each probe of a
        # board without the overlay); the errors reach us as return codes anyway.
        lib.snd_lib_error_set_handler.argtypes = [_ERROR_HANDLER]
        lib.snd_lib_error_set_handler.restype = ctypes.c_int
        lib.snd_lib_error_set_handler(_silent)
        _lib = lib
        return lib


def _error(lib: Any, code: int, what: str, device: str) -> OSError:
    """Return the OSError for a negative alsa-lib result."""
    number = -code
    text = lib.snd_strerror(code)
    message = text.decode(errors="replace") if text else os.strerror(number)
    return OSError(number, f"{what}: {message}", device)


class AlsaCapture:
    """An opened ALSA capture device: S32_LE, interleaved, ``channels`` at ``rate``."""

    def __init__(self, device: str, *, rate: int, channels: int) -> None:
        """Open and configure ``device``; OSError (errno set) when that fails."""
        lib = load_library()
        self._lib = lib
        self.device = device
        self.rate = rate
        self.channels = channels
        self.overruns = 0
        self._frame_bytes = channels * BYTES_PER_SAMPLE
        self._buffer: Any = None
        handle = ctypes.c_void_p()
        code = lib.snd_pcm_open(
            ctypes.byref(handle), device.encode(), SND_PCM_STREAM_CAPTURE, SND_PCM_NONBLOCK
        )
        if code < 0:
            raise _error(lib, code, "cannot open the capture device", device)
        self._pcm: ctypes.c_void_p | None = handle
        code = lib.snd_pcm_set_params(
            handle,
            SND_PCM_FORMAT_S32_LE,
            SND_PCM_ACCESS_RW_INTERLEAVED,
            channels,
            rate,
            0,  # no resampling in alsa-lib: the filter is designed for this rate
            LATENCY_US,
        )
        if code < 0:
            self.close()
            raise _error(lib, code, f"cannot capture {channels} x S32_LE at {rate} Hz", device)
        # A capture stream starts on the first read; starting it now keeps the first
        # wait from timing out on a prepared stream.
        lib.snd_pcm_start(handle)

    def read(self, frames: int, timeout: float) -> bytes | None:
        """Return up to ``frames`` frames, or None when none came within ``timeout``."""
        pcm = self._pcm
        if pcm is None:
            raise OSError(errno.EBADF, "the capture device is closed", self.device)
        lib = self._lib
        ready = lib.snd_pcm_wait(pcm, max(1, round(timeout * 1000)))
        if ready < 0:
            self._recover(ready)
            return None
        if ready == 0:
            return None
        if self._buffer is None or len(self._buffer) < frames * self._frame_bytes:
            self._buffer = ctypes.create_string_buffer(frames * self._frame_bytes)
        count = lib.snd_pcm_readi(pcm, self._buffer, frames)
        if count == -errno.EAGAIN:
            return None
        if count < 0:
            self._recover(count)
            return None
        return bytes(self._buffer.raw[: count * self._frame_bytes])

    def _recover(self, code: int) -> None:
        """Restart after an overrun (EPIPE) or a suspend; raise for anything else."""
        if code == -errno.EPIPE:
            self.overruns += 1
        recovered = self._lib.snd_pcm_recover(self._pcm, code, 1)
        if recovered < 0:
            raise _error(self._lib, code, "capture failed", self.device)
        self._lib.snd_pcm_start(self._pcm)

    def close(self) -> None:
        """Close the device (idempotent)."""
        pcm, self._pcm = self._pcm, None
        if pcm is not None:
            self._lib.snd_pcm_close(pcm)


def probe_capture(device: str = DEFAULT_DEVICE) -> DeviceProbe:
    """Open the capture device without configuring it and report the outcome.

    The device is closed again at once; a device that our own open board is reading
    shows as busy (ALSA's hw devices have one reader).
    """
    try:
        lib = load_library()
    except AlsaUnavailableError:
        return DeviceProbe(BusDevice.AUDIO, device, DeviceStatus.NOT_PRESENT, HINT_NO_LIBRARY)
    handle = ctypes.c_void_p()
    code = lib.snd_pcm_open(
        ctypes.byref(handle), device.encode(), SND_PCM_STREAM_CAPTURE, SND_PCM_NONBLOCK
    )
    if code >= 0:
        lib.snd_pcm_close(handle)
        return DeviceProbe(BusDevice.AUDIO, device, DeviceStatus.OK)
    return describe_failure(_error(lib, code, "cannot open", device), device)


def describe_failure(err: OSError, device: str) -> DeviceProbe:
    """Return the probe result for an error opening ``device``, with a hint."""
    status = status_for_errno(err.errno)
    hint = {
        DeviceStatus.NOT_PRESENT: HINT_MISSING,
        DeviceStatus.PERMISSION_DENIED: HINT_DENIED,
        DeviceStatus.BUSY: HINT_BUSY,
    }.get(status)
    if isinstance(err, AlsaUnavailableError):
        return DeviceProbe(BusDevice.AUDIO, device, DeviceStatus.NOT_PRESENT, HINT_NO_LIBRARY)
    detail = f"{device}: {err.strerror or err}"
    if hint:
        detail = f"{detail}; {hint}"
    return DeviceProbe(BusDevice.AUDIO, device, status, detail)
