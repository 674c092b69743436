"""Use cases of live dispatch: one small function each, the same for the API, the dispatcher and the CLI.

Each opens a unit of work, loads what it needs, lets the domain decide, and commits. Dependencies come in
through `DispatchContext` (storage, clock, live state, configuration); nothing here knows about HTTP.
"""
