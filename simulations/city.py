"""Where a simulated day happens: the stores, and the weighted points where customers and shoppers live.

The built-in synthetic city needs no data: clusters of homes (neighbourhoods) around each store. A real
city comes from CSV files: stores from a store list (name, lat, lon; e.g. the 2018 Walmart snapshot) and
population points with weights (e.g. Leon County census blocks, POP100).
"""

from __future__ import annotations

import csv
import io
import math
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from crowdship.errors import InvalidInput
from crowdship.files import read_text_file
from crowdship.settings import SHARED_DATA_DIR
from crowdship.units import Cents
from dispatch.model import Store
from routing.areas import circular_area
from routing.distance import haversine_matrix
from routing.geo import METRES_PER_DEGREE, GeoPoint
from simulations.scenario import Population, Scenario, StoresFromCsv, data_path

FloatArray = npt.NDArray[np.float64]
SYNTHETIC_HOMES_PER_STORE = 4_000


@dataclass(frozen=True)
class City:
    stores: list[Store]
    service_radius_m: list[float]
    homes: FloatArray
    """(K, 2) lat, lon of the population points."""
    weights: FloatArray
    """(K,) how many people live at each point, normalised to sum 1."""
    distance_to_store_m: FloatArray
    """(K, S) straight-line distance from each point to each store."""


def uuid_from(rng: np.random.Generator) -> uuid.UUID:
    """Ids drawn from the scenario's generator, so that a run is the same down to its store ids."""
    return uuid.UUID(int=int.from_bytes(rng.bytes(16), "big"), version=4)


def offsets_to_lat_lon(center: GeoPoint, north_m: FloatArray, east_m: FloatArray) -> FloatArray:
    lat = center.lat + north_m / METRES_PER_DEGREE
    lon = center.lon + east_m / (METRES_PER_DEGREE * math.cos(math.radians(center.lat)))
    return np.column_stack([lat, lon])


def _disc(rng: np.random.Generator, count: int, radius_m: float) -> tuple[FloatArray, FloatArray]:
    distance = radius_m * np.sqrt(rng.random(count))
    bearing = rng.uniform(0.0, 2 * math.pi, count)
    return distance * np.cos(bearing), distance * np.sin(bearing)


def _synthetic_homes(
    rng: np.random.Generator, store: Store, radius_m: float, population: Population
) -> tuple[FloatArray, FloatArray]:
    """Neighbourhoods of different sizes scattered over the area, homes spread around each centre."""
    count = population.neighbourhoods
    centre_n, centre_e = _disc(rng, count, radius_m)
    sizes = rng.gamma(2.0, 1.0, count)
    choice = rng.choice(count, size=SYNTHETIC_HOMES_PER_STORE, p=sizes / sizes.sum())
    spread = population.neighbourhood_spread_m
    north = centre_n[choice] + rng.normal(0.0, spread, SYNTHETIC_HOMES_PER_STORE)
    east = centre_e[choice] + rng.normal(0.0, spread, SYNTHETIC_HOMES_PER_STORE)
    return offsets_to_lat_lon(store.location, north, east), np.ones(SYNTHETIC_HOMES_PER_STORE)


def _read_csv(relative: str, field: str) -> list[dict[str, str]]:
    path = data_path(relative)
    if not Path(relative).is_absolute() and not path.exists():  # a clone not beside the shared data: say where
        raise InvalidInput(
            field,
            f"{path}: No such file or directory (a relative path is read under the shared data folder "
            f"{SHARED_DATA_DIR}, beside the clone; give an absolute path to read it from elsewhere)",
        )
    return list(csv.DictReader(io.StringIO(read_text_file(path, field), newline="")))


def _float(row: dict[str, str], column: str, field: str) -> float:
    if column not in row:
        raise InvalidInput(field, f"no column {column!r}")
    try:
        return float(row[column])
    except ValueError as error:
        raise InvalidInput(field, f"column {column!r} holds {row[column]!r}, not a number") from error


def stores_from_csv(spec: StoresFromCsv, rng: np.random.Generator) -> tuple[list[Store], list[float]]:
    """The first `limit` stores of the list matching city and state, in file order."""
    rows = _read_csv(spec.path, "stores_csv.path")
    chosen = [
        row
        for row in rows
        if (spec.city is None or row.get("city", "").lower() == spec.city.lower())
        and (spec.state is None or row.get("state", "").lower() == spec.state.lower())
    ][: spec.limit]
    if not chosen:
        raise InvalidInput("stores_csv", f"no store in {spec.path} matches city={spec.city!r} state={spec.state!r}")
    stores = []
    for row in chosen:
        location = GeoPoint.parse(
            _float(row, "lat", "stores_csv.path"), _float(row, "lon", "stores_csv.path"), "stores_csv"
        )
        name = row.get("name") or "store"
        address = row.get("address1") or ""
        stores.append(
            Store(
                id=uuid_from(rng),
                name=f"{name}, {address}".strip(", "),
                location=location,
                service_area=circular_area(location, spec.service_radius_m),
                fallback_cost_cents=Cents(spec.fallback_cost_cents),
            )
        )
    return stores, [spec.service_radius_m] * len(stores)


def population_from_csv(population: Population) -> tuple[FloatArray, FloatArray]:
    assert population.path is not None
    rows = _read_csv(population.path, "population.path")
    points, weights = [], []
    for row in rows:
        weight = 1.0 if population.weight_column is None else _float(row, population.weight_column, "population")
        if weight <= 0:
            continue
        points.append(
            (
                _float(row, population.lat_column, "population.lat_column"),
                _float(row, population.lon_column, "population.lon_column"),
            )
        )
        weights.append(weight)
    if not points:
        raise InvalidInput("population.path", "no populated point in the file")
    return np.array(points, dtype=np.float64), np.array(weights, dtype=np.float64)


def build_city(scenario: Scenario, rng: np.random.Generator) -> City:
    stores: list[Store] = []
    radii: list[float] = []
    for spec in scenario.stores:
        location = GeoPoint(spec.location.lat, spec.location.lon)
        stores.append(
            Store(
                id=uuid_from(rng),
                name=spec.name,
                location=location,
                service_area=circular_area(location, spec.service_radius_m),
                fallback_cost_cents=Cents(spec.fallback_cost_cents),
            )
        )
        radii.append(spec.service_radius_m)
    if scenario.stores_csv is not None:
        more, more_radii = stores_from_csv(scenario.stores_csv, rng)
        stores += more
        radii += more_radii
    if scenario.population.kind == "csv":
        homes, weights = population_from_csv(scenario.population)
    else:
        parts = [
            _synthetic_homes(rng, store, radius, scenario.population)
            for store, radius in zip(stores, radii, strict=True)
        ]
        homes = np.vstack([part[0] for part in parts])
        weights = np.concatenate([part[1] for part in parts])
    store_points = np.array([[store.location.lat, store.location.lon] for store in stores])
    distance = haversine_matrix(homes, store_points) * 1000.0
    reach = np.array(radii) * scenario.shoppers.home_radius_factor
    near = (distance <= reach[None, :]).any(axis=1)
    if not near.any():
        raise InvalidInput("population", "no population point lies near any store")
    kept_weights = weights[near]
    return City(
        stores=stores,
        service_radius_m=radii,
        homes=homes[near],
        weights=kept_weights / kept_weights.sum(),
        distance_to_store_m=distance[near],
    )
