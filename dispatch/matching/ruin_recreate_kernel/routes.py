"""A fleet route in the state is a linked list of orders: take an order off, put one on, 2-opt the route.
Each keeps the route's arc cost, load and length up to date."""

from __future__ import annotations

import numba as nb
import numpy as np

from dispatch.matching.ruin_recreate_kernel.state import (
    ARCS,
    END,
    F1,
    F2,
    HEAD,
    I2,
    LENGTH,
    LOAD,
    NEXT,
    OUT,
    PREV,
    ROUTE,
    compiled_now,
    jit,
)


@compiled_now(nb.void(I2, F2, F2, F1, nb.int64))
def unlink(ints, floats, arc, size, node):  # type: ignore[no-untyped-def]
    route = ints[ROUTE, node]
    before, after = ints[PREV, node], ints[NEXT, node]
    if before == END:
        ints[HEAD, route] = after
    else:
        ints[NEXT, before] = after
    if after != END:
        ints[PREV, after] = before
    a, b = before + 1, after + 1  # END + 1 is the store, node 0
    floats[ARCS, route] += arc[a, b] - arc[a, node + 1] - arc[node + 1, b]
    floats[LOAD, route] -= size[node]
    ints[LENGTH, route] -= 1
    if ints[LENGTH, route] == 0:
        floats[ARCS, route] = 0.0
        floats[LOAD, route] = 0.0
    ints[ROUTE, node] = OUT
    ints[NEXT, node] = END
    ints[PREV, node] = END


@compiled_now(nb.void(I2, F2, F2, F1, nb.int64, nb.int64, nb.int64))
def link_after(ints, floats, arc, size, route, before, node):  # type: ignore[no-untyped-def]
    """Put `node` on `route` after `before` (END: first)."""
    after = ints[HEAD, route] if before == END else ints[NEXT, before]
    if before == END:
        ints[HEAD, route] = node
    else:
        ints[NEXT, before] = node
    if after != END:
        ints[PREV, after] = node
    ints[PREV, node], ints[NEXT, node] = before, after
    a, b = before + 1, after + 1
    floats[ARCS, route] += arc[a, node + 1] + arc[node + 1, b] - arc[a, b]
    floats[LOAD, route] += size[node]
    ints[LENGTH, route] += 1
    ints[ROUTE, node] = route


@jit
def two_opt(ints, floats, arc, route):  # type: ignore[no-untyped-def]
    """Reverse segments of `route` while that shortens it (best move first); the pairs of arcs tried."""
    length = ints[LENGTH, route]
    nodes = np.empty(length + 2, dtype=np.int64)
    nodes[0] = 0
    at = ints[HEAD, route]
    for i in range(length):
        nodes[i + 1] = at + 1
        at = ints[NEXT, at]
    nodes[length + 1] = 0
    last = length + 1
    tried = 0
    improved = False
    for _ in range(length):
        tried += (last - 1) * (last - 2) // 2
        best_gain, best_i, best_j = -1e-9, -1, -1
        for i in range(last - 1):
            a, b = nodes[i], nodes[i + 1]
            ab = arc[a, b]
            for j in range(i + 2, last):
                c, d = nodes[j], nodes[j + 1]
                gain = arc[a, c] + arc[b, d] - ab - arc[c, d]
                if gain < best_gain:
                    best_gain, best_i, best_j = gain, i, j
        if best_i < 0:
            break
        improved = True
        nodes[best_i + 1 : best_j + 1] = nodes[best_i + 1 : best_j + 1][::-1].copy()
    if improved:
        cost = 0.0
        previous = END
        for i in range(1, last):
            order = nodes[i] - 1
            ints[PREV, order] = previous
            if previous == END:
                ints[HEAD, route] = order
            else:
                ints[NEXT, previous] = order
            previous = order
            cost += arc[nodes[i - 1], nodes[i]]
        ints[NEXT, previous] = END
        floats[ARCS, route] = cost + arc[nodes[last - 1], 0]
    return tried
