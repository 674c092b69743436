"""An instant the domain is handed must say where it is: a naive one would be read in the server's own zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest

from crowdship.clock import require_aware
from crowdship.errors import InvalidInput
from tests.unknown_offset import NoOffset


@pytest.mark.parametrize("value", [datetime(2026, 12, 5, 9), datetime(2026, 12, 5, 9, tzinfo=NoOffset())])
def test_a_naive_instant_is_refused_naming_the_field(value: datetime) -> None:
    with pytest.raises(InvalidInput, match="timezone-aware") as refused:
        require_aware(value, "delivered_at")
    assert refused.value.field == "delivered_at"


@pytest.mark.parametrize("zone", [UTC, timezone(timedelta(hours=-5))])
def test_an_aware_instant_is_returned_as_given(zone: tzinfo) -> None:
    instant = datetime(2026, 12, 5, 9, tzinfo=zone)
    assert require_aware(instant, "at") is instant
