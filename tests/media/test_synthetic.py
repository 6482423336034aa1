"""The synthetic camera and microphone: frame format, timestamps, and the fault modes."""

from __future__ import annotations

import fractions
import itertools

import numpy as np
import pytest

from media.synthetic import (
    AUDIO_SAMPLE_RATE,
    AUDIO_SAMPLES,
    AudioMode,
    SyntheticAudioTrack,
    SyntheticVideoTrack,
    VideoMode,
)


async def test_video_frames_are_small_moving_and_stamped_in_the_90khz_clock() -> None:
    """Video frames are 320x240, pts advance by 90000/fps, and the picture changes frame to frame."""
    track = SyntheticVideoTrack(fps=500)
    try:
        frames = [await track.recv() for _ in range(4)]
    finally:
        track.stop()
    assert {(f.width, f.height) for f in frames} == {(320, 240)}
    assert [f.pts for f in frames] == [0, 180, 360, 540]
    assert frames[0].time_base == fractions.Fraction(1, 90_000)
    pictures = [f.to_ndarray(format="bgr24") for f in frames]
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(pictures))
    assert track.frames_sent == 4


async def test_black_and_frozen_video_modes() -> None:
    """BLACK sends all-black pictures; FROZEN repeats its first picture."""
    black = SyntheticVideoTrack(fps=500, mode=VideoMode.BLACK)
    frozen = SyntheticVideoTrack(fps=500, mode=VideoMode.FROZEN)
    try:
        dark = [(await black.recv()).to_ndarray(format="bgr24") for _ in range(2)]
        stuck = [(await frozen.recv()).to_ndarray(format="bgr24") for _ in range(3)]
    finally:
        black.stop()
        frozen.stop()
    assert all(int(p.max()) <= 16 for p in dark)  # black survives the YUV round trip as ~0
    assert np.array_equal(stuck[0], stuck[1])
    assert np.array_equal(stuck[1], stuck[2])
    assert int(stuck[0].max()) > 100


def test_video_track_refuses_a_non_positive_frame_rate() -> None:
    """A frame rate of zero is a configuration error, not a division by zero later."""
    with pytest.raises(ValueError, match="fps"):
        SyntheticVideoTrack(fps=0)


async def test_audio_frames_are_20ms_of_48khz_mono_s16_with_continuous_pts() -> None:
    """Audio frames carry 960 s16 mono samples at 48 kHz; pts count samples; the tone is audible."""
    track = SyntheticAudioTrack()
    try:
        frames = [await track.recv() for _ in range(3)]
    finally:
        track.stop()
    first = frames[0]
    assert (first.samples, first.sample_rate, first.format.name) == (
        AUDIO_SAMPLES,
        AUDIO_SAMPLE_RATE,
        "s16",
    )
    assert first.layout.name == "mono"
    assert [f.pts for f in frames] == [0, 960, 1920]
    assert first.time_base == fractions.Fraction(1, 48_000)
    samples = np.concatenate([f.to_ndarray().ravel() for f in frames]).astype(np.float64)
    rms = float(np.sqrt(np.mean(samples**2)))
    assert 0.1 * 32767 < rms < 0.2 * 32767  # a 0.2-amplitude sine has RMS 0.2 / sqrt(2)
    assert int(np.max(np.abs(np.diff(samples)))) < 2000  # no click between frames


async def test_silent_audio_mode() -> None:
    """SILENCE sends frames of zero samples."""
    track = SyntheticAudioTrack(mode=AudioMode.SILENCE)
    try:
        frame = await track.recv()
    finally:
        track.stop()
    assert not frame.to_ndarray().any()
