"""Synthetic media tracks for aiortc: a moving test pattern and a sine tone, paced in real time.

Small and cheap on purpose (320x240, a few rectangles and a counter drawn with OpenCV): they stand in
for a camera and a microphone in probes, tests and benchmarks. ``VideoMode`` and ``AudioMode`` also
make the faults a media check should notice: black frames, a frozen picture, silence.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import math
from enum import StrEnum

import av
import cv2
import numpy as np
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

log = logging.getLogger(__name__)

VIDEO_CLOCK_RATE = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)
AUDIO_SAMPLE_RATE = 48_000
AUDIO_PTIME = 0.020
AUDIO_SAMPLES = int(AUDIO_SAMPLE_RATE * AUDIO_PTIME)  # 960 per 20 ms frame
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_SAMPLE_RATE)


class VideoMode(StrEnum):
    PATTERN = "pattern"  # a moving bar and a frame counter: the healthy picture
    BLACK = "black"  # every frame black (a covered or dead camera)
    FROZEN = "frozen"  # the first pattern frame, repeated (a stuck capture)


class AudioMode(StrEnum):
    TONE = "tone"
    SILENCE = "silence"


class _Pacer:
    """Real-time pacing: the n-th call returns at start + n * period, so the rate never drifts."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.count = -1
        self._start = 0.0

    async def tick(self) -> int:
        loop = asyncio.get_running_loop()
        self.count += 1
        if self.count == 0:
            self._start = loop.time()
        else:
            delay = self._start + self.count * self.period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        return self.count


class SyntheticVideoTrack(VideoStreamTrack):
    """A ``width`` x ``height`` test pattern at ``fps``: a bar sweeping across and a frame counter."""

    def __init__(
        self,
        *,
        width: int = 320,
        height: int = 240,
        fps: float = 15.0,
        mode: VideoMode = VideoMode.PATTERN,
        label: str = "",
    ) -> None:
        super().__init__()
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.width, self.height, self.fps, self.mode, self.label = width, height, fps, mode, label
        self.frames_sent = 0
        self._pacer = _Pacer(1.0 / fps)
        self._background = self._make_background()
        self._frozen: np.ndarray | None = None

    def _make_background(self) -> np.ndarray:
        """Vertical colour bars, drawn once."""
        image = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        colours = [(192, 192, 192), (0, 192, 192), (192, 192, 0), (0, 192, 0), (192, 0, 192)]
        step = math.ceil(self.width / len(colours))
        for i, colour in enumerate(colours):
            image[:, i * step : (i + 1) * step] = colour
        return image

    async def next_timestamp(self) -> tuple[int, fractions.Fraction]:
        """pts in the 90 kHz video clock, paced at this track's own frame rate."""
        if self.readyState != "live":
            raise MediaStreamError
        count = await self._pacer.tick()
        return round(count * VIDEO_CLOCK_RATE / self.fps), VIDEO_TIME_BASE

    def draw(self, index: int) -> np.ndarray:
        """The BGR picture of frame ``index`` (cheap: one copy, one rectangle, two strings)."""
        if self.mode is VideoMode.BLACK:
            return np.zeros((self.height, self.width, 3), dtype=np.uint8)
        if self.mode is VideoMode.FROZEN and self._frozen is not None:
            return self._frozen
        image = self._background.copy()
        bar = max(self.width // 10, 4)
        x = int(index * 4) % (self.width + bar) - bar
        cv2.rectangle(image, (x, 0), (x + bar, self.height - 1), (255, 255, 255), thickness=-1)
        cv2.putText(
            image, f"#{index}", (8, self.height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 0), 3
        )
        cv2.putText(
            image,
            f"#{index}",
            (8, self.height - 12),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.9,
            (255, 255, 255),
            1,
        )
        if self.label:
            cv2.putText(
                image, self.label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1
            )
        if self.mode is VideoMode.FROZEN:
            self._frozen = image
        return image

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(self.draw(self.frames_sent), format="bgr24")
        frame.pts = pts
        frame.time_base = time_base
        self.frames_sent += 1
        return frame


class SyntheticAudioTrack(AudioStreamTrack):
    """Mono s16 at 48 kHz in 20 ms frames: a continuous sine tone, or silence."""

    def __init__(
        self,
        *,
        frequency: float = 440.0,
        amplitude: float = 0.2,
        mode: AudioMode = AudioMode.TONE,
    ) -> None:
        super().__init__()
        self.frequency, self.amplitude, self.mode = frequency, amplitude, mode
        self.frames_sent = 0
        self._pacer = _Pacer(AUDIO_PTIME)

    def samples(self, first: int) -> np.ndarray:
        """AUDIO_SAMPLES samples starting at sample ``first``, shaped (1, n) for a packed mono frame."""
        if self.mode is AudioMode.SILENCE:
            return np.zeros((1, AUDIO_SAMPLES), dtype=np.int16)
        t = np.arange(first, first + AUDIO_SAMPLES, dtype=np.float64) / AUDIO_SAMPLE_RATE
        wave = np.sin(2 * np.pi * self.frequency * t) * (self.amplitude * 32767)
        return wave.astype(np.int16).reshape(1, -1)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        count = await self._pacer.tick()
        pts = count * AUDIO_SAMPLES
        frame = av.AudioFrame.from_ndarray(self.samples(pts), format="s16", layout="mono")
        frame.sample_rate = AUDIO_SAMPLE_RATE
        frame.pts = pts
        frame.time_base = AUDIO_TIME_BASE
        self.frames_sent += 1
        return frame
