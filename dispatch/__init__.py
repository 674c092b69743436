"""Trips, orders, offers and deliveries, and the matcher that assigns orders to trips.

`model` holds the entities and their state machines; `adapters` hold their persistence. The domain never
touches a database, the network or the clock: callers pass in what it needs, including the time.
"""
