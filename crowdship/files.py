"""The one way to read a text file a person hands the service (a scenario, a grid, a policy, a matcher problem,
a list of stores): UTF-8, and a file that cannot be read or is not text is refused as `InvalidInput`, so the
command line says `error: <why>` instead of printing a traceback."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from crowdship.errors import InvalidInput

MAX_TEXT_FILE_BYTES = 20_000_000
"""The largest file read: a policy or a scenario is a few kilobytes, a matcher problem of thousands of orders
a few megabytes. A larger one (a log, a disk image, /dev/zero) is refused by its size, not read into memory."""


def read_text_file(path: Path | str, field: str | None = None) -> str:
    """The file's text, decoded as UTF-8 (a leading byte-order mark, as some editors write, is dropped).

    Refused as `InvalidInput` named by `field` with the path in the message (`scenario: day.toml: ...`), or by
    the path alone when no field is given (`day.toml: ...`); so is a file over `MAX_TEXT_FILE_BYTES`."""
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_TEXT_FILE_BYTES + 1)
        if len(data) > MAX_TEXT_FILE_BYTES:
            reason = f"larger than {MAX_TEXT_FILE_BYTES:,} bytes"
        else:
            return data.decode("utf-8-sig")
    except OSError as error:
        reason = str(error.strerror or error)
    except UnicodeDecodeError as error:
        reason = f"not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start})"
    raise InvalidInput(field, f"{path}: {reason}") if field else InvalidInput(str(path), reason)


def read_json_file(path: Path | str, field: str | None = None) -> Any:
    """The file's JSON value, read as `read_text_file` reads it; text that is not JSON is refused the same way,
    with where it breaks (`policy: p.json: not JSON (line 2, column 3)`), whatever the file's name."""
    text = read_text_file(path, field)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        reason = f"not JSON (line {error.lineno}, column {error.colno})"
    raise InvalidInput(field, f"{path}: {reason}") if field else InvalidInput(str(path), reason)


def read_toml_file(path: Path | str, field: str) -> dict[str, Any]:
    """The file's TOML table, read as `read_text_file` reads it; text that is not TOML is refused naming `field`
    and the path, with the parser's reason and where it broke (`scenario: day.toml: not valid TOML (...)`)."""
    text = read_text_file(path, field)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput(field, f"{path}: not valid TOML ({error})") from None
