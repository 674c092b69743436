"""`/docs` works with no network: Swagger UI's files come from this service, never from another host."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from fastapi.testclient import TestClient


def test_docs_page_references_no_external_host(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    references = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert references, "the page loads Swagger UI's script and stylesheet"
    assert all(reference.startswith("/") and not reference.startswith("//") for reference in references), references
    assert "http://" not in page.text
    assert "https://" not in page.text


def test_docs_assets_are_served_locally(client: TestClient) -> None:
    script = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    stylesheet = client.get("/static/swagger-ui/swagger-ui.css")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.text
    assert stylesheet.status_code == 200
    assert client.get("/docs/oauth2-redirect").status_code == 200


def test_redoc_is_not_offered_since_it_would_load_from_a_cdn(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404


def test_the_favicon_browsers_ask_for_is_served_locally(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")


def _script_sources(policy: str) -> list[str]:
    directive = next(part.strip() for part in policy.split(";") if part.strip().startswith("script-src "))
    return directive.split()[1:]


@pytest.mark.parametrize("path", ["/docs", "/docs/oauth2-redirect"])
def test_the_docs_pages_run_only_swagger_uis_files_and_their_own_inline_script(client: TestClient, path: str) -> None:
    """Whoever reads `/docs` pastes a token into it: its pages run Swagger UI's script file from here and their own
    inline script (by its hash) and nothing else, so markup that slipped into what they draw runs no script; they
    load nothing from another host and send forms nowhere else."""
    page = client.get(path)
    policy = page.headers["content-security-policy"]
    sources = _script_sources(policy)
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert inline, "each page has its inline script"
    hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'" for script in inline}
    assert set(sources) == {"'self'"} | hashes
    for directive in ("default-src 'none'", "connect-src 'self'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in policy
