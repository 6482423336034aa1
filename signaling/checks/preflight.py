"""Pre-flight check: "Test camera, microphone and network" on this device, and the shift rule.

A check has two halves. The server's ``MediaMonitor`` judges what the page's camera and microphone
send it for ``CAPTURE_S`` (``signaling.checks.preflight_runner``); the page then reports what it measured of
the network on that same peer connection (``getStats``: round trip, loss, selected candidate type).
``verdict`` combines the two halves into the stored result, in plain words. Everything here is
pure or takes the caller's database session and ``now``; the caller commits.

Pass = camera ``ok`` and microphone ``ok`` and a network within limits: a measured round trip of
at most ``MAX_RTT_MS`` and a measured loss of at most ``MAX_LOSS``. A value the browser could not
measure does not fail the check by itself (it is shown as "not measured"); a relayed connection
passes (it is reported: the facility's network blocks direct connections).

The shift rule: at a facility with ``require_preflight``, opening a session (technologist) and
joining one (radiologist) need a passed check by that person on that device (the id the page
keeps in localStorage) within the last ``STANDBY_PREFLIGHT_VALID_H`` hours (default 12).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from signaling.clock import iso_ms
from signaling.common.errors import PreflightRequired
from signaling.storage.models import Facility, PreflightCheck

CAPTURE_S = 3.0  # how long the server watches the page's camera and microphone
FINISH_WITHIN_S = 10.0  # the page's network report is due this soon after the media verdict
MAX_RTT_MS = 400.0  # ITU-T G.114: beyond ~200 ms each way, a conversation starts to stumble
MAX_LOSS = 0.05  # above 5 % lost packets, video breaks up and speech drops syllables
DEVICE_ID = r"^[A-Za-z0-9_-]{8,64}$"
REQUIRED_MESSAGE = "Run 'Test camera, microphone and network' on this device first"


class CheckState(StrEnum):
    RUNNING = "running"  # the server is still watching the camera and microphone
    MEDIA_JUDGED = "media_judged"  # camera and microphone judged; the page's network report is due
    COMPLETE = "complete"  # both halves in: ``passed`` is the answer
    INCOMPLETE = "incomplete"  # the page never reported its network (it left): not passed


class Camera(StrEnum):
    OK = "ok"
    BLACK = "black"
    DARK = "dark"
    FROZEN = "frozen"
    NO_VIDEO = "no_video"


class Microphone(StrEnum):
    OK = "ok"
    SILENT = "silent"
    NO_AUDIO = "no_audio"


class NetworkVerdict(StrEnum):
    OK = "ok"
    POOR = "poor"
    UNMEASURED = "unmeasured"


CAMERA_TEXT = {
    Camera.OK: "Camera: working",
    Camera.BLACK: "Camera: sends black — is the lens covered?",
    Camera.DARK: "Camera: too dark — turn on a light or move to a brighter spot",
    Camera.FROZEN: "Camera: picture frozen — close other apps using the camera, or reconnect it",
    Camera.NO_VIDEO: "Camera: no video arrived — is a camera connected and allowed for this site?",
}
MICROPHONE_TEXT = {
    Microphone.OK: "Microphone: working",
    Microphone.SILENT: "Microphone: silent — is it muted?",
    Microphone.NO_AUDIO: (
        "Microphone: no sound arrived — is a microphone connected and allowed for this site?"
    ),
}
CANDIDATES = ("host", "srflx", "prflx", "relay")


def camera_from(verdict: str | None) -> Camera:
    """The monitor's latest video verdict (``media.analysis.VideoVerdict`` value, or None)."""
    return {
        "ok": Camera.OK,
        "black": Camera.BLACK,
        "dark": Camera.DARK,
        "frozen": Camera.FROZEN,
    }.get(verdict or "", Camera.NO_VIDEO)


def microphone_from(verdict: str | None) -> Microphone:
    """The monitor's latest audio verdict (``media.analysis.AudioVerdict`` value, or None)."""
    return {"ok": Microphone.OK, "silent": Microphone.SILENT}.get(
        verdict or "", Microphone.NO_AUDIO
    )


@dataclass(frozen=True)
class Network:
    """What the page measured on the check's peer connection (None: the browser did not say)."""

    rtt_ms: float | None
    loss: float | None  # 0..1
    candidate: str | None  # the selected local candidate type: host, srflx, prflx, relay

    @property
    def relay(self) -> bool:
        return self.candidate == "relay"

    @property
    def verdict(self) -> NetworkVerdict:
        if (self.rtt_ms is not None and self.rtt_ms > MAX_RTT_MS) or (
            self.loss is not None and self.loss > MAX_LOSS
        ):
            return NetworkVerdict.POOR
        if self.rtt_ms is None and self.loss is None:
            return NetworkVerdict.UNMEASURED
        return NetworkVerdict.OK

    def text(self) -> str:
        rtt = (
            "round trip not measured" if self.rtt_ms is None else f"{self.rtt_ms:.0f} ms round trip"
        )
        loss = "loss not measured" if self.loss is None else f"{self.loss * 100:.0f}% loss"
        if self.candidate is None:
            path = "connection type unknown"
        elif self.relay:
            path = "through the relay server (a direct connection was blocked)"
        else:
            path = "direct connection (no relay needed)"
        text = f"Network: {rtt}, {loss}, {path}"
        if self.verdict is NetworkVerdict.POOR:
            text += (
                f" — too slow or lossy for live video (limits {MAX_RTT_MS:.0f} ms, "
                f"{MAX_LOSS * 100:.0f}%)"
            )
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "rtt_ms": None if self.rtt_ms is None else round(self.rtt_ms, 1),
            "loss_pct": None if self.loss is None else round(self.loss * 100, 1),
            "candidate": self.candidate,
            "relay": self.relay,
            "text": self.text(),
        }


def media_result(
    camera: Camera, microphone: Microphone, figures: dict[str, float | None] | None = None
) -> dict[str, Any]:
    """The first half of a result: what the server saw and heard (``figures``: the monitor's
    last measurements, kept for whoever has to find out why a check failed)."""
    return {
        "state": CheckState.MEDIA_JUDGED.value,
        "camera": {"verdict": camera.value, "text": CAMERA_TEXT[camera]},
        "microphone": {"verdict": microphone.value, "text": MICROPHONE_TEXT[microphone]},
        "network": None,
        "figures": figures or {},
    }


def complete(media: dict[str, Any], network: Network) -> tuple[dict[str, Any], bool]:
    """The whole result and whether it passed, from the media half and the page's network report."""
    passed = (
        media["camera"]["verdict"] == Camera.OK
        and media["microphone"]["verdict"] == Microphone.OK
        and network.verdict is not NetworkVerdict.POOR
    )
    failed = [
        what
        for what, ok in (
            ("camera", media["camera"]["verdict"] == Camera.OK),
            ("microphone", media["microphone"]["verdict"] == Microphone.OK),
            ("network", network.verdict is not NetworkVerdict.POOR),
        )
        if not ok
    ]
    summary = "Passed" if passed else f"Not passed: {', '.join(failed)}"
    result = media | {
        "state": CheckState.COMPLETE.value,
        "network": network.as_json(),
        "summary": summary,
    }
    return result, passed


def check_json(row: PreflightCheck, valid_for: timedelta, now: datetime) -> dict[str, Any]:
    """A stored check on the wire (``valid_until`` only for a passed one). A check whose network
    report never came is shown as incomplete once it is too late for one."""
    result = dict(row.result)
    late = now - row.checked_at > timedelta(seconds=CAPTURE_S + FINISH_WITHIN_S + 5)
    if late and result.get("state") in (CheckState.RUNNING, CheckState.MEDIA_JUDGED):
        result["state"] = CheckState.INCOMPLETE.value
        result.setdefault("reason", "the page did not finish the check")
    return {
        "id": row.id,
        "device_id": row.device_id,
        "device_label": row.device_label,
        "checked_at": iso_ms(row.checked_at),
        "passed": row.passed,
        "valid_until": iso_ms(row.checked_at + valid_for) if row.passed else None,
    } | result


async def latest_per_device(
    db: AsyncSession, user_id: int, limit: int = 20
) -> list[PreflightCheck]:
    """The user's most recent check on each device, newest first (at most ``limit`` devices)."""
    rows = await db.scalars(
        select(PreflightCheck)
        .where(PreflightCheck.user_id == user_id)
        .order_by(PreflightCheck.checked_at.desc(), PreflightCheck.id.desc())
        .limit(500)
    )
    latest: dict[str, PreflightCheck] = {}
    for row in rows:
        latest.setdefault(row.device_id, row)
    return list(latest.values())[:limit]


async def passed_within(
    db: AsyncSession, user_id: int, device_id: str | None, now: datetime, valid_for: timedelta
) -> PreflightCheck | None:
    """The newest passed check by ``user_id`` on ``device_id`` within ``valid_for`` before ``now``."""
    if not device_id:
        return None
    found: PreflightCheck | None = await db.scalar(
        select(PreflightCheck)
        .where(
            PreflightCheck.user_id == user_id,
            PreflightCheck.device_id == device_id,
            PreflightCheck.passed.is_(True),
            PreflightCheck.checked_at > now - valid_for,
            PreflightCheck.checked_at <= now,
        )
        .order_by(PreflightCheck.checked_at.desc())
        .limit(1)
    )
    return found


async def require(
    db: AsyncSession,
    user_id: int,
    facility: Facility,
    device_id: str | None,
    now: datetime,
    valid_for: timedelta,
) -> None:
    """Raise PreflightRequired unless ``facility`` does not require a check, or this user passed
    one on this device within ``valid_for`` (the shift)."""
    if not facility.require_preflight:
        return
    if await passed_within(db, user_id, device_id, now, valid_for) is None:
        hours = valid_for.total_seconds() / 3600
        raise PreflightRequired(
            f"{REQUIRED_MESSAGE}: {facility.name} requires a passed check on this device "
            f"within the last {hours:g} hours."
        )
