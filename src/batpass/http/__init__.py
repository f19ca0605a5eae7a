"""HTTP plumbing shared by every capability's router: the node context handed to routes,
dependency aliases (context, admin key, outbound client), the request models' base and constrained
types (:class:`RequestModel`, limits from ``batpass.core.limits``), RFC 9457 problem details, the
error edge every app installs (:func:`install_error_handlers`), the OpenAPI document that says
how it answers (:func:`install_openapi`), and the edge's observability: the request id carried
across nodes (:class:`RequestIdMiddleware`, :func:`forward_request_id`), the access line and the
per-route request metrics (:class:`MetricsMiddleware`), and the payload recorder the demo's leak scan
reads (:class:`PayloadLogMiddleware`).

It knows no capability. ``node/`` builds the :class:`NodeContext` in the app's lifespan and
stores it on ``app.state.ctx``; routers reach it only through the aliases below.
"""

from batpass.http._access import AccessLogMiddleware
from batpass.http._context import (
    ADMIN_KEY_CHECKS,
    AdminKey,
    Ctx,
    NodeContext,
    authenticate_first,
    get_ctx,
    guard,
    require_admin,
)
from batpass.http._errors import (
    MAX_JSON_DEPTH,
    UNEXPECTED_LOGGER,
    BodyLimit,
    ErrorShape,
    PayloadTooLarge,
    UnsupportedMediaType,
    install_error_handlers,
    require_json,
    require_storable_params,
    validation_to_invalid_input,
)
from batpass.http._json import check_json, loads_json
from batpass.http._metrics import HttpMetrics, MetricsMiddleware, route_template
from batpass.http._models import (
    Document,
    FiniteFloat,
    IsoDate,
    Items,
    Jws,
    MassKg,
    OpenRequestModel,
    RequestModel,
    Text,
    Token,
)
from batpass.http._openapi import ERROR_SCHEMAS, PROBLEM, ErrorDoc, document_errors, install_openapi
from batpass.http._payload_log import PayloadLog, PayloadLogMiddleware
from batpass.http._problems import problem_body, problem_response
from batpass.http._request_id import REQUEST_ID_HEADER, RequestIdMiddleware, forward_request_id, request_id_of
from batpass.http._warm import warm_routes

__all__ = [
    "ADMIN_KEY_CHECKS",
    "ERROR_SCHEMAS",
    "MAX_JSON_DEPTH",
    "PROBLEM",
    "REQUEST_ID_HEADER",
    "UNEXPECTED_LOGGER",
    "AccessLogMiddleware",
    "AdminKey",
    "BodyLimit",
    "Ctx",
    "Document",
    "ErrorDoc",
    "ErrorShape",
    "FiniteFloat",
    "HttpMetrics",
    "IsoDate",
    "Items",
    "Jws",
    "MassKg",
    "MetricsMiddleware",
    "NodeContext",
    "OpenRequestModel",
    "PayloadLog",
    "PayloadLogMiddleware",
    "PayloadTooLarge",
    "RequestIdMiddleware",
    "RequestModel",
    "Text",
    "Token",
    "UnsupportedMediaType",
    "authenticate_first",
    "check_json",
    "document_errors",
    "forward_request_id",
    "get_ctx",
    "guard",
    "install_error_handlers",
    "install_openapi",
    "loads_json",
    "problem_body",
    "problem_response",
    "request_id_of",
    "require_admin",
    "require_json",
    "require_storable_params",
    "route_template",
    "validation_to_invalid_input",
    "warm_routes",
]
