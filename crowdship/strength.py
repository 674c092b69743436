"""Judging secrets people choose: signing keys and passwords. zxcvbn estimates how many guesses a string
needs, seeing through repeats, sequences, keyboard walks and the common-password and word lists it ships."""

from __future__ import annotations

import math
import re

from zxcvbn import zxcvbn

TEST_SECRET_KEY = "crowdship-tests-only-0f6c1e9a4b7d2358c0e1f4a7b9d2c6e8"
"""Signs tokens in the test suite, and nowhere else (the settings refuse it outside `test`)."""

MIN_KEY_LENGTH = 32
MIN_KEY_GUESSES_LOG10 = 30
"""About 100 bits: 32 random hex characters estimate to 10^32, a repeated or patterned key to far fewer."""

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
MIN_PASSWORD_SCORE = 3
"""zxcvbn's scale: 3 is 'safely unguessable' for an online attack (10^8 guesses and more)."""

_ZXCVBN_MAX_INPUT = 72
"""zxcvbn refuses longer input; its estimate of a longer string would be no better than of its start."""


def weak_key_reason(key: str) -> str | None:
    """Why a signing key is too weak, without quoting any part of it; None when it is fine."""
    if not key:  # `CROWDSHIP_SECRET_KEY=` in an env file: left out by mistake, not a short key
        return "the key is set but empty"
    if key == TEST_SECRET_KEY:
        return "the test suite's key is public"
    if len(key) < MIN_KEY_LENGTH:
        return f"the key is shorter than {MIN_KEY_LENGTH} characters"
    if zxcvbn(key[:_ZXCVBN_MAX_INPUT])["guesses_log10"] < MIN_KEY_GUESSES_LOG10:
        return "the key is guessable (repeats, sequences or words)"
    return None


SERVICE_WORDS = ("crowdship",)
"""What an attacker of this service tries first, with a year or digits after it."""


def _known_words(user_inputs: tuple[str, ...]) -> list[str]:
    """The inputs, and their pieces: an e-mail's local part whole and without its dots and dashes, and each
    word of it, of its domain and of a name (zxcvbn matches an input only whole)."""
    words = [*SERVICE_WORDS]
    for value in user_inputs:
        if not value:
            continue
        local = value.partition("@")[0]
        pieces = [piece for piece in re.split(r"[^0-9A-Za-z]+", value) if len(piece) >= 3]
        words += [value, local, re.sub(r"[^0-9A-Za-z]+", "", local), *pieces]
    return [word.lower() for word in dict.fromkeys(words) if word]


def weak_password_reason(password: str, *, user_inputs: tuple[str, ...] = ()) -> str | None:
    """Why a password is refused (too short, too long, common or trivial), in words a person can act on;
    None when it is acceptable. `user_inputs` (the e-mail, the name) count as known to an attacker."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    verdict = zxcvbn(password[:_ZXCVBN_MAX_INPUT], user_inputs=_known_words(user_inputs))
    if verdict["score"] >= MIN_PASSWORD_SCORE:
        return None
    feedback = verdict["feedback"]
    hint = feedback.get("warning") or next(iter(feedback.get("suggestions") or []), "")
    guesses = math.floor(verdict["guesses_log10"])
    reason = f"is too easy to guess (about 10^{guesses} guesses)"
    return f"{reason}: {hint.rstrip('.')}" if hint else reason
