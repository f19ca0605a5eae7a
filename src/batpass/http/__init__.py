"""HTTP plumbing shared by every capability's router: the node context handed to routes,
dependency aliases (context, admin key, outbound client), and RFC 9457 problem details.

It knows no capability. ``node/`` builds the :class:`NodeContext` in the app's lifespan and
stores it on ``app.state.ctx``; routers reach it only through the aliases below.
"""

from batpass.http._context import (
    AdminKey,
    Ctx,
    NodeContext,
    get_ctx,
    require_admin,
)
from batpass.http._problems import problem_body, problem_response

__all__ = [
    "AdminKey",
    "Ctx",
    "NodeContext",
    "get_ctx",
    "problem_body",
    "problem_response",
    "require_admin",
]
