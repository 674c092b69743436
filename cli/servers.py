"""`crowdship services` and `crowdship db`: the project's own PostgreSQL + PostGIS and Redis, and the schema's
migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from cli.commands import Commands
from cli.output import console, fail
from crowdship.local_servers import LocalServices
from crowdship.settings import environment_only_settings, get_settings

services_app = Commands(no_args_is_help=True, help="The project's own PostgreSQL + PostGIS and Redis.")
db_app = Commands(no_args_is_help=True, help="Database schema migrations.")


def local_services() -> LocalServices:
    return LocalServices(get_settings().local_dir)


@contextmanager
def _local_folder() -> Iterator[None]:
    """A local folder the servers cannot use (a file in its place, no permission) is a bad setting: named."""
    try:
        yield
    except OSError as error:
        local_dir = get_settings().local_dir
        where = error.filename if error.filename is not None else local_dir
        fail(f"CROWDSHIP_LOCAL_DIR={local_dir} cannot hold the servers: {error.strerror or error}: {where}")


@services_app.command("up")
def services_up() -> None:
    """Start the local servers (no-op for those already running or configured in the environment)."""
    external = environment_only_settings()
    local = local_services()
    own = local.own_urls()  # a shell that sourced .local/services.env names these: they are still ours to start
    postgres = external.database_url in (None, own.get("CROWDSHIP_DATABASE_URL"))
    redis = external.redis_url in (None, own.get("CROWDSHIP_REDIS_URL"))
    if not postgres and not redis:
        console.print("CROWDSHIP_DATABASE_URL and CROWDSHIP_REDIS_URL are set: using those servers.")
        return
    with _local_folder():
        urls = local.up(postgres=postgres, redis=redis)
    for name, url in urls.items():
        console.print(f"{name}={url}")


@services_app.command("down")
def services_down() -> None:
    """Stop the local servers (their data stays under the local folder)."""
    with _local_folder():
        local_services().down()
    console.print("local services stopped")


@services_app.command("status")
def services_status() -> None:
    """Show whether the local servers run, and where."""
    table = Table("service", "state", "url", "pid", "detail")
    for status in local_services().status():
        table.add_row(
            status.name,
            "running" if status.running else "stopped",
            status.url or "",
            str(status.pid or ""),
            status.detail,
        )
    console.print(table)
    external = environment_only_settings()
    for name, url in (("PostgreSQL", external.database_url), ("Redis", external.redis_url)):
        if url:
            console.print(f"the environment points {name} at {url}")


@db_app.command("migrate")
def db_migrate(
    revision: Annotated[
        str, typer.Argument(metavar="REVISION", show_default=False, help="Target revision (default: the newest)")
    ] = "heads",
) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from crowdship import migrate

    url = get_settings().require_database_url()
    with migrate.readable_errors(url):
        migrate.upgrade(url, revision)
        console.print(f"database at revision {', '.join(migrate.current_revisions(url))}")


@db_app.command("status")
def db_status() -> None:
    """Show the applied and the newest revision."""
    from crowdship import migrate

    url = get_settings().require_database_url()
    with migrate.readable_errors(url):
        applied = ", ".join(migrate.current_revisions(url)) or "none"
        console.print(f"applied: {applied}; newest: {', '.join(migrate.head_revisions())}")
