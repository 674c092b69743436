"""`/docs` served from this process alone: Swagger UI's script, stylesheet and icon are vendored in
`api/static/swagger-ui/` (npm `swagger-ui-dist`), so the page works with no network. ReDoc is not offered:
its script would come from a CDN."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_UI_DIR = Path(__file__).parent / "static" / "swagger-ui"
SWAGGER_UI_URL = "/static/swagger-ui"
DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def install_offline_docs(app: FastAPI) -> None:
    """Adds `/docs` (and its OAuth2 redirect) with local assets; create the app with `docs_url=None`."""
    app.mount(SWAGGER_UI_URL, StaticFiles(directory=SWAGGER_UI_DIR), name="swagger-ui")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _with_policy(
            get_swagger_ui_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{SWAGGER_UI_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{SWAGGER_UI_URL}/swagger-ui.css",
                swagger_favicon_url=f"{SWAGGER_UI_URL}/favicon-32x32.png",
                oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            )
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _with_policy(get_swagger_ui_oauth2_redirect_html())


INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """The page with a content security policy of its own: whoever reads `/docs` pastes a bearer token into it,
    so it runs Swagger UI's script file from here and the page's own inline script (allowed by its hash: FastAPI
    writes the settings into the page) and nothing else; its icons are data URLs, and it fetches only from this
    service."""
    scripts = INLINE_SCRIPT.findall(bytes(page.body).decode())
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)
    page.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; img-src 'self' data:; "
        "font-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    return page
