"""SQL fragments shared by the PostGIS repositories: points as (lon, lat) in, (lat, lon) columns out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crowdship.db import Row
from routing.geo import GeoPoint

POINT = "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography"


def point_params(point: GeoPoint | None) -> tuple[float | None, float | None]:
    return (None, None) if point is None else (point.lon, point.lat)


def point_columns(column: str, alias: str | None = None) -> str:
    name = alias or column
    return f"ST_Y({column}::geometry) AS {name}_lat, ST_X({column}::geometry) AS {name}_lon"


def point(row: Row, name: str) -> GeoPoint:
    return GeoPoint(row[f"{name}_lat"], row[f"{name}_lon"])


def optional_point(row: Row, name: str) -> GeoPoint | None:
    return None if row[f"{name}_lat"] is None else point(row, name)


def status_filter(column: str, statuses: Sequence[str] | None) -> tuple[str, list[Any]]:
    if statuses is None:
        return "", []
    return f" AND {column} = ANY(%s)", [list(statuses)]


def filters(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """`AND column = value` for each given value; a sequence becomes `= ANY`; None is left out."""
    where, params = "", []
    for column, value in conditions:
        if value is None:
            continue
        if isinstance(value, list | tuple):
            where += f" AND {column} = ANY(%s)"
            params.append([str(item) for item in value])
        else:
            where += f" AND {column} = %s"
            params.append(value)
    return where, params
