"""The record's values in plain words, for the printout: people by name and credentials, the join
latency judged against the benchmarks, link causes, reaction codes and amended values.

Every function is pure; times are formatted by ``signaling.record.printout`` (which knows the
facility's time zone) and passed in where a value may be a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum, StrEnum

from signaling.record.codes import manifestations
from signaling.record.view import (
    Escalation,
    LicenseLine,
    Person,
    ReactionOutcome,
    ReactionType,
    Recommendation,
    Severity,
)

BEST_IN_CLASS_MS = 30_000  # the domain's benchmarks: under 30 s best in class
RISK_MS = 90_000  # over 90 s (or not measured) a compliance and patient-safety risk


class JoinVerdict(StrEnum):
    BEST_IN_CLASS = "best_in_class"
    WITHIN_90_S = "within_90_s"
    OVER_90_S = "over_90_s"
    NOT_MEASURED = "not_measured"


VERDICT_WORDS: dict[JoinVerdict, str] = {
    JoinVerdict.BEST_IN_CLASS: "best in class",
    JoinVerdict.WITHIN_90_S: "within 90 s",
    JoinVerdict.OVER_90_S: "over 90 s: a risk",
    JoinVerdict.NOT_MEASURED: "not measured: a failure",
}


def join_verdict(latency_ms: int | None) -> JoinVerdict:
    """Under 30 s best in class; 30 to 90 s within 90 s; over 90 s a risk; none a failure."""
    if latency_ms is None:
        return JoinVerdict.NOT_MEASURED
    if latency_ms < BEST_IN_CLASS_MS:
        return JoinVerdict.BEST_IN_CLASS
    if latency_ms <= RISK_MS:
        return JoinVerdict.WITHIN_90_S
    return JoinVerdict.OVER_90_S


def person(who: Person | None) -> str:
    """``"Ray Diaz, MD"``; an empty string for nobody."""
    if who is None:
        return ""
    return f"{who.name}, {who.credentials}" if who.credentials else who.name


def license_line(line: LicenseLine | None, today: date | None = None) -> str:
    """``"TX license 12345, expires 2027-08-31"`` (``(expired)`` when past ``today``)."""
    if line is None:
        return "no license on record in this state"
    expired = " (expired)" if today is not None and line.expires_on < today else ""
    return f"{line.state} license {line.number}, expires {line.expires_on.isoformat()}{expired}"


def seconds(value: float | None) -> str:
    """A duration as people say it: ``"4.2 s"``, ``"2 min 05 s"``, ``"1 h 03 min"``."""
    if value is None:
        return "not measured"
    if value < 60:
        return f"{value:.1f} s"
    whole = round(value)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


ENUM_WORDS: dict[Enum, str] = {
    ReactionType.ALLERGIC_LIKE: "allergic-like",
    ReactionType.PHYSIOLOGIC: "physiologic",
    Severity.MILD: "mild",
    Severity.MODERATE: "moderate",
    Severity.SEVERE: "severe",
    Escalation.CODE_TEAM: "code team called",
    Escalation.EMS: "EMS called",
    Escalation.ED: "sent to the emergency department",
    ReactionOutcome.RESOLVED_ON_SITE: "resolved on site",
    ReactionOutcome.TRANSFERRED_ED: "transferred to the emergency department",
    ReactionOutcome.ADMITTED: "admitted",
    ReactionOutcome.DIED: "died",
    Recommendation.NONE: "none",
    Recommendation.SWITCH_AGENT: "switch to another agent",
    Recommendation.PREMEDICATE: "premedicate next time",
    Recommendation.AVOID_CLASS: "avoid this class of contrast",
}


def enum_words(value: Enum | None, unset: str = "not recorded") -> str:
    if value is None:
        return unset
    return ENUM_WORDS.get(value, str(value.value).replace("_", " "))


def yes_no(value: bool | None, unset: str = "not recorded") -> str:
    if value is None:
        return unset
    return "yes" if value else "no"


def manifestation(key: str) -> str:
    """A manifestation key as its label in ``codes.yaml`` ("Hives, diffuse"); a key the file does
    not know (an older record) as the key with spaces."""
    known = manifestations().get(key)
    return known.label if known is not None else key.replace("_", " ")


# media.link.Cause in words (as the pages say them, web/call.js CAUSE_SHORT).
CAUSE_WORDS: dict[str, str] = {
    "no_reports": "page not connected",
    "nothing_arrives": "nothing arrives",
    "no_frames": "video stopped",
    "video_black": "camera black",
    "video_frozen": "picture frozen",
    "video_lost": "video not reaching the server",
    "video_dark": "picture too dark",
    "audio_silent": "microphone silent",
    "audio_missing": "no audio",
    "audio_lost": "audio not reaching the server",
    "high_loss": "packet loss",
    "high_rtt": "long delay",
    "high_jitter": "uneven delay",
    "low_fps": "choppy picture",
    "degraded": "degraded",
    "frozen": "frozen",
    "lost": "lost",
}


def cause(text: str) -> str:
    """``"radiologist:nothing_arrives, technologist:audio_silent"`` (the coverage's causes) ->
    ``"radiologist: nothing arrives; technologist: microphone silent"``; other text as it is."""
    parts: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        sender, colon, code = part.partition(":")
        if not colon or " " in sender or " " in code.strip():
            return text
        code = code.strip()
        parts.append(f"{sender}: {CAUSE_WORDS.get(code, code.replace('_', ' '))}")
    return "; ".join(parts)


# An amended entry's fields whose values are an enum's (the entries store the value).
FIELD_ENUMS: dict[str, type[StrEnum]] = {
    "type": ReactionType,
    "severity": Severity,
    "outcome": ReactionOutcome,
    "recommendation": Recommendation,
    "kind": Escalation,
}
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def timestamp(item: object) -> datetime | None:
    """An aware time stored as ISO-8601 text (as entries keep them), or None for other values."""
    if not isinstance(item, str) or not _TIMESTAMP.match(item):
        return None
    try:
        moment = datetime.fromisoformat(item)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def amended(field: str, item: object, when: Callable[[datetime], str]) -> str:
    """An amendment's value of ``field`` (before or after) in words: enum values, manifestation
    keys and stored times as people read them, anything else as ``value`` says it."""
    enum = FIELD_ENUMS.get(field)
    if enum is not None and isinstance(item, str) and item in enum._value2member_map_:
        return enum_words(enum(item))
    if field == "manifestations" and isinstance(item, list | tuple):
        return ", ".join(manifestation(str(key)) for key in item) or "(empty)"
    moment = timestamp(item)
    if moment is not None:
        return when(moment)
    return value(item, when)


def value(item: object, when: Callable[[datetime], str]) -> str:
    """A recorded value in words; ``when`` formats times."""
    if item is None or item == "" or item == () or item == []:
        return "(empty)"
    if isinstance(item, bool):
        return yes_no(item)
    if isinstance(item, Enum):
        return enum_words(item)
    if isinstance(item, datetime):
        return when(item)
    if isinstance(item, date):
        return item.isoformat()
    if isinstance(item, Person):
        return person(item)
    if isinstance(item, list | tuple):
        return ", ".join(value(part, when) for part in item)
    return str(item)


def field_name(name: str) -> str:
    """An amended field's name as words: ``"reaction.onset_at"`` -> ``"reaction onset time"``."""
    if name.endswith("_at"):
        name = name[: -len("_at")] + " time"
    return name.replace("_", " ").replace(".", " ")
