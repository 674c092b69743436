"""The one settings object, read from `CROWDSHIP_*` environment variables.

`crowdship services up` writes the URLs of the project's own servers to `.local/services.env`; that file is
the lowest-priority source, so a variable set in the environment always wins and points the project at
existing servers instead.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOCAL_DIR = PROJECT_ROOT / ".local"
SERVICES_ENV_FILE = DEFAULT_LOCAL_DIR / "services.env"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CROWDSHIP_", env_file=SERVICES_ENV_FILE, extra="ignore", frozen=True
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL with PostGIS, e.g. postgresql://user@host:5432/crowdship",
    )
    redis_url: str | None = Field(default=None, description="Redis, e.g. redis://host:6379/0")
    local_dir: Path = Field(
        default=DEFAULT_LOCAL_DIR, description="Where the project's own servers keep their data"
    )
    db_pool_min_size: int = Field(default=1, ge=0)
    db_pool_max_size: int = Field(default=10, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"

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

    def require_database_url(self) -> str:
        if self.database_url is None:
            raise RuntimeError(
                "no database configured: run `crowdship services up` or set CROWDSHIP_DATABASE_URL"
            )
        return self.database_url

    def require_redis_url(self) -> str:
        if self.redis_url is None:
            raise RuntimeError(
                "no Redis configured: run `crowdship services up` or set CROWDSHIP_REDIS_URL"
            )
        return self.redis_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def environment_only_settings() -> Settings:
    """Settings from the process environment alone, ignoring the file the local services write."""
    return Settings(_env_file=None)  # type: ignore[call-arg]
