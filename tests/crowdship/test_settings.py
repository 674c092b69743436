"""One settings object: the environment wins over the file the local services write."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from crowdship.settings import SECRET_ENV_FILE, Settings, ensure_development_key, get_settings


def test_the_environment_overrides_the_local_services_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL set in the environment points the project at an existing server instead of its own."""
    monkeypatch.delenv("CROWDSHIP_DATABASE_URL", raising=False)
    monkeypatch.delenv("CROWDSHIP_REDIS_URL", raising=False)
    env_file = tmp_path / "services.env"
    env_file.write_text(
        "CROWDSHIP_DATABASE_URL=postgresql://postgres@127.0.0.1:5999/crowdship\nCROWDSHIP_REDIS_URL=redis://127.0.0.1:6999/0\n"
    )
    from_file = Settings(_env_file=env_file)
    assert from_file.database_url == "postgresql://postgres@127.0.0.1:5999/crowdship"

    monkeypatch.setenv("CROWDSHIP_DATABASE_URL", "postgresql://app@db.internal:5432/crowdship")
    overridden = Settings(_env_file=env_file)
    assert overridden.database_url == "postgresql://app@db.internal:5432/crowdship"
    assert overridden.redis_url == "redis://127.0.0.1:6999/0"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CROWDSHIP_DATABASE_URL", "mysql://localhost/crowdship"),
        ("CROWDSHIP_REDIS_URL", "http://localhost:6379"),
        ("CROWDSHIP_LOG_FORMAT", "xml"),
        ("CROWDSHIP_DB_POOL_MAX_SIZE", "0"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo in the environment fails at start-up with the setting's name, not later with a confusing error."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    field = variable.removeprefix("CROWDSHIP_").lower()
    assert field in str(raised.value)


def test_missing_servers_are_reported_with_what_to_do() -> None:
    """Without URLs, asking for one says how to get servers."""
    settings = Settings(_env_file=None, database_url=None, redis_url=None)
    with pytest.raises(RuntimeError, match="crowdship services up"):
        settings.require_database_url()
    with pytest.raises(RuntimeError, match="CROWDSHIP_REDIS_URL"):
        settings.require_redis_url()


def test_a_matcher_budget_that_would_outlast_the_dispatch_lease_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch whose lease ran out writes no offer: a matcher given most of the lease would make every batch of a
    busy store come to nothing, so the budget is held to half the lease at start-up."""
    monkeypatch.setenv("CROWDSHIP_DISPATCH_LEASE_S", "10")
    monkeypatch.setenv("CROWDSHIP_MATCHER_TIME_LIMIT_S", "6")
    with pytest.raises(ValidationError, match="CROWDSHIP_DISPATCH_LEASE_S"):
        Settings(_env_file=None)
    monkeypatch.setenv("CROWDSHIP_MATCHER_TIME_LIMIT_S", "5")
    assert Settings(_env_file=None).matcher_time_limit_s == 5


def test_the_files_are_read_from_and_the_key_written_to_the_configured_local_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With CROWDSHIP_LOCAL_DIR elsewhere, `crowdship services up` writes that folder's services.env: the
    commands after it must read that one, not the clone's `.local` (they used the clone's servers), and the
    demo's development key goes there too."""
    monkeypatch.delenv("CROWDSHIP_DATABASE_URL", raising=False)
    monkeypatch.delenv("CROWDSHIP_REDIS_URL", raising=False)
    monkeypatch.delenv("CROWDSHIP_SECRET_KEY", raising=False)
    monkeypatch.setenv("CROWDSHIP_ENVIRONMENT", "development")
    local = tmp_path / "elsewhere"
    local.mkdir()
    (local / "services.env").write_text("CROWDSHIP_DATABASE_URL=postgresql://postgres@127.0.0.1:5998/crowdship\n")
    monkeypatch.setenv("CROWDSHIP_LOCAL_DIR", str(local))
    get_settings.cache_clear()
    try:
        assert get_settings().database_url == "postgresql://postgres@127.0.0.1:5998/crowdship"
        assert get_settings().secret_key is None  # the clone's own .local/secret.env is not this folder's
        clones_key = SECRET_ENV_FILE.read_bytes() if SECRET_ENV_FILE.exists() else None
        assert ensure_development_key(get_settings())
        assert (local / "secret.env").stat().st_mode & 0o777 == 0o600
        assert get_settings().secret_key is not None
        assert (SECRET_ENV_FILE.read_bytes() if SECRET_ENV_FILE.exists() else None) == clones_key
    finally:
        get_settings.cache_clear()


def test_the_connection_pool_is_fixed_at_its_max_size_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pool that grows on demand opens its connections one after another while a burst waits, and under load that
    outlasts the fail-fast pool timeout (a 503 for a request the server could have served): it starts full."""
    monkeypatch.setenv("CROWDSHIP_DB_POOL_MAX_SIZE", "7")
    assert Settings(_env_file=None).pool_min_size == 7
    monkeypatch.setenv("CROWDSHIP_DB_POOL_MIN_SIZE", "2")
    assert Settings(_env_file=None).pool_min_size == 2


def test_a_pool_whose_minimum_exceeds_its_maximum_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROWDSHIP_DB_POOL_MIN_SIZE", "12")
    monkeypatch.setenv("CROWDSHIP_DB_POOL_MAX_SIZE", "10")
    with pytest.raises(ValidationError, match="CROWDSHIP_DB_POOL_MIN_SIZE"):
        Settings(_env_file=None)
