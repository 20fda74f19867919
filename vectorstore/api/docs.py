"""/docs (Swagger UI) and /redoc with their scripts and styles served by the API itself.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on a machine with no
internet access they are blank. The assets come from the `fastapi-offline` wheel
(Swagger UI 5 and ReDoc 2 bundles, MIT), mounted as static files; nothing else is
fetched: no Google fonts, no Swagger validator badge (which calls swagger.io), and a
Content-Security-Policy keeps the pages to this server (ReDoc's sidebar always asks
cdn.redoc.ly for its logo; blocked, the image hides itself).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
SWAGGER_UI = {"validatorUrl": None, "displayRequestDuration": True}
# Both pages start from an inline script and inline styles; ReDoc runs its search in a blob: worker.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'")


def mount_docs(app: FastAPI) -> None:
    """Add /docs, /redoc and their assets to an app made with docs_url=None, redoc_url=None."""
    app.mount(ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")

    def prefix(request: Request) -> str:
        # Behind a proxy that mounts the API under a path, the assets live under it too.
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = prefix(request)
        page = get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI",
                                   swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
                                   oauth2_redirect_url=None, swagger_ui_parameters=SWAGGER_UI)
        page.headers["Content-Security-Policy"] = CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = prefix(request)
        page = get_redoc_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{ASSETS}/favicon.png", with_google_fonts=False)
        page.headers["Content-Security-Policy"] = CSP
        return page
