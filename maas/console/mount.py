"""`mount(app)`: the console's routes, static files, cookie bridge and error pages."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from maas.console.bridge import SessionBridge
from maas.console.client import ApiError
from maas.console.routes import (
    account,
    admin,
    apps,
    auth,
    dashboard,
    factory,
    keys,
    knowledge,
    models,
    playground,
    toolbox,
    usage,
)
from maas.console.security import clear_session
from maas.console.web import HERE, Console, CsrfFailed, NeedsSignIn, error_response


def mount(app: FastAPI) -> None:
    app.state.console = Console.build()
    app.add_middleware(SessionBridge)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for module in (auth, dashboard, models, playground, knowledge, apps, keys, usage,
                   account, admin, toolbox, factory):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/console", status_code=307)

    @app.exception_handler(NeedsSignIn)
    async def _sign_in(_: Request, exc: NeedsSignIn) -> Response:
        response = RedirectResponse(f"/console/login?next={quote(exc.next_path)}",
                                    status_code=303)
        clear_session(response)
        return response

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc.status, exc.message)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, _: CsrfFailed) -> Response:
        return error_response(request, 403, "The form's security token is missing or has "
                                            "expired. Reload the page and try again.")
