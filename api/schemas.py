"""Request and response bodies of the API, with the limits that keep bad input out of the domain: the shared
types and bases, and accounts. The shopper app's bodies are in `api.shopper_schemas`; operations' in
`api.ops_schemas` and `api.ops_records_schemas`; finance's, the policies' and the wallet's in
`api.rewards_schemas`."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from types import UnionType
from typing import Annotated, Any, Generic, Self, TypeVar, Union, get_args, get_origin
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from crowdship.pages import Page
from dispatch.accounts import Role
from routing.geo import GeoPoint

T = TypeVar("T")

_CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control characters other than tab and line breaks (a terminal escape, a bell) and the marks, overrides and
isolates of text direction: shown on the console, in the bank's CSV or on a terminal, they reorder or hide
what surrounds them. Joiners stay (emoji sequences and some scripts need them), but not as the whole text: one
made only of invisible characters (a zero-width space, a byte-order mark) is blank."""


def no_control_characters(value: str) -> str:
    found = _CONTROL.search(value)
    if found:
        raise ValueError(f"must not contain control or text-direction characters (U+{ord(found.group()):04X})")
    if value.strip() and all(character.isspace() or unicodedata.category(character) == "Cf" for character in value):
        raise ValueError("must not be blank: it shows nothing (only invisible characters)")
    return value


def _takes_a_number(annotation: object) -> bool:
    """Whether a field holds a number (an int or a float, maybe optional) and not also a boolean."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    return bool not in members and any(member in (int, float) for member in members)


def _takes_numbers(annotation: object) -> bool:
    """Whether a field holds a list of numbers (maybe optional)."""
    members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    return any(get_origin(member) is list and _takes_a_number(get_args(member)[0]) for member in members)


# Text that PostgreSQL can store (no NUL), shows as written, and is not absurdly long.
Text = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$"),
    AfterValidator(no_control_characters),
]
LongText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000, pattern=r"^[^\x00]*$"),
    AfterValidator(no_control_characters),
]
Email = Annotated[str, StringConstraints(min_length=3, max_length=254, pattern=r"^[^@\s\x00]+@[^@\s\x00]+$")]
Password = Annotated[str, StringConstraints(min_length=10, max_length=128, pattern=r"^[^\x00]*$")]


class Schema(BaseModel):
    """A request body: a misspelt member is refused (422) rather than silently ignored, and so is `true` or
    `false` for a number (lax validation reads them as 1 and 0: `{"trust_tier": true}` set a tier to bronze,
    `{"size_bags": true}` took in an order of one bag). Numbers written as text still pass: the console's forms
    hand their fields over as text."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_for_a_number(cls, value: object, info: ValidationInfo) -> object:
        field = cls.model_fields.get(info.field_name) if info.field_name is not None else None
        if field is None:
            return value
        if isinstance(value, bool) and _takes_a_number(field.annotation):
            raise ValueError("must be a number, not true or false")
        if (
            isinstance(value, list)
            and any(isinstance(item, bool) for item in value)
            and _takes_numbers(field.annotation)
        ):
            raise ValueError("must be numbers, not true or false")
        return value


class FromDomain(BaseModel):
    """A response body read from a domain object's attributes: `OrderOut.model_validate(order)`. A field the
    object holds under another name or in another unit says so with `validation_alias` and a validator."""

    model_config = ConfigDict(from_attributes=True)


class Point(Schema):
    model_config = ConfigDict(extra="forbid", from_attributes=True)  # read from a `GeoPoint` in responses

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, examples=[30.4627])
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, examples=[-84.2211])

    def to_geo(self) -> GeoPoint:
        return GeoPoint(self.lat, self.lon)


class PageOf(BaseModel, Generic[T]):
    # The envelope of every paginated route.
    items: list[T]
    total: int = Field(ge=0)
    limit: int
    offset: int

    @classmethod
    def from_page(cls, page: Page[Any], *, limit: int, offset: int) -> Self:
        """The items are domain objects, read by the item schema; the window is the one the request asked for."""
        return cls.model_validate({"items": page.items, "total": page.total, "limit": limit, "offset": offset})


# --- Accounts ----------------------------------------------------------------------------------------


class RegisterIn(Schema):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "ana@example.org",
                    "password": "correct horse battery",
                    "display_name": "Ana",
                    "home": {"lat": 30.5, "lon": -84.2211},
                }
            ]
        },
    )

    email: Email = Field(examples=["ana@example.org"])
    password: Password = Field(examples=["correct horse battery"])
    display_name: Text = Field(examples=["Ana"])
    home: Point | None = Field(default=None, description="Never offered orders to (about) this point")


class UserOut(FromDomain):
    id: UUID
    email: str
    role: Role
    shopper_id: UUID | None
    active: bool = Field(description="False once an administrator deactivated the account")


class TokenOut(BaseModel):
    access_token: str
    token_type: str = Field(default="bearer", examples=["bearer"])
    expires_in: int = Field(description="Seconds until the token expires", examples=[900])


class ShopperOut(FromDomain):
    id: UUID
    display_name: str
    trust_tier: int = Field(ge=0, le=3, description="0 new, 1 bronze, 2 silver, 3 gold")  # `TrustTier` as int
    identity_verified: bool
    opted_in: bool


class OpsShopperOut(ShopperOut):
    """A shopper as operations read them: with their drop-outs (accepted offers left before pickup)."""

    recent_drop_outs: int = Field(
        description="Accepted offers dropped out of within the drop-out window (`CROWDSHIP_DROP_OUT_WINDOW_H`)"
    )
    offered_nothing_until: datetime | None = Field(
        description="Past the drop-out limit (`CROWDSHIP_MAX_DROP_OUTS`), batches offer them nothing until then"
    )
