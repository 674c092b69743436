"""The simulated day's event queue."""

from __future__ import annotations

import heapq
from enum import IntEnum
from typing import Any


class Kind(IntEnum):
    """Event kinds; at the same instant the lower value happens first."""

    DELIVER = 0
    LEAVE = 1
    RESPOND = 2
    CANCEL = 3
    ORDER = 4
    SHOPPER = 5
    BATCH = 6
    OPERATIONS = 7
    """What operations did with an order that failed at the door, as recorded (a replay only)."""
    EARNED_ELSEWHERE = 8
    """A reward a replayed day's shopper earned at another store, counted towards their caps (a replay only)."""
    REVERSED_ELSEWHERE = 9
    """Such a reward reversed: the caps count it no more (a replay only)."""


class EventQueue:
    """Events by time, then kind, then the order they were pushed in: the same day replays the same way."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, Any]] = []
        self._pushed = 0

    def push(self, at_s: float, kind: Kind, payload: Any) -> None:
        self._pushed += 1
        heapq.heappush(self._heap, (at_s, int(kind), self._pushed, payload))

    def pop(self) -> tuple[float, Kind, Any]:
        at_s, kind, _, payload = heapq.heappop(self._heap)
        return at_s, Kind(kind), payload

    def __bool__(self) -> bool:
        return bool(self._heap)
