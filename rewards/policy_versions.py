"""A reward policy's versions: each an immutable set of numbers (`rewards.policy.PolicyParameters`) with its
author and note, and the second person's decision on it (four eyes; versions only go forward). Notes and
reasons are held to what can be shown safely (`readable_text`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from crowdship.errors import DomainError, InvalidInput
from rewards.policy import PolicyParameters

MAX_NOTE_LENGTH = 2_000
"""A version's note, or the reason of a decision on it, as the API takes them."""
UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control characters other than tab and line breaks, and the marks, overrides and isolates of text direction:
printed by `crowdship rewards policies` or shown on the console, they run on the terminal or reorder the text."""


def readable_text(value: str, field_name: str) -> str:
    """A note or reason as people write them: at most `MAX_NOTE_LENGTH` characters, line breaks and tabs kept,
    no control or text-direction character. Whoever calls (the API, the CLI, the console) is held to it."""
    if len(value) > MAX_NOTE_LENGTH:
        raise InvalidInput(field_name, f"at most {MAX_NOTE_LENGTH} characters")
    found = UNSHOWABLE.search(value)
    if found:
        raise InvalidInput(
            field_name, f"must not contain control or text-direction characters (U+{ord(found.group()):04X})"
        )
    return value


class PolicyStatus(StrEnum):
    PROPOSED = "proposed"
    """Published by its author; prices nothing until someone else approves it."""
    APPROVED = "approved"
    """In force from its approval until a later version is approved."""
    REJECTED = "rejected"


@dataclass(frozen=True)
class PolicyDecision:
    """The second person's verdict on a version."""

    status: PolicyStatus
    decided_by: UUID
    decided_at: datetime
    reason: str = ""


class PolicyAuthorCannotDecide(DomainError):
    """Four eyes: the author of a policy version may not approve or reject it."""

    kind = "forbidden"

    def __init__(self, version: int) -> None:
        super().__init__(f"you proposed reward policy version {version}; someone else must approve or reject it")


@dataclass(frozen=True)
class RewardPolicy:
    """One immutable version of the policy; a change is a new version, which takes effect only once someone
    other than its author approves it."""

    version: int
    parameters: PolicyParameters
    created_by: UUID
    created_at: datetime
    note: str = ""
    decision: PolicyDecision | None = None
    id: UUID = field(default_factory=uuid4)

    @property
    def status(self) -> PolicyStatus:
        return PolicyStatus.PROPOSED if self.decision is None else self.decision.status

    @property
    def in_force_from(self) -> datetime | None:
        """When it took effect: its approval (a later approval of another version ends it)."""
        approved = self.decision is not None and self.decision.status is PolicyStatus.APPROVED
        return self.decision.decided_at if approved and self.decision is not None else None

    def decide(
        self,
        status: PolicyStatus,
        *,
        actor_id: UUID,
        now: datetime,
        reason: str = "",
        newest_approved: int | None = None,
        in_force: int | None = None,
    ) -> RewardPolicy:
        """This version with the second person's verdict; refused for its author, once decided, rejected
        without a reason (the author is owed one), approved when it is older than `newest_approved` (the
        newest version approved so far; `in_force`, the one in force now, only says so), or approved when its
        numbers lie outside today's proposing bounds (`PolicyOutsideBounds`: a version stored before a bound was
        added or tightened still reads and prices, `PolicyParameters.stored`, but does not go into force).

        Versions only go forward: approving an older proposal after a newer one would silently put the older
        policy back in force. Going back to older numbers is a new version, proposed and approved like any."""
        if actor_id == self.created_by:
            raise PolicyAuthorCannotDecide(self.version)
        if self.decision is not None:
            raise PolicyAlreadyDecided(self.version, self.decision.status)
        if status is PolicyStatus.PROPOSED:
            raise InvalidInput("decision", "approve or reject")
        if status is PolicyStatus.REJECTED and not reason.strip():
            raise InvalidInput("reason", "say why the version is rejected")
        readable_text(reason, "reason")
        if status is PolicyStatus.APPROVED and newest_approved is not None and self.version < newest_approved:
            raise PolicySuperseded(self.version, newest_approved, in_force)
        if status is PolicyStatus.APPROVED:
            try:
                self.parameters.check_bounds()
            except InvalidInput as error:
                raise PolicyOutsideBounds(self.version, error) from error
        return replace(self, decision=PolicyDecision(status, actor_id, now, reason))


class PolicyAlreadyDecided(DomainError):
    def __init__(self, version: int, status: PolicyStatus) -> None:
        super().__init__(f"reward policy version {version} was already {status.value}")


class PolicyOutsideBounds(DomainError):
    """A proposed version stored before today's bounds (`PolicyParameters.stored`) says what no version may be
    proposed with: approving it would put those numbers in force. It can be rejected, and its numbers proposed
    anew within the bounds."""

    kind = "conflict"

    def __init__(self, version: int, error: InvalidInput) -> None:
        super().__init__(
            f"reward policy version {version} cannot be approved: it was proposed before today's bounds and "
            f"{error.message}. Reject it and propose new numbers as a new version"
        )
        self.version = version
        self.field = error.field


class PolicySuperseded(DomainError):
    """A proposed version is older than one approved since: approving it would silently go back to it."""

    kind = "conflict"

    def __init__(self, version: int, newest_approved: int, in_force: int | None) -> None:
        newer = f"version {newest_approved} was approved after it was proposed"
        if in_force == newest_approved:
            said = f"{newer} and is in force"
        elif in_force is None:
            said = f"{newer}; no version is in force now"
        else:
            said = f"{newer}; version {in_force} is in force"
        super().__init__(
            f"reward policy version {version} is older than the policy approved since: {said}. Approving it would "
            f"silently put an older policy back in force; reject it, and to go back to its numbers propose them "
            f"as a new version"
        )
        self.version = version
        self.newest_approved = newest_approved
        self.in_force = in_force
