"""Text files handed to the service are read one way: UTF-8, and a file that is not is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from crowdship.errors import InvalidInput
from crowdship.files import read_text_file


def test_a_file_that_is_not_utf8_is_refused_naming_the_field_the_path_and_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "bin.json"
    path.write_bytes(b'{"a": 1}\x80\x81')
    with pytest.raises(InvalidInput) as raised:
        read_text_file(path, "policy")
    assert raised.value.field == "policy"
    assert raised.value.message == f"policy: {path}: not UTF-8 text (byte 0x80 at offset 8)"
    with pytest.raises(InvalidInput) as unnamed:
        read_text_file(path)
    assert unnamed.value.message == f"{path}: not UTF-8 text (byte 0x80 at offset 8)"


def test_a_missing_file_is_refused_with_the_systems_reason(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"nope\.toml: No such file or directory"):
        read_text_file(tmp_path / "nope.toml", "scenario")


def test_utf8_text_is_read_without_a_leading_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "day.toml"
    path.write_bytes('\ufeffname = "Café"\n'.encode())
    assert read_text_file(path) == 'name = "Café"\n'


def test_a_json_file_that_is_not_json_is_refused_with_its_line_and_column_whatever_its_name(tmp_path: Path) -> None:
    """The matcher's problem, a policy for `rewards policy-create` and one for `replay` said it three ways ('not
    JSON (Expecting value: line 1 column 1 (char 0))', 'not valid MD (…)' for a README.md): now one."""
    from crowdship.files import read_json_file

    path = tmp_path / "notes.md"
    path.write_text('{"base_cents": 1,\n  oops}\n')
    with pytest.raises(InvalidInput) as named:
        read_json_file(path, "policy")
    assert named.value.message == f"policy: {path}: not JSON (line 2, column 3)"
    with pytest.raises(InvalidInput) as unnamed:
        read_json_file(path)
    assert unnamed.value.message == f"{path}: not JSON (line 2, column 3)"
    path.write_text('\ufeff{"base_cents": 1}')
    assert read_json_file(path) == {"base_cents": 1}


def test_a_toml_file_that_is_not_toml_is_refused_naming_the_field_the_path_and_where(tmp_path: Path) -> None:
    """A scenario, a grid and a policy are read by one function and refused in one way."""
    from crowdship.files import read_toml_file

    path = tmp_path / "day.toml"
    path.write_text('name = "a day"\nseed = \n')
    with pytest.raises(InvalidInput) as refused:
        read_toml_file(path, "scenario")
    assert refused.value.field == "scenario"
    assert refused.value.message.startswith(f"scenario: {path}: not valid TOML (")
    assert "line 2" in refused.value.message
    path.write_text('\ufeffname = "a day"\n[stores]\ncount = 2\n')
    assert read_toml_file(path, "scenario") == {"name": "a day", "stores": {"count": 2}}


def test_a_file_larger_than_any_the_service_takes_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    """A policy, a scenario, a matcher problem: none is near `MAX_TEXT_FILE_BYTES`. A larger file (a log, a
    disk image, a device that never ends such as /dev/zero) is refused by its size, not read into memory."""
    from crowdship.files import MAX_TEXT_FILE_BYTES

    path = tmp_path / "huge.json"
    with path.open("wb") as handle:
        handle.truncate(MAX_TEXT_FILE_BYTES + 1)  # sparse: no disk spent
    with pytest.raises(InvalidInput) as refused:
        read_text_file(path, "policy")
    assert refused.value.message == f"policy: {path}: larger than {MAX_TEXT_FILE_BYTES:,} bytes"
    path.write_text("x" * 1_000)
    assert len(read_text_file(path)) == 1_000
