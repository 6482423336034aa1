"""Roles a user may hold; a person may hold several (e.g. radiologist and supervisor)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    TECHNOLOGIST = "technologist"
    RADIOLOGIST = "radiologist"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
