"""The running half of pre-flight checks: one ``MediaMonitor`` per check, on this worker.

``start`` answers the page's offer from a new monitor and stores the check as ``running``; after
``CAPTURE_S`` a task of the runner's own stores what the monitor saw and heard and closes the
monitor, whether or not the page is still there (so no monitor outlives its check by more than a
moment). ``finish`` takes the page's network report and completes the stored result. It may
arrive at any worker: it reads the media half from the database, waiting for this worker's own
capture task when the check runs here, or polling briefly when it runs on another worker.

Limits: one running check per user on a worker (a new start abandons the previous one: a reloaded
page never waits for its own old check), at most ``max_running`` per worker (503 beyond), and the
network report is taken only within ``FINISH_WITHIN_S`` of the media verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from media.candidates import NoUsableCandidate as NoCandidateLeft
from media.candidates import allowed_peers, screen_offer
from media.monitor import Evidence, Kind, MediaMonitor, MonitorError, offered_kinds
from signaling.checks.preflight import (
    CAPTURE_S,
    FINISH_WITHIN_S,
    CheckState,
    Network,
    camera_from,
    complete,
    media_result,
    microphone_from,
)
from signaling.clock import utc_now
from signaling.common.errors import Busy, Conflict, InvalidInput, NotFound, NoUsableCandidate
from signaling.storage.database import SessionFactory
from signaling.storage.models import PreflightCheck

log = logging.getLogger(__name__)

SAMPLE_INTERVAL = 0.5  # twice the live monitor's rate: a frozen picture shows within the capture
POLL_S = 0.1  # a check running on another worker: how often ``finish`` looks at the database


@dataclass
class _Running:
    check_id: int
    user_id: int
    monitor: MediaMonitor
    task: asyncio.Task[None] | None = None


class PreflightRunner:
    """The checks this worker is running. ``db`` stores them; ``capture_s`` is how long each
    monitor watches; ``max_running`` caps the monitors open at once; ``relay_only``: the
    monitors send connectivity checks to the TURN relay only, not to the page's address."""

    def __init__(
        self,
        db: SessionFactory,
        *,
        max_running: int,
        capture_s: float = CAPTURE_S,
        relay_only: bool = False,
    ) -> None:
        self._db = db
        self._relay_only = relay_only
        self._max_running = max_running
        self._capture_s = capture_s
        self._running: dict[int, _Running] = {}
        self._closed = False

    @property
    def capture_s(self) -> float:
        return self._capture_s

    @property
    def running(self) -> int:
        """Monitors open now (for tests and health)."""
        return len(self._running)

    async def start(
        self,
        user_id: int,
        device_id: str,
        device_label: str,
        offer_sdp: str,
        ice_servers: Sequence[Mapping[str, Any]],
        client: str | None,
    ) -> tuple[int, str]:
        """Answer the page's offer, which came from ``client``, from a new monitor; returns the
        check id and the answer SDP. ``NoUsableCandidate`` (nothing stored, a running check left
        running) when no candidate of the offer is at ``client`` or the TURN relay."""
        if self._closed:
            raise Busy("the server is shutting down; try again in a moment")
        try:
            kinds = offered_kinds(offer_sdp)
        except MonitorError as exc:
            raise InvalidInput(f"sdp: {exc}") from None
        allowed = await allowed_peers(client, ice_servers, relay_only=self._relay_only)
        try:
            screen_offer(offer_sdp, allowed).require_usable()
        except NoCandidateLeft as exc:
            raise NoUsableCandidate(f"sdp: {exc}") from None
        for previous in [r for r in self._running.values() if r.user_id == user_id]:
            await self._abandon(previous, "replaced by a newer check")
        if len(self._running) >= self._max_running:
            raise Busy(
                f"this server is running {len(self._running)} checks already; "
                "try again in a few seconds"
            )
        started = utc_now()
        async with self._db() as db, db.begin():
            row = PreflightCheck(
                user_id=user_id,
                device_id=device_id,
                device_label=device_label,
                checked_at=started,
                passed=False,
                result={"state": CheckState.RUNNING.value, "sends": sorted(kinds)},
            )
            db.add(row)
            await db.flush()
            check_id = row.id
        monitor = MediaMonitor(
            ice_servers=ice_servers, sample_interval=SAMPLE_INTERVAL, label=f"preflight-{check_id}"
        )
        running = _Running(check_id, user_id, monitor)
        self._running[check_id] = running
        try:
            answer = await monitor.accept_offer(offer_sdp, allowed)
        except MonitorError as exc:
            await self._abandon(running, "the offer could not be answered")
            raise InvalidInput(f"sdp: {exc}") from None
        running.task = asyncio.create_task(
            self._capture(running, time.monotonic()), name=f"preflight-{check_id}"
        )
        log.info("preflight %s: started for user %s", check_id, user_id)
        return check_id, answer

    async def _capture(self, running: _Running, answered_at: float) -> None:
        """Watch for ``capture_s``, close the monitor, store what it saw and heard."""
        try:
            await asyncio.sleep(max(0.0, answered_at + self._capture_s - time.monotonic()))
            verdicts = running.monitor.verdicts()
            video, audio = running.monitor.latest(Kind.VIDEO), running.monitor.latest(Kind.AUDIO)
        finally:
            await running.monitor.close()
            self._running.pop(running.check_id, None)
        camera = camera_from(verdicts.get(Kind.VIDEO))
        microphone = microphone_from(verdicts.get(Kind.AUDIO))
        async with self._db() as db, db.begin():
            row = await db.get(PreflightCheck, running.check_id)
            if row is not None:
                row.result = media_result(camera, microphone, _figures(video, audio))
                row.checked_at = utc_now()
        log.info("preflight %s: camera %s, microphone %s", running.check_id, camera, microphone)

    async def _abandon(self, running: _Running, why: str) -> None:
        self._running.pop(running.check_id, None)
        if running.task is not None:
            running.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running.task
        await running.monitor.close()
        async with self._db() as db, db.begin():
            row = await db.get(PreflightCheck, running.check_id)
            if row is not None:
                row.result = {"state": CheckState.INCOMPLETE.value, "reason": why}
        log.info("preflight %s: abandoned (%s)", running.check_id, why)

    async def finish(self, user_id: int, check_id: int, network: Network) -> PreflightCheck:
        """Complete the check with the page's network report; the stored row. NotFound for a
        check that is not this user's; Conflict once it is complete, abandoned or too late."""
        deadline = time.monotonic() + self._capture_s + FINISH_WITHIN_S
        while True:
            running = self._running.get(check_id)
            if running is not None and running.user_id == user_id and running.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(running.task)
            async with self._db() as db, db.begin():
                row = await db.get(PreflightCheck, check_id)
                if row is None or row.user_id != user_id:
                    raise NotFound(f"no pre-flight check {check_id} of yours")
                state = CheckState(str(row.result.get("state")))
                if state is CheckState.MEDIA_JUDGED:
                    now = utc_now()
                    if now - row.checked_at > timedelta(seconds=FINISH_WITHIN_S):
                        raise Conflict("this check ran out of time; run it again")
                    row.result, row.passed = complete(row.result, network)
                    row.checked_at = now
                    await db.flush()
                    log.info("preflight %s: passed=%s", check_id, row.passed)
                    return row
            if state is not CheckState.RUNNING:
                raise Conflict(f"expected a check waiting for its network report, got {state}")
            if time.monotonic() > deadline:
                raise Conflict("the check's camera and microphone verdict never came; run it again")
            await asyncio.sleep(POLL_S)

    async def close(self) -> None:
        """Stop every running check (the worker is shutting down)."""
        self._closed = True
        for running in list(self._running.values()):
            await self._abandon(running, "the server shut down")


def _figures(video: Evidence | None, audio: Evidence | None) -> dict[str, float | None]:
    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "video_fps": rounded(video.frame_rate) if video else None,
        "luminance": rounded(video.luminance) if video else None,
        "contrast": rounded(video.contrast) if video else None,
        "difference": rounded(video.difference) if video else None,
        "audio_rms_dbfs": rounded(audio.rms_dbfs) if audio else None,
    }
