"""Storage for rewards: PostgreSQL repositories and unit of work."""
