"""`/docs` works with no network: Swagger UI's files come from this service, never from another host."""

from __future__ import annotations

import re

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
