"""The node's API documentation, offline: Swagger UI at ``/docs`` and ReDoc at ``/redoc``, their
scripts and styles served from assets vendored in this package (``static/vendor``, versions and
checksums in its PROVENANCE.md) instead of a CDN, so the pages work on a node without internet
access and load nothing from elsewhere."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "CONTENT_SECURITY_POLICY", "mount_api_docs"]

#: where the vendored assets are served
ASSETS_PATH = "/static/api-docs"
#: the pages may load from the node only: ReDoc's bundle would fetch its vendor's logo from
#: cdn.redoc.ly (and has no option against it), so the browser is told not to (the page's
#: inline start-up scripts and styles, and ReDoc's search worker from a blob, stay allowed)
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
_VENDOR = Path(__file__).parent / "static" / "vendor"


def mount_api_docs(app: FastAPI, *, openapi_url: str = "/openapi.json") -> None:
    """Serve ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) for ``openapi_url`` from the vendored
    assets; nothing in either page points outside the node (no validator badge, no web fonts, no
    favicon from elsewhere)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=_VENDOR), name="api-docs-assets")
    title = f"{app.title} — API"
    redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _self_only(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=title,
                swagger_js_url=f"{ASSETS_PATH}/swagger-ui/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_PATH}/swagger-ui/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS_PATH}/swagger-ui/favicon-32x32.png",
                oauth2_redirect_url=redirect,
                # the validator badge would send the document to validator.swagger.io
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get(redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _self_only(
            get_redoc_html(
                openapi_url=openapi_url,
                title=title,
                redoc_js_url=f"{ASSETS_PATH}/redoc/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS_PATH}/swagger-ui/favicon-32x32.png",
                with_google_fonts=False,
            )
        )


def _self_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
