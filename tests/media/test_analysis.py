"""Black, dark, frozen and silent media, told apart from pictures and sounds a camera can send."""

from __future__ import annotations

import fractions
import time

import av
import cv2
import numpy as np
import pytest
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload

from media.analysis import (
    DBFS_FLOOR,
    FROZEN_MAX_DIFFERENCE,
    AudioVerdict,
    VideoJudge,
    VideoVerdict,
    judge_audio,
    video_verdict,
)
from media.synthetic import SyntheticVideoTrack

HEIGHT, WIDTH = 240, 320
RATE = 48_000


def scene(seed: int = 7, low: int = 30, high: int = 220) -> np.ndarray:
    """A still BGR scene with soft shapes of every brightness between ``low`` and ``high``."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    blurred: np.ndarray = cv2.GaussianBlur(noise, (31, 31), 0).astype(np.float32)
    spread = (blurred - blurred.min()) / (blurred.max() - blurred.min())
    picture: np.ndarray = np.rint(low + spread * (high - low)).astype(np.uint8)
    return picture


def with_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``image`` as a sensor sees it: independent Gaussian noise on every pixel."""
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def through_vp8(images: list[np.ndarray], fps: float = 1.0) -> list[np.ndarray]:
    """``images`` encoded with aiortc's VP8 encoder and decoded again, as gray pictures."""
    encoder, decoder = Vp8Encoder(), av.CodecContext.create("libvpx", "r")
    decoded: list[np.ndarray] = []
    for i, image in enumerate(images):
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = round(i * 90_000 / fps), fractions.Fraction(1, 90_000)
        payloads, _ = encoder.encode(frame, force_keyframe=i == 0)
        packet = av.Packet(b"".join(vp8_depayload(p) for p in payloads))
        decoded.extend(f.to_ndarray(format="gray") for f in decoder.decode(packet))
    return decoded


# --- pictures -----------------------------------------------------------------------------------


def test_black_picture_is_black() -> None:
    """An all-black frame (a dead camera) is BLACK, with luminance and contrast 0."""
    reading = VideoJudge().judge(np.zeros((HEIGHT, WIDTH, 3), np.uint8))
    assert reading.verdict is VideoVerdict.BLACK
    assert (reading.luminance, reading.contrast, reading.difference) == (0.0, 0.0, None)


def test_covered_lens_with_sensor_noise_is_black() -> None:
    """A hand over the lens: a little light and noise but no structure, still BLACK."""
    rng = np.random.default_rng(1)
    covered = with_noise(np.full((HEIGHT, WIDTH), 8, np.uint8), 2.0, rng)
    reading = VideoJudge().judge(covered)
    assert reading.verdict is VideoVerdict.BLACK
    assert 5 < reading.luminance < 12


def test_dark_picture_with_detail_is_dark_not_black() -> None:
    """A dim room that still shows shapes is DARK: low mean luminance, but real contrast."""
    track = SyntheticVideoTrack()
    try:
        dim = (track.draw(0).astype(np.float32) * 0.2).astype(np.uint8)  # a fifth of the light
    finally:
        track.stop()
    reading = VideoJudge().judge(dim)
    assert reading.verdict is VideoVerdict.DARK, reading
    assert reading.luminance < 40
    assert reading.contrast > 6


def test_well_lit_scene_is_ok() -> None:
    """A normally exposed picture is OK on its own."""
    assert VideoJudge().judge(scene()).verdict is VideoVerdict.OK


def test_exactly_repeated_picture_is_frozen_on_the_third_sample() -> None:
    """The same picture three samples running (two still pairs, ~2 s) is FROZEN; two are not yet."""
    judge, picture = VideoJudge(), scene()
    first, second, third = (judge.judge(picture) for _ in range(3))
    assert (first.verdict, first.difference) == (VideoVerdict.OK, None)
    assert (second.verdict, second.difference, second.still) == (VideoVerdict.OK, 0.0, 1)
    assert (third.verdict, third.still) == (VideoVerdict.FROZEN, 2)


def test_static_scene_with_sensor_noise_is_not_frozen() -> None:
    """A live camera on a still room: noise of 2 grey levels keeps every pair above the threshold."""
    rng, still = np.random.default_rng(2), scene()
    judge = VideoJudge()
    readings = [judge.judge(with_noise(still, 2.0, rng)) for _ in range(6)]
    assert [r.verdict for r in readings] == [VideoVerdict.OK] * 6
    differences = [r.difference for r in readings[1:]]
    assert all(d is not None and d > 2 * FROZEN_MAX_DIFFERENCE for d in differences), differences


def test_moving_synthetic_pattern_is_ok_at_one_sample_a_second() -> None:
    """media.synthetic's pattern at 15 fps, sampled once a second, is OK all along."""
    track = SyntheticVideoTrack(fps=15)
    try:
        pictures = [track.draw(index) for index in range(0, 15 * 8, 15)]
    finally:
        track.stop()
    judge = VideoJudge()
    readings = [judge.judge(p) for p in pictures]
    assert {r.verdict for r in readings} == {VideoVerdict.OK}
    assert all(r.difference is not None and r.difference > 0.5 for r in readings[1:])


def test_a_moment_of_stillness_then_movement_is_not_frozen() -> None:
    """One still pair resets as soon as the picture changes again."""
    track = SyntheticVideoTrack()
    try:
        a, b = track.draw(0), track.draw(10)
    finally:
        track.stop()
    assert video_verdict([a, a, b, b]) is VideoVerdict.OK
    assert video_verdict([a, a, b, b, b]) is VideoVerdict.FROZEN


def test_black_outranks_frozen() -> None:
    """A black picture repeated is reported BLACK (the more useful cause), while still counting."""
    judge, black = VideoJudge(), np.zeros((HEIGHT, WIDTH), np.uint8)
    readings = [judge.judge(black) for _ in range(4)]
    assert readings[-1].verdict is VideoVerdict.BLACK
    assert readings[-1].still == 3


def test_restart_forgets_the_previous_picture() -> None:
    """After restart() a repeated picture needs two fresh still pairs again."""
    judge, picture = VideoJudge(), scene()
    judge.judge(picture)
    judge.judge(picture)
    judge.restart()
    assert judge.judge(picture).difference is None
    assert judge.judge(picture).verdict is VideoVerdict.OK
    assert judge.judge(picture).verdict is VideoVerdict.FROZEN


def test_gray_and_bgr_pictures_measure_alike() -> None:
    """A decoded gray plane and the BGR picture it came from give the same luminance."""
    bgr = scene()
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    assert VideoJudge().judge(bgr) == VideoJudge().judge(gray)


def test_a_change_of_picture_size_starts_a_new_sequence() -> None:
    """Pictures of a new size (the browser rescaled) are compared from scratch, not failed."""
    judge = VideoJudge()
    judge.judge(scene())
    assert judge.judge(cv2.resize(scene(), (160, 120))).difference is not None  # same thumbnail


@pytest.mark.parametrize(
    ("picture", "message"),
    [
        (np.zeros((4, 4), np.float32), "uint8"),
        (np.zeros((4, 4, 4), np.uint8), "shape"),
    ],
)
def test_pictures_of_the_wrong_kind_are_refused(picture: np.ndarray, message: str) -> None:
    """Float pictures and four-channel pictures are a caller's mistake, named in the error."""
    with pytest.raises(ValueError, match=message):
        VideoJudge().judge(picture)


def test_video_verdict_needs_a_picture() -> None:
    """An empty sequence has no verdict."""
    with pytest.raises(ValueError, match="at least one"):
        video_verdict([])


def test_through_vp8_a_repeated_picture_freezes_and_a_noisy_still_scene_does_not() -> None:
    """After a real VP8 round trip at 1 fps: a repeated detailed picture is FROZEN within 5 s,
    a still scene with sensor noise of 2 grey levels never is (the thresholds' reason to be)."""
    rng, still = np.random.default_rng(3), scene()
    repeated = through_vp8([still] * 6)
    noisy = through_vp8([with_noise(still, 2.0, rng) for _ in range(8)])
    judge = VideoJudge()
    assert VideoVerdict.FROZEN in [judge.judge(p).verdict for p in repeated]
    judge = VideoJudge()
    readings = [judge.judge(p) for p in noisy]
    assert {r.verdict for r in readings} == {VideoVerdict.OK}, [r.difference for r in readings]


def test_judging_a_picture_is_fast() -> None:
    """A 320x240 picture is judged in well under a millisecond on average (it runs per session)."""
    judge, pictures = VideoJudge(), [scene(seed) for seed in range(4)]
    started = time.perf_counter()
    for i in range(200):
        judge.judge(pictures[i % 4])
    per_picture = (time.perf_counter() - started) / 200
    assert per_picture < 0.002, f"{per_picture * 1000:.2f} ms per picture"


# --- sound --------------------------------------------------------------------------------------


def tone(amplitude: float = 0.2, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * 440 * t) * amplitude * 32767).astype(np.int16)


def test_tone_is_ok_at_its_level() -> None:
    """A 0.2-amplitude sine reads -17 dBFS RMS (0.2 / sqrt 2) and -14 dBFS peak."""
    reading = judge_audio(tone())
    assert reading.verdict is AudioVerdict.OK
    assert reading.rms_dbfs == pytest.approx(-17.0, abs=0.1)
    assert reading.peak_dbfs == pytest.approx(-14.0, abs=0.1)
    assert reading.samples == RATE


def test_digital_silence_is_silent() -> None:
    """A muted microphone's zeros are SILENT, read at the floor rather than -inf."""
    reading = judge_audio(np.zeros((1, 1920), np.int16))
    assert reading.verdict is AudioVerdict.SILENT
    assert reading.rms_dbfs == reading.peak_dbfs == DBFS_FLOOR


def test_one_bit_dither_is_silent() -> None:
    """A dither of the least significant bit (about -92 dBFS) is still a dead microphone."""
    rng = np.random.default_rng(4)
    reading = judge_audio(rng.integers(-1, 2, RATE).astype(np.int16))
    assert reading.verdict is AudioVerdict.SILENT
    assert -100 < reading.rms_dbfs < -85


def test_a_quiet_rooms_noise_floor_is_ok() -> None:
    """A live microphone in a quiet room (white noise at -65 dBFS) is sound, not silence."""
    rng = np.random.default_rng(5)
    floor = rng.normal(0.0, 10 ** (-65 / 20) * 32767, RATE).astype(np.int16)
    reading = judge_audio(floor)
    assert reading.verdict is AudioVerdict.OK
    assert reading.rms_dbfs == pytest.approx(-65, abs=1)


def test_one_click_in_a_silent_window_is_sound() -> None:
    """The peak counts too: a single loud sample in zeros is not silence."""
    samples = np.zeros(RATE, np.int16)
    samples[100] = 3000
    assert judge_audio(samples).verdict is AudioVerdict.OK


def test_interleaved_stereo_and_float_samples() -> None:
    """Decoded Opus (interleaved s16 stereo, shape (1, 2n)) and float planar frames read alike."""
    mono = tone()
    stereo = np.repeat(mono, 2).reshape(1, -1)
    planar = (np.vstack([mono, mono]).astype(np.float32)) / 32768
    levels = [judge_audio(x).rms_dbfs for x in (mono, stereo, planar)]
    assert levels == pytest.approx([levels[0]] * 3, abs=0.01)


@pytest.mark.parametrize(
    ("samples", "message"),
    [(np.zeros(0, np.int16), "at least one"), (np.zeros(4, np.uint8), "signed")],
)
def test_sound_of_the_wrong_kind_is_refused(samples: np.ndarray, message: str) -> None:
    """No samples, or unsigned samples, are a caller's mistake."""
    with pytest.raises(ValueError, match=message):
        judge_audio(samples)
