"""Every place an order can go in a set of fleet routes, kept as flat arrays for ruin and recreate.

Pricing an insertion everywhere at once is one vectorised expression over the slots; an insertion shifts
a slice of preallocated arrays instead of rebuilding them, which is what keeps a recreate step cheap.
Nodes are local: 0 is the store, i + 1 is order i.
"""

from __future__ import annotations

import numpy as np

from dispatch.matching.instance import FloatArray


class InsertionSlots:
    """Every place an order can go in the fleet routes, as arrays over slots grouped by route in route order:
    the node before the slot, the node after it, the arc it would replace (its cost) and the route it is in;
    and each route's load. Preallocated, so that an insertion shifts a slice instead of rebuilding lists."""

    def __init__(self, routes: list[list[int]], size: FloatArray, arc: FloatArray, room: int) -> None:
        """`room`: how many orders the routes may hold in all."""
        capacity = 2 * room + 2  # at most one route per order: two slots each
        self.count = 0
        self.before = np.zeros(capacity, dtype=np.int64)
        self.after = np.zeros(capacity, dtype=np.int64)
        self.owner = np.zeros(capacity, dtype=np.int64)
        self.replaced = np.zeros(capacity)
        self.load = np.zeros(capacity)
        """Per slot: the load of the route it is in."""
        self.arc = arc
        before: list[int] = []
        after: list[int] = []
        owner: list[int] = []
        self.first: list[int] = []
        for r, route in enumerate(routes):
            nodes = [i + 1 for i in route]
            self.first.append(len(before))
            before += [0, *nodes]
            after += [*nodes, 0]
            owner += [r] * (len(nodes) + 1)
        self.count = len(before)
        self.before[: self.count] = before
        self.after[: self.count] = after
        self.owner[: self.count] = owner
        self.replaced[: self.count] = arc[self.before[: self.count], self.after[: self.count]]
        self.loads: list[float] = [float(size[route].sum()) for route in routes]
        self.load[: self.count] = np.asarray(self.loads)[self.owner[: self.count]]

    def open_route(self, nodes: list[int], load: float) -> int:
        """A new route through `nodes`; its index."""
        route, at, width = len(self.loads), self.count, len(nodes) + 1
        self.before[at : at + width] = [0, *nodes]
        self.after[at : at + width] = [*nodes, 0]
        self.owner[at : at + width] = route
        self.replaced[at : at + width] = self.arc[self.before[at : at + width], self.after[at : at + width]]
        self.load[at : at + width] = load
        self.count += width
        self.loads.append(load)
        self.first.append(at)
        return route

    def insertion_costs(self, node: int) -> FloatArray:
        """What putting `node` into each slot adds (slots of routes it would overfill not excluded)."""
        row = self.arc[node]
        n = self.count
        extra: FloatArray = row[self.before[:n]] + row[self.after[:n]] - self.replaced[:n]
        return extra

    def route_loads(self) -> FloatArray:
        """Per slot, the load of its route."""
        loads: FloatArray = self.load[: self.count]
        return loads

    def insert(self, slot: int, order: int, size: float) -> tuple[int, int]:
        """Put `order` into `slot`; its (route, position in the route)."""
        n, node = self.count, order + 1
        route = int(self.owner[slot])
        for column in (self.before, self.after, self.owner, self.replaced, self.load):
            column[slot + 2 : n + 1] = column[slot + 1 : n]
        self.after[slot + 1] = self.after[slot]
        self.after[slot] = node
        self.before[slot + 1] = node
        self.owner[slot + 1] = route
        self.replaced[slot] = self.arc[self.before[slot], node]
        self.replaced[slot + 1] = self.arc[node, self.after[slot + 1]]
        self.count = n + 1
        for later in range(route + 1, len(self.first)):
            self.first[later] += 1
        self.loads[route] += size
        end = self.first[route + 1] if route + 1 < len(self.first) else self.count
        self.load[self.first[route] : end] = self.loads[route]
        return route, slot - self.first[route]
