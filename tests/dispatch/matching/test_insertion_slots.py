"""The slot arrays ruin and recreate prices insertions with stay true to the routes they describe."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.matching.insertion_slots import InsertionSlots


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 11), min_size=1, max_size=4, unique=True), min_size=0, max_size=3),
    st.lists(st.tuples(st.integers(0, 100), st.booleans()), max_size=8),
)
def test_slots_agree_with_the_routes_they_describe_after_every_insertion(
    layout: list[list[int]], moves: list[tuple[int, bool]]
) -> None:
    """The preallocated slot arrays, shifted in place, say the same as rebuilding them from the routes."""
    seen: set[int] = set()
    routes: list[list[int]] = []
    for route in layout:
        kept = [o for o in route if o not in seen]
        seen.update(kept)
        if kept:
            routes.append(kept)
    free = [o for o in range(12) if o not in seen]
    rng = np.random.default_rng(0)
    arc = rng.uniform(1, 9, size=(13, 13))
    sizes = np.arange(1.0, 13.0)
    slots = InsertionSlots(routes, sizes, arc, room=12)
    for pick, open_new in moves:
        if not free:
            break
        order = free.pop(pick % len(free))
        if open_new or slots.count == 0:
            slots.open_route([order + 1], float(sizes[order]))
            routes.append([order])
        else:
            slot = pick % slots.count
            into, position = slots.insert(slot, order, float(sizes[order]))
            routes[into].insert(position, order)
        nodes = [[0, *(o + 1 for o in route), 0] for route in routes]
        assert slots.before[: slots.count].tolist() == [n for path in nodes for n in path[:-1]]
        assert slots.after[: slots.count].tolist() == [n for path in nodes for n in path[1:]]
        assert slots.route_loads().tolist() == [
            sum(sizes[r]) for r, path in zip(routes, nodes, strict=True) for _ in path[1:]
        ]
        assert np.allclose(
            slots.insertion_costs(5),
            [arc[5, a] + arc[5, b] - arc[a, b] for path in nodes for a, b in itertools.pairwise(path)],
        )
