"""The README's Configuration table is what an operator reads: it names every setting the `Settings` class reads,
nothing else, and the defaults it quotes are the class's own."""

from __future__ import annotations

import json
import re
from pathlib import Path

from crowdship.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
PREFIX = "CROWDSHIP_"


def _table_rows() -> list[tuple[list[str], list[str]]]:
    """(variable names, quoted defaults) per row; a name written `_MAX_SIZE` after `CROWDSHIP_DB_POOL_MIN_SIZE`
    is kept as written, to be expanded against the settings."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if not line.startswith("| `") or len(cells) < 3:
            continue
        names = re.findall(r"`([A-Z_]+)`", cells[0])
        rows.append((names, [part.strip() for part in cells[1].split(" / ")]))
    return rows


def _expand(names: list[str], fields: set[str]) -> list[str]:
    """`CROWDSHIP_DELIVERY_GEOFENCE_M` / `_MAX_ATTEMPTS` is CROWDSHIP_DELIVERY_MAX_ATTEMPTS: the short name takes
    the place of a tail of the full name before it, whichever tail makes a setting."""
    expanded: list[str] = []
    for name in names:
        if name.startswith(PREFIX):
            expanded.append(name)
            continue
        full = expanded[-1]
        cuts = [index for index, char in enumerate(full) if char == "_" and index >= len(PREFIX) - 1]
        candidates = [full[:cut] + name for cut in cuts if (full[:cut] + name) in fields]
        assert candidates, f"{name} (after {full}) names no setting"
        expanded.append(candidates[-1])
    return expanded


def test_the_configuration_table_names_every_setting_and_only_settings() -> None:
    fields = {PREFIX + name.upper() for name in Settings.model_fields}
    documented = [name for names, _ in _table_rows() for name in _expand(names, fields)]
    assert sorted(set(fields) - set(documented)) == []
    assert sorted(set(documented) - set(fields)) == []


def test_the_configuration_tables_numbers_are_the_defaults() -> None:
    """Where the table quotes a number (`1 000 000`, `20 per minute`), a value or a path (from the clone), or a
    JSON value, it is the default."""
    fields = {PREFIX + name.upper() for name in Settings.model_fields}
    compared = 0
    for names, defaults in _table_rows():
        full = _expand(names, fields)
        if len(defaults) != len(full):
            continue
        for name, quoted in zip(full, defaults, strict=True):
            default = Settings.model_fields[name.removeprefix(PREFIX).lower()].default
            number = re.match(r"^\d[\d ]*(\.\d+)?", quoted)
            if quoted.startswith("`{"):
                assert json.loads(quoted.strip("`")) == {str(key): value for key, value in default.items()}, name
            elif number:
                assert float(number.group().replace(" ", "")) == default, name
            elif re.fullmatch(r"`[^`]+`", quoted) and isinstance(default, Path):
                assert (README.parent / quoted.strip("`")).resolve() == default.resolve(), name
            elif re.fullmatch(r"`[^`]+`", quoted):
                assert quoted.strip("`") == str(default), name
            else:
                continue
            compared += 1
    assert compared >= 35
