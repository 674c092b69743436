"""Passwords people choose are judged as an attacker would guess: the service's own name and the pieces of the
person's e-mail and name come first on any list of guesses."""

from __future__ import annotations

import pytest

from crowdship.strength import weak_password_reason


@pytest.mark.parametrize("password", ["crowdship2026", "Crowdship123", "CROWDSHIP-2026"])
def test_the_services_own_name_with_a_year_or_digits_is_refused(password: str) -> None:
    assert weak_password_reason(password) is not None


@pytest.mark.parametrize("password", ["anamoreau1990", "Moreau1990!", "ana.moreau-1990"])
def test_the_pieces_of_the_e_mail_address_count_as_known(password: str) -> None:
    assert weak_password_reason(password, user_inputs=("ana.moreau@example.org", "Ana")) is not None


def test_a_passphrase_of_unrelated_words_is_accepted() -> None:
    assert weak_password_reason("Purple-Giraffe-Lantern-9", user_inputs=("ana.moreau@example.org", "Ana")) is None
