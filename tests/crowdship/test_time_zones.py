"""A time zone is an IANA name that means the same on every machine: not the server's own (`localtime`), not
the database's placeholder (`Factory`, '-00') and not a variant folder (`right/` counts leap seconds, so its
clocks are off by half a minute)."""

from __future__ import annotations

import pytest

from crowdship.clock import time_zone
from crowdship.errors import InvalidInput


@pytest.mark.parametrize("name", ["localtime", "Factory", "posixrules", "right/UTC", "posix/Europe/Paris", "America"])
def test_names_that_are_no_place_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidInput, match="unknown time zone") as refused:
        time_zone(name, field="timezone")
    assert refused.value.field == "timezone"


@pytest.mark.parametrize("name", ["America/New_York", "Asia/Kolkata", "UTC", "Etc/GMT-14", "EST5EDT"])
def test_iana_names_are_kept(name: str) -> None:
    assert time_zone(name).key == name
