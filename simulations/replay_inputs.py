"""What `crowdship replay` is given: the policy to replay under, from a file, and the recorded day's bounds
in the store's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from crowdship.clock import time_zone
from crowdship.errors import InvalidInput
from crowdship.files import read_json_file, read_toml_file
from rewards.policy import PolicyParameters


def load_policy_file(path: Path) -> dict[str, Any]:
    """A policy's parameters from a JSON or (by its `.toml` suffix) TOML file, validated as
    `crowdship rewards policy-create` validates them (`InvalidInput` naming the field)."""
    if path.suffix.lower() == ".toml":
        data: object = read_toml_file(path, "policy")
    else:
        data = read_json_file(path, "policy")
    if not isinstance(data, dict):
        raise InvalidInput("policy", f"{path}: must hold an object of policy parameters")
    try:
        PolicyParameters.from_json(data)
    except InvalidInput as error:  # named with its file, as a missing or unreadable one is
        raise InvalidInput("policy", f"{path}: {error.message}") from None
    return data


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight (23 or 25 hours on a daylight-saving change)."""
    zone = time_zone(timezone, field="timezone")
    try:
        start = datetime.combine(day, time(0), tzinfo=zone)
        return start.astimezone(UTC), datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    except OverflowError:  # the calendar's first or last day: its bounds in UTC fall outside it
        raise InvalidInput("day", f"{day.isoformat()} in {timezone} is outside the days that can be replayed") from None
