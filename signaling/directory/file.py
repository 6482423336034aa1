"""The directory file an operator loads with ``standby load-directory``: its schema and its loader.

The file is authoritative for what it names: facilities and rooms are created or updated by ``code``,
users by ``username``; a named user's roles, facilities, licenses and privileges are replaced by the
file's. Nothing the file does not name is deleted. A password in the file is set only when the user is
created (so re-loading never resets a password a person has since changed); ``active: false`` ends
the user's open logins. Loading is one transaction: a file with any error changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from paging.policy import EscalationPolicy, TargetKind, default_policy
from paging.schedule import Schedule, iana_timezone
from signaling.accounts import logins
from signaling.accounts.passwords import hash_password
from signaling.accounts.roles import Role
from signaling.clock import utc_now
from signaling.common.errors import InvalidInput
from signaling.directory.exam_setup import ExamSetup
from signaling.storage.models import (
    Facility,
    FacilityPolicy,
    License,
    OnCallSchedule,
    Privilege,
    Room,
    User,
    UserFacility,
    UserRole,
)

US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
        "GU",
        "VI",
        "AS",
        "MP",
    ]
)
MODALITIES = frozenset({"CT", "MR"})
CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _us_state(value: str) -> str:
    value = value.strip().upper()
    if value not in US_STATES:
        raise ValueError(f"expected a two-letter US state or territory code, got {value!r}")
    return value


class RoomSpec(_Strict):
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    modality: str

    @field_validator("modality")
    @classmethod
    def _modality(cls, value: str) -> str:
        value = {"MRI": "MR"}.get(value.strip().upper(), value.strip().upper())
        if value not in MODALITIES:
            raise ValueError(f"expected modality CT or MR, got {value!r}")
        return value


class PagingShorthand(_Strict):
    """``paging: {primary: SCHEDULE, backup: SCHEDULE}``: the default T+0 / T+10 s / T+20 s policy."""

    primary: str | None = None
    backup: str | None = None


class FacilitySpec(_Strict):
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    state: str
    timezone: str
    rooms: list[RoomSpec] = []
    # The server's check of each page's outgoing camera and microphone (issue 4). Off saves the
    # bandwidth of the small copy each page sends; client evidence alone then decides.
    monitor_media: bool = True
    paging: PagingShorthand | None = None
    escalation: EscalationPolicy | None = None
    require_preflight: bool = False  # a passed pre-flight check per device and shift
    # Formulary, checklist additions, required fields, reaction card, injection rule (issue 10);
    # None: keep what is stored.
    exam_setup: ExamSetup | None = None

    def policy(self) -> EscalationPolicy | None:
        """The facility's escalation policy as the file gives it (None: keep what is stored)."""
        if self.escalation is not None:
            return self.escalation
        if self.paging is not None:
            return default_policy(self.paging.primary, self.paging.backup)
        return None

    _state = field_validator("state")(_us_state)

    _timezone = field_validator("timezone")(iana_timezone)

    @field_validator("exam_setup", mode="wrap")
    @classmethod
    def _exam_setup_names_the_facility(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> ExamSetup | None:
        # The operator reads "facility NORTH: exam_setup.formulary.1.agent_class: ...", not only
        # "facilities.0.exam_setup...", in the CLI and in the admin API's 422 alike.
        try:
            setup: ExamSetup | None = handler(value)
        except ValidationError as exc:
            code = info.data.get("code", "(without a valid code)")
            raise ValueError(f"facility {code}: {problems(exc, 'exam_setup')}") from exc
        return setup

    @model_validator(mode="after")
    def _one_way_to_say_policy(self) -> FacilitySpec:
        if self.paging is not None and self.escalation is not None:
            raise ValueError(f"facility {self.code}: give either paging or escalation, not both")
        return self

    @model_validator(mode="after")
    def _unique_rooms(self) -> FacilitySpec:
        codes = [room.code for room in self.rooms]
        if len(codes) != len(set(codes)):
            raise ValueError(f"facility {self.code}: room codes repeat")
        return self


class LicenseSpec(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    state: str
    number: str = Field(min_length=1, max_length=60)
    expires: date

    _state = field_validator("state")(_us_state)


class UserSpec(_Strict):
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9_.@-]{1,79}$")
    full_name: str = Field(min_length=1, max_length=200)
    credentials: str = Field(default="", max_length=80)
    roles: list[Role] = Field(min_length=1)
    facilities: list[str] = []
    licenses: list[LicenseSpec] = []
    privileges: list[str] = []
    password: str | None = None
    active: bool = True
    mobile: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{7,14}$", description="E.164")
    max_concurrent: int = Field(default=1, ge=1, le=20, description="sessions supervised at once")
    # The zone the person lives by: reports judge the pages that woke them in it (None: the zone
    # of the facility that paged them).
    timezone: str | None = Field(default=None, max_length=64, description="IANA time zone")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else iana_timezone(value)

    @model_validator(mode="after")
    def _clinical_facts_fit_roles(self) -> UserSpec:
        if (self.licenses or self.privileges) and Role.RADIOLOGIST not in self.roles:
            raise ValueError(f"user {self.username}: licenses and privileges are for radiologists")
        states = [lic.state for lic in self.licenses]
        if len(states) != len(set(states)):
            raise ValueError(f"user {self.username}: one license per state")
        return self


class DirectoryFile(_Strict):
    facilities: list[FacilitySpec] = []
    users: list[UserSpec] = []
    schedules: list[Schedule] = []

    @model_validator(mode="after")
    def _unique_codes(self) -> DirectoryFile:
        for kind, codes in (
            ("facility code", [f.code for f in self.facilities]),
            ("username", [u.username for u in self.users]),
            ("schedule code", [sch.code for sch in self.schedules]),
        ):
            repeated = sorted({c for c in codes if codes.count(c) > 1})
            if repeated:
                raise ValueError(f"{kind}s repeat: {', '.join(repeated)}")
        return self


@dataclass
class LoadReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    # user id -> the logins disabling that user ended (their sockets are to be closed)
    ended_logins: dict[int, list[int]] = field(default_factory=dict)

    def count(self, kind: str, created: bool) -> None:
        target = self.created if created else self.updated
        target[kind] = target.get(kind, 0) + 1

    def summary(self) -> str:
        parts = [f"{n} {k} created" for k, n in sorted(self.created.items())]
        parts += [f"{n} {k} updated" for k, n in sorted(self.updated.items())]
        return ", ".join(parts) or "nothing to change"


def problems(exc: ValidationError, prefix: str = "") -> str:
    """Each error of ``exc`` as ``path.to.field: what is wrong``, joined by "; "."""
    return "; ".join(
        f"{'.'.join(str(p) for p in (prefix, *err['loc']) if p != '') or '(top)'}: {_message(err)}"
        for err in exc.errors()
    )


def _message(err: ErrorDetails) -> str:
    # A validator's own words, without pydantic's "Value error, " in front.
    if err["type"] == "value_error" and "error" in err.get("ctx", {}):
        return str(err["ctx"]["error"])
    return err["msg"]


def parse_directory(text: str, source: str = "directory") -> DirectoryFile:
    """Parse YAML or JSON text into a validated directory, or raise InvalidInput naming the problem."""
    try:
        data: Any = (
            json.loads(text) if text.lstrip().startswith(("{", "[")) else yaml.safe_load(text)
        )
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{source}: not valid YAML or JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: expected a mapping with 'facilities' and 'users'")
    try:
        return DirectoryFile.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"{source}: {problems(exc)}") from exc


def read_directory(path: Path) -> DirectoryFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read directory file {path}: {exc.strerror}") from exc
    return parse_directory(text, source=str(path))


async def load_directory(db: AsyncSession, directory: DirectoryFile) -> LoadReport:
    """Apply ``directory`` inside the caller's transaction (the caller commits)."""
    report = LoadReport()
    facilities = {f.code: f for f in (await db.scalars(select(Facility))).all()}
    for spec in directory.facilities:
        facility = facilities.get(spec.code)
        report.count("facilities", created=facility is None)
        if facility is None:
            facility = Facility(code=spec.code)
            db.add(facility)
            facilities[spec.code] = facility
        facility.name, facility.state, facility.timezone = spec.name, spec.state, spec.timezone
        facility.require_preflight = spec.require_preflight
        facility.monitor_media = spec.monitor_media
        if spec.exam_setup is not None:
            facility.exam_setup = spec.exam_setup.model_dump(mode="json")
        await db.flush()
        rooms = {
            r.code: r for r in (await db.scalars(select(Room).filter_by(facility_id=facility.id)))
        }
        for room_spec in spec.rooms:
            room = rooms.get(room_spec.code)
            report.count("rooms", created=room is None)
            if room is None:
                room = Room(facility_id=facility.id, code=room_spec.code)
                db.add(room)
            room.name, room.modality, room.active = room_spec.name, room_spec.modality, True

    users = {u.username: u for u in (await db.scalars(select(User))).all()}
    for user_spec in directory.users:
        unknown = sorted(set(user_spec.facilities + user_spec.privileges) - facilities.keys())
        if unknown:
            raise InvalidInput(
                f"user {user_spec.username}: unknown facility codes {', '.join(unknown)}"
            )
        user = users.get(user_spec.username)
        report.count("users", created=user is None)
        if user is None:
            user = User(username=user_spec.username, created_at=utc_now())
            user.password_hash = hash_password(user_spec.password) if user_spec.password else None
            db.add(user)
        if user.id is not None and user.active and not user_spec.active:
            # Disabling ends open logins, as `standby user disable` does: re-enabling later must
            # not bring back a cookie from before.
            report.ended_logins[user.id] = await logins.revoke_all(db, user.id, utc_now())
        user.full_name, user.credentials, user.active = (
            user_spec.full_name,
            user_spec.credentials,
            user_spec.active,
        )
        user.mobile, user.max_concurrent = user_spec.mobile, user_spec.max_concurrent
        user.timezone = user_spec.timezone
        await db.flush()
        for table in (UserRole, UserFacility, License, Privilege):
            await db.execute(delete(table).where(table.user_id == user.id))
        db.add_all(UserRole(user_id=user.id, role=role.value) for role in set(user_spec.roles))
        db.add_all(
            UserFacility(user_id=user.id, facility_id=facilities[code].id)
            for code in set(user_spec.facilities)
        )
        db.add_all(
            Privilege(user_id=user.id, facility_id=facilities[code].id)
            for code in set(user_spec.privileges)
        )
        db.add_all(
            License(user_id=user.id, state=lic.state, number=lic.number, expires_on=lic.expires)
            for lic in user_spec.licenses
        )
    await db.flush()
    await _load_schedules_and_policies(db, directory, facilities, users, report)
    await db.flush()
    return report


async def _load_schedules_and_policies(
    db: AsyncSession,
    directory: DirectoryFile,
    facilities: dict[str, Facility],
    users: dict[str, User],
    report: LoadReport,
) -> None:
    known_users = set(users) | {u.username for u in directory.users}
    stored = {sch.code: sch for sch in (await db.scalars(select(OnCallSchedule))).all()}
    for schedule in directory.schedules:
        people = {p for rotation in schedule.rotations for p in rotation.participants}
        people |= {o.user for o in schedule.overrides} | {
            o.replaces for o in schedule.overrides if o.replaces
        }
        unknown = sorted(people - known_users)
        if unknown:
            raise InvalidInput(f"schedule {schedule.code}: unknown usernames {', '.join(unknown)}")
        missing = sorted(set(schedule.facilities) - facilities.keys())
        if missing:
            raise InvalidInput(
                f"schedule {schedule.code}: unknown facility codes {', '.join(missing)}"
            )
        row = stored.get(schedule.code)
        report.count("schedules", created=row is None)
        if row is None:
            row = OnCallSchedule(code=schedule.code)
            db.add(row)
            stored[schedule.code] = row
        row.definition = schedule.model_dump(mode="json")
    for spec in directory.facilities:
        policy = spec.policy()
        if policy is None:
            continue
        named = {
            t.schedule
            for tier in policy.tiers
            for t in tier.targets
            if t.kind is TargetKind.SCHEDULE
        }
        unknown = sorted(name for name in named if name and name not in stored)
        if unknown:
            raise InvalidInput(
                f"facility {spec.code}: its policy names unknown schedules {', '.join(unknown)}"
            )
        named_users = {u for tier in policy.tiers for t in tier.targets for u in t.users}
        strangers = sorted(named_users - known_users)
        if strangers:
            raise InvalidInput(
                f"facility {spec.code}: its policy names unknown users {', '.join(strangers)}"
            )
        facility = facilities[spec.code]
        row_policy = await db.get(FacilityPolicy, facility.id)
        report.count("policies", created=row_policy is None)
        if row_policy is None:
            db.add(FacilityPolicy(facility_id=facility.id, policy=policy.model_dump(mode="json")))
        else:
            row_policy.policy = policy.model_dump(mode="json")
