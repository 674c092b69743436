"""Geography: points, distances and travel times, detours, service areas, candidate pruning.

Plain Python and numpy; no database, network or clock. PostGIS mirrors what is here for queries at scale.
"""
