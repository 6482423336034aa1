"""What the server can tell from decoded media alone: a black, dark or frozen camera, a silent microphone.

Pure and fast (well under a millisecond for a 320x240 picture or a second of audio): functions and
a small ``VideoJudge`` over NumPy arrays as ``av.VideoFrame.to_ndarray`` and
``av.AudioFrame.to_ndarray`` return them. No clock, no I/O: ``media.monitor`` calls them in a
thread pool and stamps the results with its own time.

Luminance is 8-bit full range (0 black .. 255 white), as ``to_ndarray(format="gray")`` or OpenCV's
BGR -> gray conversion return it. Audio levels are in dBFS (0 dBFS is a full-scale sample).

The thresholds below were chosen from pictures and sounds sent through the codecs a browser and
aiortc actually use (VP8 at 1 and 15 frames a second, Opus), not from raw arrays alone: what an
encoder does to sensor noise and to a repeated picture is what decides where "frozen" can start.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np

# --- video thresholds ---------------------------------------------------------------------------

# A covered lens or a dead camera: almost no light AND almost no structure. Decoded black is 0;
# a hand over a lens still lets through a little light and sensor noise (mean ~5-15, standard
# deviation ~1-4). A dark room that still shows shapes has a larger spread, which is what
# separates "covered" from "too dark".
BLACK_MAX_LUMINANCE = 20.0
BLACK_MAX_CONTRAST = 6.0
# Too dark to supervise by: a webcam's auto exposure aims near mid-grey (mean ~100-130); a mean
# under ~40 means it has run out of exposure and gain, and faces and hands lose their detail.
DARK_MAX_LUMINANCE = 40.0

# Frozen is judged on a 64x48 grayscale thumbnail (area-averaged in float, so no rounding): the
# mean absolute difference between consecutive samples, in grey levels. Averaging 5x5 pixels
# divides independent sensor noise by ~5, while any movement still changes whole thumbnail cells.
THUMBNAIL_SIZE = (64, 48)  # width, height (OpenCV's order)
# Measured through VP8: an exactly repeated picture decodes to differences of 0 (a simple picture)
# up to 0.01-0.06 (a detailed one, while the encoder keeps refining it over the first seconds);
# a static scene with sensor noise of 2 grey levels per colour channel reads 0.11-0.26 after
# encoding (0.30 raw), and any movement 0.8 or more. 0.1 sits between the two. A scene with less
# noise than ~1.5 grey levels AND nothing moving cannot be told from a frozen one (the encoder
# flattens it too): for a monitor that is the honest answer, "this picture shows no sign of life".
FROZEN_MAX_DIFFERENCE = 0.1
# Frozen only after this many consecutive still pairs (about 2 s at one sample a second): one
# still pair is a person holding still for a moment, or the encoder skipping a frame.
FROZEN_AFTER_STILL_PAIRS = 2

# --- audio thresholds ---------------------------------------------------------------------------

# Silence means a muted or dead microphone: digital zeros, or a dither of a least significant bit
# or two (about -90 dBFS RMS, peaks near -80). A live microphone in a quiet room, after the
# browser's noise suppression and gain control, still carries a floor around -70 to -50 dBFS
# (Opus takes a further ~4 dB off white noise). A window is silent only if both its energy and its
# loudest sample stay below these, so a distant word or a click in an otherwise quiet second
# still counts as sound.
SILENT_MAX_RMS_DBFS = -80.0
SILENT_MAX_PEAK_DBFS = -70.0
# What a window of exact zeros reads (log of zero is -inf, which JSON cannot carry).
DBFS_FLOOR = -120.0


class VideoVerdict(StrEnum):
    OK = "ok"
    BLACK = "black"  # no light and no structure: covered lens, dead camera
    DARK = "dark"  # some detail, too little light
    FROZEN = "frozen"  # the picture has not changed for FROZEN_AFTER_STILL_PAIRS samples
    LOST = "lost"  # no frames arrive: set by media.monitor's watchdog, never from a picture


class AudioVerdict(StrEnum):
    OK = "ok"
    SILENT = "silent"  # digital silence: a muted or dead microphone
    LOST = "lost"  # no frames arrive: set by media.monitor's watchdog, never from samples


# --- pictures -----------------------------------------------------------------------------------


def luma(image: np.ndarray) -> np.ndarray:
    """The 8-bit luminance plane of a gray (H, W) or BGR (H, W, 3) uint8 picture."""
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 picture, got {image.dtype}")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    raise ValueError(f"expected a gray (H, W) or BGR (H, W, 3) picture, got shape {image.shape}")


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """A THUMBNAIL_SIZE float32 area-averaged copy of a luminance plane."""
    return cv2.resize(gray.astype(np.float32), THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA)


def difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails, in grey levels."""
    if a.shape != b.shape:
        raise ValueError(f"thumbnails differ in shape: {a.shape} and {b.shape}")
    return float(cv2.norm(a, b, cv2.NORM_L1)) / a.size


def lighting_verdict(luminance: float, contrast: float) -> VideoVerdict:
    """BLACK, DARK or OK from a picture's mean luminance and its standard deviation."""
    if luminance <= BLACK_MAX_LUMINANCE and contrast <= BLACK_MAX_CONTRAST:
        return VideoVerdict.BLACK
    if luminance <= DARK_MAX_LUMINANCE:
        return VideoVerdict.DARK
    return VideoVerdict.OK


@dataclass(frozen=True, slots=True)
class VideoReading:
    """One sampled picture, judged against the ones before it.

    ``difference`` is None for the first picture of a sequence; ``still`` counts the consecutive
    pairs, up to and including this one, that differed by at most FROZEN_MAX_DIFFERENCE.
    """

    verdict: VideoVerdict
    luminance: float
    contrast: float
    difference: float | None
    still: int


@dataclass(slots=True)
class VideoJudge:
    """Judges a sequence of pictures sampled about once a second.

    Order of verdicts when several hold: BLACK, then DARK, then FROZEN. A black picture is also
    unchanging, and "covered" says more than "frozen"; in a dark picture the encoder flattens the
    noise frozen detection relies on, and more light is the fix either way.
    """

    _previous: np.ndarray | None = field(default=None, repr=False)
    _still: int = 0

    def judge(self, image: np.ndarray) -> VideoReading:
        """Measure ``image`` (gray or BGR uint8) and compare it with the previous one."""
        gray = luma(image)
        mean, std = cv2.meanStdDev(gray)
        luminance, contrast = float(mean[0, 0]), float(std[0, 0])
        small = thumbnail(gray)
        change: float | None = None
        if self._previous is not None and self._previous.shape == small.shape:
            change = difference(self._previous, small)
            self._still = self._still + 1 if change <= FROZEN_MAX_DIFFERENCE else 0
        else:
            self._still = 0
        self._previous = small
        verdict = lighting_verdict(luminance, contrast)
        if verdict is VideoVerdict.OK and self._still >= FROZEN_AFTER_STILL_PAIRS:
            verdict = VideoVerdict.FROZEN
        return VideoReading(verdict, luminance, contrast, change, self._still)

    def restart(self) -> None:
        """Forget the previous picture (after a gap, a picture from before it proves nothing)."""
        self._previous, self._still = None, 0


def video_verdict(images: Iterable[np.ndarray]) -> VideoVerdict:
    """The verdict on the last of ``images``, a sequence sampled about once a second."""
    judge, reading = VideoJudge(), None
    for image in images:
        reading = judge.judge(image)
    if reading is None:
        raise ValueError("expected at least one picture")
    return reading.verdict


# --- sound --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AudioReading:
    """One window of sound: its RMS and peak level in dBFS and how many samples it held."""

    verdict: AudioVerdict
    rms_dbfs: float
    peak_dbfs: float
    samples: int


def dbfs(level: float) -> float:
    """A linear level (1.0 = full scale) in dBFS, DBFS_FLOOR for zero."""
    return max(20.0 * math.log10(level), DBFS_FLOOR) if level > 0 else DBFS_FLOOR


def _full_scale(samples: np.ndarray) -> float:
    if samples.dtype.kind == "f":
        return 1.0
    if samples.dtype.kind == "i":
        return float(2 ** (8 * samples.dtype.itemsize - 1))
    raise ValueError(f"expected signed integer or float samples, got {samples.dtype}")


def judge_audio(samples: np.ndarray) -> AudioReading:
    """SILENT or OK for a window of samples (any shape; s16/s32 or float in [-1, 1]).

    Channels may be interleaved or planar: level is over every sample of the window.
    """
    if samples.size == 0:
        raise ValueError("expected at least one sample")
    scale = _full_scale(samples)
    x = samples.astype(np.float64, copy=False).ravel()
    # Not np.dot: that goes through BLAS, whose worker threads then spin-wait (measured: 10 % of
    # a core per process, whatever the number of sessions).
    rms = math.sqrt(float(np.mean(np.square(x)))) / scale
    peak = float(np.max(np.abs(x))) / scale
    rms_dbfs, peak_dbfs = dbfs(rms), dbfs(peak)
    silent = rms_dbfs <= SILENT_MAX_RMS_DBFS and peak_dbfs <= SILENT_MAX_PEAK_DBFS
    verdict = AudioVerdict.SILENT if silent else AudioVerdict.OK
    return AudioReading(verdict, rms_dbfs, peak_dbfs, int(x.size))
