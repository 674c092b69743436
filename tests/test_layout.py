"""The layering is checked by import-linter in `make lint`; this keeps its list of domain modules complete, so
that a new module of `dispatch` or `rewards` cannot slip out of the "no I/O" contract unnoticed."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE_THE_DOMAIN = {"adapters"}
"""Where a package's I/O lives: the only part the contract leaves out."""


def test_every_domain_module_is_under_the_no_io_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = [
        c for c in config["tool"]["importlinter"]["contracts"] if "psycopg" in c.get("forbidden_modules", [])
    ]
    checked = set(contract["source_modules"])
    for package in ("dispatch", "rewards"):
        for path in sorted((ROOT / package).iterdir()):
            name = path.stem if path.suffix == ".py" else path.name
            if name.startswith("_") or name in OUTSIDE_THE_DOMAIN or not (path.suffix == ".py" or path.is_dir()):
                continue
            assert f"{package}.{name}" in checked, f"{package}.{name} is not under the no-I/O contract"
    assert {"psycopg", "redis", "fastapi"} <= set(contract["forbidden_modules"])
