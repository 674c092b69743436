"""A validator's message reaches people as the validator wrote it, whichever edge shows it (API, CLI, scenario
files): pydantic's "Value error, " and "Assertion failed, " are its own words, not the rule's."""

from __future__ import annotations

import pytest

from crowdship.errors import without_pydantic_prefix


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("Value error, must add up to 1", "must add up to 1"),
        ("Assertion failed, the window must not be empty", "the window must not be empty"),
        ("scenario: Value error, seed: must be at least 0", "scenario: seed: must be at least 0"),
        ("Input should be a valid integer", "Input should be a valid integer"),
    ],
)
def test_pydantics_words_are_taken_off_wherever_they_sit(said: str, shown: str) -> None:
    assert without_pydantic_prefix(said) == shown
