"""A tiny FastAPI app wired with the security layer only (keys, roles, limits, webhooks).

Independent of ``api.app`` so the security modules are tested on their own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from api.auth.deps import ThreadOwners, current_principal, rate_limited, require_role
from api.auth.principal import Principal, Role
from api.auth.setup import install_security
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError
from api.routes import webhooks
from graphs.core.database import Database
from graphs.core.settings import Settings

Caller = Annotated[Principal, Depends(rate_limited)]
Staff = Annotated[Principal, Depends(require_role(Role.STAFF))]
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]


def build_app(db: Database, settings: Settings, *, dev: bool = False) -> FastAPI:
    app = FastAPI()
    app.state.db = db
    app.state.settings = settings
    install_security(app, settings, dev=dev)

    @app.exception_handler(ProblemError)
    async def problem(request: Request, exc: ProblemError) -> JSONResponse:
        return JSONResponse(
            exc.to_dict(request.url.path), exc.status, exc.headers, media_type=PROBLEM_MEDIA_TYPE
        )

    @app.get("/whoami")
    async def whoami(who: Annotated[Principal, Depends(current_principal)]) -> dict[str, str]:
        return {"key_id": who.key_id, "name": who.name, "role": who.role.value}

    @app.get("/chat")
    async def chat(who: Caller) -> dict[str, str]:
        return {"role": who.role.value}

    @app.post("/escalations/resolve")
    async def resolve(who: Staff) -> dict[str, str]:
        return {"by": who.name}

    @app.post("/knowledge/ingest")
    async def ingest(who: Admin) -> dict[str, str]:
        return {"by": who.name}

    @app.post("/threads/{thread_id}")
    async def use_thread(thread_id: str, who: Caller) -> dict[str, str]:
        await ThreadOwners(db).claim(thread_id, who)
        return {"thread_id": thread_id}

    @app.get("/threads/{thread_id}")
    async def read_thread(thread_id: str, who: Caller) -> dict[str, str]:
        await ThreadOwners(db).check(thread_id, who)
        return {"thread_id": thread_id}

    app.include_router(webhooks.router)
    return app
