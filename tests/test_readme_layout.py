"""README's layout table is what a new engineer reads before the code: each package has its row, what a row
says a package may import is below it in import-linter's layers, and each file or folder a row names exists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rows() -> dict[str, tuple[str, str]]:
    section = (ROOT / "README.md").read_text().split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        found = re.fullmatch(r"`([a-z_]+)/`", cells[0])
        if found and len(cells) == 3:
            rows[found[1]] = (cells[1], cells[2])
    return rows


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    layers: list[str] = contract["layers"]
    return layers


def test_every_package_and_folder_of_the_clone_has_a_row_and_every_row_a_folder() -> None:
    folders = {path.name for path in ROOT.iterdir() if path.is_dir() and not path.name.startswith((".", "_"))}
    assert set(_rows()) == folders


def test_what_a_row_may_import_is_below_it_in_the_layers() -> None:
    layers = _layers()
    rows = _rows()
    for package in layers:
        allowed = set(layers[layers.index(package) + 1 :])
        named = set(re.findall(r"`([a-z_]+)`", rows[package][1])) & set(layers)
        assert named <= allowed, f"{package} may import {named - allowed}, above or beside it"
        if allowed and "everything below" not in rows[package][1]:
            assert named, f"the row of {package} names none of the packages below it"


def test_every_file_and_folder_a_row_names_exists() -> None:
    missing = []
    for folder, (owns, _) in _rows().items():
        for name in re.findall(r"`([a-z_./{},*]+(?:\.py|/))`", owns):
            for expanded in _braces(name):  # from the clone, or anywhere in the row's folder
                if not (ROOT / expanded).exists() and not any((ROOT / folder).rglob(expanded.rstrip("/"))):
                    missing.append(f"{folder}: {expanded}")
    assert missing == []


def _braces(name: str) -> list[str]:
    found = re.search(r"\{([^}]*)\}", name)
    if found is None:
        return [name]
    return [name[: found.start()] + choice + name[found.end() :] for choice in found[1].split(",")]
