"""The per-node context routes depend on."""

from __future__ import annotations

import hashlib
import hmac
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import httpx
from fastapi import Depends, Request
from sqlalchemy import Engine

from batpass.core.errors import NotFound, Unauthorized

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: the attribute :func:`guard` sets on an authentication dependency
_GUARD = "__batpass_guard__"


@dataclass
class NodeContext:
    """Everything a route may use, built once per process by ``node.create_app``.

    ``services`` holds each capability's service objects keyed by their class, registered by the
    composition root; routes fetch theirs with :meth:`service`.
    """

    name: str
    did: str
    base_url: str
    resolver_base: str
    profiles: tuple[str, ...]
    engine: Engine
    admin_key_sha256: str
    production: bool
    client: httpx.AsyncClient
    sync_client: httpx.Client
    identity: Any  # batpass.trust.NodeIdentity (kept untyped here: http/ knows no capability)
    settings: Any
    services: dict[type[Any], Any] = field(default_factory=dict)

    def service(self, kind: type[T]) -> T:
        try:
            return self.services[kind]  # type: ignore[no-any-return]
        except KeyError as exc:
            raise NotFound(f"{kind.__name__} is not enabled on this node", rule="node profile") from exc

    def check_admin_key(self, presented: str | None) -> bool:
        if not presented:
            return False
        digest = hashlib.sha256(presented.encode()).hexdigest()
        return hmac.compare_digest(digest, self.admin_key_sha256)


async def get_ctx(request: Request) -> NodeContext:
    """The node context (async: a plain attribute read needs no worker-thread hop)."""
    ctx: NodeContext = request.app.state.ctx
    return ctx


Ctx = Annotated[NodeContext, Depends(get_ctx)]


def guard(fn: F) -> F:
    """Mark a dependency taking ``(request, ctx)`` as the authentication of the routes that use it
    (it raises ``Unauthorized``/``Forbidden``). FastAPI runs dependencies before it validates a
    typed body; a body refused before any dependency runs (malformed JSON, another media type,
    nested too deep) is refused only after the guards passed (:func:`authenticate_first`), so a
    caller without credentials gets 401 whatever it sent."""
    params = list(inspect.signature(fn).parameters)
    if params != ["request", "ctx"]:
        raise TypeError(f"a guard takes (request, ctx), {fn.__qualname__} takes {params}")
    setattr(fn, _GUARD, True)
    return fn


async def authenticate_first(request: Request) -> None:
    """Run the guards of the request's route (see :func:`guard`); they raise if the caller is not
    authenticated. Called only on the way to refusing the body, so a guard never runs twice."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    ctx = getattr(request.app.state, "ctx", None)
    if dependant is None or ctx is None:
        return
    pending, done = list(dependant.dependencies), set()
    while pending:
        dep = pending.pop(0)
        call = dep.call
        if call is not None and getattr(call, _GUARD, False) and call not in done:
            done.add(call)
            result = call(request, ctx)
            if inspect.isawaitable(result):
                await result
        pending.extend(dep.dependencies)


@guard
def require_admin(request: Request, ctx: Ctx) -> None:
    """Write and admin routes: the admin key in ``X-Api-Key`` (as EDC's management API takes it)."""
    if not ctx.check_admin_key(request.headers.get("x-api-key")):
        raise Unauthorized(
            "this route needs the node's admin key in the X-Api-Key header",
            rule='admin routes are authenticated (docs/architecture.md "URL layout")',
        )


@guard
async def _admin_key(request: Request, ctx: Ctx) -> None:
    """``require_admin`` as an async dependency (no worker-thread hop per request)."""
    require_admin(request, ctx)


AdminKey = Annotated[None, Depends(_admin_key)]
#: the dependencies that check the admin key (the node's OpenAPI document marks their routes)
ADMIN_KEY_CHECKS = (require_admin, _admin_key)
