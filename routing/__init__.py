"""Geography: points, distances and travel times, service areas, maps, candidate pruning.

Plain Python and numpy; no database, network or clock. PostGIS mirrors what is here for queries at scale.

- `geo`: GeoPoint, validated where it is made.
- `distance`: great-circle and planar distance matrices, exact geodesic distance for single pairs.
- `travel`: the TravelModel protocol; straight line x road factor, or shortest paths on an OSM road graph.
- `areas`: service areas from GeoJSON, point checks, OutsideServiceArea.
- `streets`: the base under maps: OpenStreetMap streets where a shipped network covers the place, else a
  metric graticule; `maps`: a store's map as an SVG string (equal scale, legend, scale bar, bounded layers),
  its marks (colours, symbols, escaping) in `map_symbols`.
- `pruning`: the (trip, order) pairs worth the matcher's time, found without testing all of them;
  `pruning_problem` is its validated input (`PruningProblem`) and answer (`CandidatePairs`).
"""
