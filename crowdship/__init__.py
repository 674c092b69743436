"""The platform shell shared by every package: settings, logging, storage, local services and the CLI."""
