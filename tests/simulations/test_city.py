"""Real stores and homes come from CSV files under the shared data folder beside the clone; a clone elsewhere is
told where a relative path was looked for, and how to point at the files instead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crowdship.errors import InvalidInput
from crowdship.settings import SHARED_DATA_DIR
from simulations.city import stores_from_csv
from simulations.scenario import StoresFromCsv


def test_a_missing_relative_data_file_names_the_shared_data_folder_and_the_way_out() -> None:
    with pytest.raises(InvalidInput) as refused:
        stores_from_csv(StoresFromCsv(path="no_such_snapshot/stores.csv"), np.random.default_rng(0))
    assert refused.value.field == "stores_csv.path"
    assert str(SHARED_DATA_DIR / "no_such_snapshot" / "stores.csv") in refused.value.message
    assert f"read under the shared data folder {SHARED_DATA_DIR}" in refused.value.message
    assert "absolute path" in refused.value.message


def test_an_absolute_data_file_is_read_where_it_is(tmp_path: Path) -> None:
    stores = tmp_path / "stores.csv"
    stores.write_text("name,lat,lon,city,state\nNortheast,30.4627,-84.2211,Tallahassee,FL\n")
    found, _ = stores_from_csv(StoresFromCsv(path=str(stores), city="Tallahassee"), np.random.default_rng(0))
    assert [store.name for store in found] == ["Northeast"]
    with pytest.raises(InvalidInput) as refused:
        stores_from_csv(StoresFromCsv(path=str(tmp_path / "gone.csv")), np.random.default_rng(0))
    assert "shared data folder" not in refused.value.message
