"""Where a store's name goes on a map: beside its star, clear of the markers around it and inside the map."""

from __future__ import annotations

from collections.abc import Sequence

STORE_LABEL_PX = 12
STORE_LABEL_CHAR_PX = 7.4
"""About the width of a character of a store's name at its size (a little more than the average, to be safe)."""
MARKER_CLEARANCE_PX = 7.0
"""How far from a marker's centre a label keeps: the largest marker's half size (a shopper's triangle) and air."""


def label_place(
    x: float,
    y: float,
    text_width: float,
    markers: Sequence[tuple[float, float]],
    width: int,
    height: int,
) -> tuple[float, float, str]:
    """Where the name of a star at (`x`, `y`) goes, as the text's anchor point and `text-anchor`: above the
    star, else below, right or left of it, the first place that covers no marker and stays on the map; when
    none does, the one covering the fewest (above on a tie)."""
    ascent, descent = STORE_LABEL_PX * 0.8, STORE_LABEL_PX * 0.25
    places = (
        (x, y - 13, "middle"),
        (x, y + 13 + ascent, "middle"),
        (x + 14, y + ascent / 2, "start"),
        (x - 14, y + ascent / 2, "end"),
    )

    def cost(place: tuple[float, float, str]) -> tuple[int, int]:
        tx, ty, anchor = place
        left = tx - text_width / 2 if anchor == "middle" else tx if anchor == "start" else tx - text_width
        right, top, bottom = left + text_width, ty - ascent, ty + descent
        covered = sum(
            1
            for mx, my in markers
            if left - MARKER_CLEARANCE_PX <= mx <= right + MARKER_CLEARANCE_PX
            and top - MARKER_CLEARANCE_PX <= my <= bottom + MARKER_CLEARANCE_PX
        )
        outside = int(left < 0 or right > width or top < 0 or bottom > height)
        return covered + outside, outside

    return min(places, key=cost)
