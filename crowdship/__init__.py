"""The ground floor every package stands on: settings, logging, the clock, money, storage and the local servers.
It imports none of the packages above it (the command line lives in `cli/`)."""
