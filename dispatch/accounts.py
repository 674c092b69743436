"""People who use the service and what they may do: shoppers, operations, finance, administrators."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

from crowdship.errors import InvalidInput

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_milliseconds(instant: datetime) -> int:
    """Whole milliseconds since the epoch, rounded down, counted in integers: a float timestamp of today is off
    by up to a quarter of a microsecond, which can put an instant on a millisecond's edge into its neighbour."""
    return (instant - _EPOCH) // timedelta(milliseconds=1)


class Role(StrEnum):
    SHOPPER = "shopper"
    OPS = "ops"
    FINANCE = "finance"
    ADMIN = "admin"


def normalise_email(email: str, field_name: str = "email") -> str:
    """One spelling per address, so that `Ana@X.org`, `ana@x.org `, the same in full-width letters and a `josé`
    whose accent is decomposed are each one account: NFKC folds letters that only look different, which would
    otherwise register a second account under a name that reads as another's, and count sign-in failures apart
    from its lockout."""
    cleaned = unicodedata.normalize("NFKC", email.strip()).lower()
    local, _, domain = cleaned.partition("@")
    printable = all(character.isprintable() and not character.isspace() for character in cleaned)
    if not local or not domain or not printable or len(cleaned) > 254:
        raise InvalidInput(field_name, "must be an e-mail address")
    return cleaned


@dataclass
class User:
    email: str
    password_hash: str
    role: Role
    created_at: datetime
    shopper_id: UUID | None = None
    """The shopper profile of a shopper account; None for every other role."""
    active: bool = True
    id: UUID = field(default_factory=uuid4)
    tokens_valid_from: datetime | None = None
    """Tokens issued before this instant are refused: a deactivation sets it, so that reactivating the account
    does not revive a token that may have been why (None: every unexpired token stands)."""

    def earliest_token_accepted(self) -> int | None:
        """The earliest issue time (whole milliseconds since the epoch, as tokens carry it) of a token this account
        still accepts; None when it accepts none (deactivated). A token issued in the very millisecond of a sign-out
        or a deactivation is refused too: its milliseconds cannot tell whether it came before. One that says only
        its second (issued before tokens told milliseconds) is read as that second's first millisecond, so it
        is accepted only when the whole second came after the cut."""
        if not self.active:
            return None
        if self.tokens_valid_from is None:
            return 0
        return epoch_milliseconds(self.tokens_valid_from) + 1

    def __post_init__(self) -> None:
        self.email = normalise_email(self.email)
        if (self.role is Role.SHOPPER) != (self.shopper_id is not None):
            raise InvalidInput("role", "a shopper account, and only one, links a shopper profile")
