"""Writes the demo store through the dispatch repositories, once per seed."""

from collections.abc import Callable

from crowdship.errors import NotFound
from dispatch.repositories import DispatchUnitOfWork
from simulations.demo import DemoStore


def load_demo_store(unit_of_work: Callable[[], DispatchUnitOfWork], demo: DemoStore) -> bool:
    """Stores the demo in one transaction; returns False when this demo was loaded before."""
    with unit_of_work() as uow:
        try:
            uow.stores.get(demo.store.id)
        except NotFound:
            pass
        else:
            return False
        uow.stores.add(demo.store)
        for shopper in demo.shoppers:
            uow.shoppers.add(shopper)
        for trip in demo.trips:
            uow.trips.add(trip)
        for order in demo.orders:
            uow.orders.add(order)
        uow.commit()
        return True
