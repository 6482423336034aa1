"""The relational schema. Alembic migrations in ``signaling/storage/migrations`` create exactly this."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from paging.sqltypes import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Facility(Base):
    __tablename__ = "facilities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    # The server's own check of each page's outgoing media (issue 4); off saves the bandwidth of the
    # small copy each page sends, and client evidence alone then decides.
    monitor_media: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # A passed camera/microphone/network check on this device is required at the start of a shift.
    require_preflight: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Formulary, checklist additions, required fields, reaction card, injection rule
    # (``signaling.directory.exam_setup.ExamSetup`` as JSON; None: the defaults).
    exam_setup: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    rooms: Mapped[list[Room]] = relationship(
        back_populates="facility", order_by="Room.code", lazy="raise"
    )


class Room(Base):
    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("facility_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    modality: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    facility: Mapped[Facility] = relationship(back_populates="rooms", lazy="joined")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    credentials: Mapped[str] = mapped_column(String(80), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    mobile: Mapped[str | None] = mapped_column(String(20), nullable=True)  # E.164, SMS and voice
    max_concurrent: Mapped[int] = mapped_column(Integer, default=1)  # sessions supervised at once
    # IANA zone the person lives by (reports judge their interruptions in it); None: the zone of
    # the facility that paged them.
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OnCallSchedule(Base):
    """An on-call schedule (``paging.schedule.Schedule`` as JSON), named by escalation policies."""

    __tablename__ = "on_call_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)


class FacilityPolicy(Base):
    """A facility's escalation policy (``paging.policy.EscalationPolicy`` as JSON)."""

    __tablename__ = "facility_policies"

    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE"), primary_key=True
    )
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)


class UserFacility(Base):
    """Facilities a technologist works at (or a supervisor oversees)."""

    __tablename__ = "user_facilities"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE"), primary_key=True
    )


class License(Base):
    __tablename__ = "licenses"
    __table_args__ = (UniqueConstraint("user_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(2))
    number: Mapped[str] = mapped_column(String(60))
    expires_on: Mapped[date] = mapped_column(Date)


class Privilege(Base):
    """A radiologist credentialed and privileged at a facility."""

    __tablename__ = "privileges"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE"), primary_key=True
    )


class LoginSession(Base):
    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


UNMARKED = "state = 'ended' AND marked_at IS NULL"
OPEN = "state <> 'ended'"


class SupervisionSession(Base):
    __tablename__ = "supervision_sessions"
    __table_args__ = (
        # Every report reads a period of some facilities' requests (signaling.reports): on
        # PostgreSQL from the index alone, with the columns the aggregates need (migrations 0009,
        # 0010 for the record's and the coverage's facts, 0011 for the pager's marks).
        Index(
            "ix_supervision_sessions_facility_requested",
            "facility_id",
            "requested_at",
            postgresql_include=[
                "id",
                "state",
                "room_id",
                "radiologist_id",
                "joined_at",
                "ended_at",
                "outcome",
                "cancel_reason",
                "agent_class",
                "injected_at",
                "injection_verified",
                "documentation_required",
                "documentation_missing",
                "verified_live_s",
                "link_gap_count",
                "found_tier",
                "accepted_via",
            ],
        ),
        # Ended sessions the report marks have not reached yet (signaling.reports.marks).
        Index(
            "ix_supervision_sessions_unmarked",
            "ended_at",
            postgresql_where=text(UNMARKED),
            sqlite_where=text(UNMARKED),
        ),
        # Sessions still open, which every report counts and leaves out (a few among a year's).
        Index(
            "ix_supervision_sessions_open",
            "facility_id",
            "requested_at",
            postgresql_where=text(OPEN),
            sqlite_where=text(OPEN),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    technologist_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    radiologist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    accession_number: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), index=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    cancel_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paging_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ice_connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    technologist_media_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    radiologist_media_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    # Verified two-way live seconds and every gap (start, seconds, causes), written when it ends.
    coverage: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Two of its figures as columns, for the reports (None: never verified, or not ended yet).
    verified_live_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    link_gap_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # What the pager's rows say of it, written when it ends (signaling.reports.marks): the lowest
    # tier that paged the radiologist who joined, the channel they accepted on, and when marked.
    found_tier: Mapped[int | None] = mapped_column(Integer, nullable=True)
    accepted_via: Mapped[str | None] = mapped_column(String(10), nullable=True)
    marked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # While joined: when a socket of the session (any worker) last saw the radiologist's media live
    # (signaling.sessions.radiologist_watch); older than the re-page window, the session pages again.
    radiologist_live_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A keyed digest (HMAC-SHA256 under the service's key) of the patient identifier the
    # technologist gave, to find that patient's prior reactions; the identifier itself is not kept.
    patient_digest: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # What the record says, kept on the session for the reports (signaling.record.facts): written
    # by the record's actions as entries are written and when the session ends, never by hand.
    agent_class: Mapped[str | None] = mapped_column(String(20), nullable=True)  # of the exam
    injected_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    injection_verified: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # Documentation completeness: how many required fields applied, how many of them are missing
    # (None: not scored yet).
    documentation_required: Mapped[int | None] = mapped_column(Integer, nullable=True)
    documentation_missing: Mapped[int | None] = mapped_column(Integer, nullable=True)

    facility: Mapped[Facility] = relationship(lazy="joined")
    room: Mapped[Room] = relationship(lazy="joined")
    technologist: Mapped[User] = relationship(foreign_keys=[technologist_id], lazy="joined")
    radiologist: Mapped[User | None] = relationship(foreign_keys=[radiologist_id], lazy="joined")
    ended_by: Mapped[User | None] = relationship(foreign_keys=[ended_by_id], lazy="joined")
    accepts: Mapped[list[SessionAccept]] = relationship(
        order_by="SessionAccept.accepted_at", lazy="selectin", viewonly=True
    )
    repages: Mapped[list[SessionRepage]] = relationship(
        order_by="SessionRepage.id", lazy="selectin", viewonly=True
    )


class RecordReaction(Base):
    """One contrast reaction as the session's record reads now (amendments and later findings
    applied), kept for the reports by ``signaling.record.facts``; the record's entries stay the
    source, and these rows are written again from them whenever the record changes."""

    __tablename__ = "record_reactions"

    # The entry that opened the reaction (its number in the record).
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("session_events.id", ondelete="CASCADE"), primary_key=True
    )
    session_id: Mapped[str] = mapped_column(
        ForeignKey("supervision_sessions.id", ondelete="CASCADE"), index=True
    )
    onset_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reaction_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    severity: Mapped[str | None] = mapped_column(String(10), nullable=True)
    # Premedicated (on the reaction or, failing that, on the exam): a reaction despite it is a
    # breakthrough.
    premedicated: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # The radiologist's first action on it, stamped by the server.
    intervened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SessionAccept(Base):
    """A radiologist's accept (console, SMS reply, keypress): a promise to join, not a join.

    Several radiologists may accept one request; each accept holds further tiers for the grace
    window. The first to *join* takes the session (``SupervisionSession.radiologist_id``); the other
    accepts are then superseded. ``ended_at`` is set when the accept is released or superseded.
    """

    __tablename__ = "session_accepts"
    __table_args__ = (
        UniqueConstraint("session_id", "user_id"),
        # Reports read a period's accepts by time, or a few sessions' by session
        # (signaling.reports.scoped, paging_figures).
        Index(
            "ix_session_accepts_accepted_at",
            "accepted_at",
            postgresql_include=["session_id", "user_id", "via", "end_reason", "paged_at"],
        ),
        Index(
            "ix_session_accepts_session_id",
            "session_id",
            postgresql_include=["user_id", "via", "accepted_at", "end_reason", "paged_at"],
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("supervision_sessions.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    via: Mapped[str] = mapped_column(String(10))  # web, sms, voice
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The first page sent to this person for the session on the channel the accept came through
    # (in-app for the console), before the accept: page-to-accept without a join at report time.
    paged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    user: Mapped[User] = relationship(lazy="joined")


class SessionRepage(Base):
    """Paging started again for a joined (or taken) session: the radiologist's media gone past the
    window, or the session handed back. The join that answers it (``radiologist_id``, ``joined_at``)
    is filled in when the session is joined again; the first join of the session stays on the
    session (``SupervisionSession.joined_at``)."""

    __tablename__ = "session_repages"
    # The reports read a period's re-pages by time (written in time order: BRIN on PostgreSQL).
    __table_args__ = (
        Index("ix_session_repages_repaged_at", "repaged_at", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("supervision_sessions.id", ondelete="CASCADE"), index=True
    )
    repaged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(20))  # media_lost, handed_back
    detail: Mapped[str | None] = mapped_column(String(200), nullable=True)
    radiologist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    radiologist: Mapped[User | None] = relationship(lazy="joined")


class SessionEvent(Base):
    """Append-only log of a supervision session: every state transition (``kind`` = transition) and
    every milestone (accepted, released, ice_connected, media_verified), with who and when."""

    __tablename__ = "session_events"
    __table_args__ = (
        UniqueConstraint("session_id", "seq"),
        # The sealer's "what is not sealed yet", every half second: a few rows, never a scan.
        Index(
            "ix_session_events_unsealed",
            "session_id",
            postgresql_where=text("digest IS NULL"),
            sqlite_where=text("digest IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("supervision_sessions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # What an exam-record entry says (signaling.record): exam, checklist, injection, reaction, ...
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Its place in the session's hash chain, set by the sealer (signaling.record.chain) within a
    # second of the write: None until then.
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ReportFacts(Base):
    """The latency facts of one facility's ended sessions requested on one UTC day, packed one
    fixed-width record per session (``signaling.reports.latency_facts``), so a year of a large
    service is read as 18,000 rows instead of a million sessions. PostgreSQL only: appended when
    a session ends (its marks' transaction); SQLite's reports read the sessions themselves."""

    __tablename__ = "report_facts"

    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # of requested_at, UTC
    sessions: Mapped[int] = mapped_column(Integer)
    facts: Mapped[bytes] = mapped_column(LargeBinary)


class RecordChain(Base):
    """The head of one session's hash chain: how many entries are sealed and the last digest, so a
    removed tail is noticed too."""

    __tablename__ = "record_chains"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("supervision_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    length: Mapped[int] = mapped_column(Integer, default=0)
    head: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PreflightCheck(Base):
    """One run of "Test camera, microphone and network" by one user on one device (issue 4)."""

    __tablename__ = "preflight_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(String(64))  # random id the browser keeps
    device_label: Mapped[str] = mapped_column(String(200), default="")
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    passed: Mapped[bool] = mapped_column(Boolean)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
