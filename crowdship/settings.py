"""The one settings object, read from `CROWDSHIP_*` environment variables.

`crowdship services up` writes the URLs of the project's own servers to `.local/services.env`; that file is
the lowest-priority source, so a variable set in the environment always wins and points the project at
existing servers instead.
"""

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crowdship.strength import TEST_SECRET_KEY, weak_key_reason

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOCAL_DIR = PROJECT_ROOT / ".local"
SERVICES_ENV_FILE = DEFAULT_LOCAL_DIR / "services.env"
SHARED_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"
"""Real stores, census points, street networks and benchmark instances live beside the repository, not in it."""
DEFAULT_STREET_NETWORKS_DIR = SHARED_DATA_DIR / "osm_street_networks"
"""OSMnx GraphML street networks beside the repository; absent on most machines, and then maps use a grid."""
SECRET_ENV_FILE = DEFAULT_LOCAL_DIR / "secret.env"
"""Where `crowdship demo` keeps the development signing key it generates (never committed): in the local
folder, `CROWDSHIP_LOCAL_DIR` when set (`local_env_files`)."""


class SettingMissing(RuntimeError):
    """A setting the command or service needs is not given: said in one line, with how to give it."""


class Settings(BaseSettings):
    # Later env files win over earlier ones; the environment wins over both. Inputs never appear in errors,
    # so a refused secret is not echoed back.
    model_config = SettingsConfigDict(
        env_prefix="CROWDSHIP_",
        env_file=(SERVICES_ENV_FILE, SECRET_ENV_FILE),
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL with PostGIS, e.g. postgresql://user@host:5432/crowdship",
    )
    redis_url: str | None = Field(default=None, description="Redis, e.g. redis://host:6379/0")
    local_dir: Path = Field(default=DEFAULT_LOCAL_DIR, description="Where the project's own servers keep their data")
    street_networks_dir: Path = Field(
        default=DEFAULT_STREET_NETWORKS_DIR,
        description="A folder of OSMnx GraphML street networks drawn under maps where one covers the place",
    )
    db_pool_min_size: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Connections kept open; unset, the max size: a pool that grows on demand opens connections one after "
            "another while a burst waits, and under load that outlasts the fail-fast pool timeout"
        ),
    )
    db_pool_max_size: int = Field(default=10, ge=1)
    db_pool_timeout_s: float = Field(
        default=0.5, gt=0, le=60, description="Longest wait for a pooled connection before a 503 (fail fast)"
    )
    db_connect_timeout_s: int = Field(default=3, ge=1, le=60, description="Longest wait to open a connection")
    db_statement_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=3_600,
        description=(
            "The API's and the dispatcher's statements are ended by PostgreSQL itself after this long (a slow query, "
            "a lock wait): the server stops work nobody waits for any more"
        ),
    )
    request_deadline_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description=(
            "An API request whose response has not started after this long is answered 503 with Retry-After (a "
            "server that stopped answering); a response already started (an event stream) is not cut. PostgreSQL ends "
            "an API transaction silent this long: its request was answered, and a frozen process keeps no row locks"
        ),
    )
    redis_timeout_s: float = Field(default=2.0, gt=0, le=60, description="Longest wait for a Redis reply")
    redis_connect_timeout_s: float = Field(default=0.5, gt=0, le=60, description="Longest wait to reach Redis")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"

    # --- Live dispatch and the API (issue 5) ---
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs access tokens; required to serve the API outside tests (`make demo` writes one)",
    )
    access_token_ttl_s: int = Field(default=900, ge=30, description="Lifetime of a bearer token")
    offer_ttl_s: int = Field(default=60, ge=1, description="How long a shopper has to accept an offer")
    reoffer_after_s: int = Field(
        default=300, ge=0, le=86_400, description="An order whose offer expired unanswered may go to that trip again"
    )
    max_offers_per_pair: int = Field(default=3, ge=1, le=20, description="Offers of one order to one trip, at most")
    max_drop_outs: int = Field(
        default=3, ge=1, le=100, description="Accepted offers a shopper may drop out of within the drop-out window"
    )
    drop_out_window_h: float = Field(
        default=24.0, gt=0, le=24 * 30, description="The rolling window drop-outs are counted over, in hours"
    )
    delivery_geofence_m: float = Field(default=150.0, gt=0, description="Max proof distance to drop-off")
    delivery_max_attempts: int = Field(default=3, ge=1, description="Failed proofs before the order fails")
    dispatch_cadence_s: float = Field(default=10.0, gt=0, description="Seconds between dispatcher batches")
    dispatch_lease_s: float = Field(default=30.0, gt=0, description="How long one dispatcher owns a store")
    dispatch_stall_s: float = Field(
        default=30.0,
        gt=0,
        le=3_600,
        description=(
            "A dispatcher round that finishes no store's batch for this long is abandoned and logged; the next "
            "rounds go on without the store it is stuck on. Its housekeeping and hourly refit are bounded alike"
        ),
    )
    matcher_time_limit_s: float = Field(default=2.0, gt=0, description="Budget of one matcher run")
    max_bundle_orders: int = Field(default=3, ge=1, description="Orders one offer may carry")
    road_factor: float = Field(default=1.3, ge=1.0, description="Road distance over straight-line distance")
    travel_speed_kmh: float = Field(default=30.0, gt=0, description="Average speed for detour minutes")
    compensation_cents_per_km: int = Field(default=60, ge=0, description="Reward quote per extra km")
    compensation_minimum_cents: int = Field(default=150, ge=0, description="Reward quote floor per order")
    tier_value_caps_cents: dict[int, int | None] = Field(
        default={0: 5_000, 1: 15_000, 2: 40_000, 3: None},
        description="Largest order value per trust tier (0 new .. 3 gold); null = no cap",
    )
    own_address_radius_m: float = Field(default=100.0, ge=0, description="No drop-offs this near home")
    location_sample_interval_s: float = Field(default=30.0, gt=0, description="Min seconds between samples")
    location_rate_limit_per_s: int = Field(default=10, ge=1, description="Updates per shopper per s")

    # --- Bounds on what callers may ask (hardening) ---
    max_request_body_bytes: int = Field(default=1_000_000, ge=1_024, description="Larger bodies get 413")
    event_streams_per_user: int = Field(default=3, ge=1, description="Open /shopper/events streams per account")
    event_streams_per_process: int = Field(default=500, ge=1, description="Open event streams per API process")
    # 50, ten times the per-address figure: locking an owner out everywhere takes failures from ten client
    # networks (IPv4 addresses, IPv6 /64s) every 15 minutes, not one, while guessing spread over any number of them
    # gets 50 tries a quarter-hour (4 800 a day) at passwords of 10 characters or more, common ones refused.
    login_attempts_per_account: int = Field(
        default=50,
        ge=1,
        description="Failed sign-ins per account from all client addresses before it is locked for every address",
    )
    login_attempts_per_account_from_address: int = Field(
        default=5, ge=1, description="Failed sign-ins per account from one client address before it is locked for it"
    )
    login_attempts_per_address: int = Field(default=20, ge=1, description="Sign-ins per client address per minute")
    login_lockout_s: int = Field(default=900, ge=1, description="How long a lock lasts, and a count of failures")
    trusted_proxies: str = Field(
        default="",
        max_length=1_000,
        description=(
            "Addresses (comma-separated, or *) of the reverse proxies whose X-Forwarded-For names the client "
            "(none by default): sign-ins are limited per client address, and behind an untrusted proxy every "
            "client is the proxy. Not 127.0.0.1 unless a proxy runs there: any process of the machine connects "
            "from it, and trusted it names a new address for each guess"
        ),
    )
    max_leave_by_h: float = Field(default=12.0, gt=0, le=48, description="A trip's leave-by, at most this far ahead")
    max_destination_km: float = Field(
        default=150.0, gt=0, le=1_000, description="A trip's destination, at most this far from the store"
    )
    order_horizon_days: int = Field(
        default=14, ge=1, le=365, description="An order's delivery window ends at most this far ahead"
    )
    idempotency_retention_days: int = Field(
        default=30, ge=1, le=3_650, description="How long an idempotency key answers a retry; then it is forgotten"
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql://")
        return url

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return url

    @field_validator("matcher_time_limit_s")
    @classmethod
    def _matcher_within_the_lease(cls, limit: float, info: ValidationInfo) -> float:
        """A batch whose lease runs out before it writes its offers writes none: the matcher must fit well inside."""
        lease = info.data.get("dispatch_lease_s")
        if lease is not None and limit > lease / 2:
            raise ValueError(f"must be at most half of CROWDSHIP_DISPATCH_LEASE_S ({lease:g} s)")
        return limit

    @field_validator("db_pool_max_size")
    @classmethod
    def _pool_minimum_within_maximum(cls, maximum: int, info: ValidationInfo) -> int:
        minimum = info.data.get("db_pool_min_size")
        if minimum is not None and minimum > maximum:
            raise ValueError(f"must be at least CROWDSHIP_DB_POOL_MIN_SIZE ({minimum})")
        return maximum

    @property
    def pool_min_size(self) -> int:
        return self.db_pool_max_size if self.db_pool_min_size is None else self.db_pool_min_size

    @field_validator("secret_key")
    @classmethod
    def _strong_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None:
            reason = weak_key_reason(key.get_secret_value())
            if reason is not None:
                raise ValueError(f"{reason}; generate one with `openssl rand -hex 32`")
        return key

    def require_secret_key(self) -> str:
        """The key that signs tokens. Tests get a fixed key of their own; anywhere else a missing key stops the
        service at start, so that it never signs with a key someone else knows."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.environment == "test":
            return TEST_SECRET_KEY
        raise SettingMissing(
            "CROWDSHIP_SECRET_KEY is not set: export a random key (openssl rand -hex 32), or run `make demo`, "
            f"which writes a development key into {self.local_dir / SECRET_ENV_FILE.name}"
        )

    def require_database_url(self) -> str:
        if self.database_url is None:
            raise SettingMissing("no database configured: run `crowdship services up` or set CROWDSHIP_DATABASE_URL")
        return self.database_url

    def require_redis_url(self) -> str:
        if self.redis_url is None:
            raise SettingMissing("no Redis configured: run `crowdship services up` or set CROWDSHIP_REDIS_URL")
        return self.redis_url


def ensure_development_key(settings: Settings) -> bool:
    """Writes a fresh random signing key into `.local/secret.env` (readable by its owner only) when none is
    configured, for development on this machine; True if it wrote one. Never for production."""
    if settings.secret_key is not None or settings.environment == "production":
        return False
    secret_file = settings.local_dir / SECRET_ENV_FILE.name
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(
            f"# Written by `crowdship demo`: this machine's development signing key.\n"
            f"CROWDSHIP_SECRET_KEY={secrets.token_hex(32)}\n"
        )
    get_settings.cache_clear()
    return True


def local_env_files() -> tuple[Path, Path]:
    """services.env and secret.env of the local folder: `CROWDSHIP_LOCAL_DIR` when the environment sets it,
    where `crowdship services up` and `crowdship demo` write them, else the clone's `.local`."""
    local_dir = Path(os.environ.get("CROWDSHIP_LOCAL_DIR") or DEFAULT_LOCAL_DIR)
    return local_dir / SERVICES_ENV_FILE.name, local_dir / SECRET_ENV_FILE.name


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings(_env_file=local_env_files())


def environment_only_settings() -> Settings:
    """Settings from the process environment alone, ignoring the file the local services write."""
    return Settings(_env_file=None)
