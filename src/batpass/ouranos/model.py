"""The Ouranos data transaction domain: operators, plants, parts, parts structures, trades with
their request status, CFP records, certificates, releases and notifications.

Source: the published OpenAPI of ``ouranos-ecosystem-idi/data-transaction-system`` (bundled as
``_data/published-openapi.yaml``; models ``OperatorModel``, ``PlantModel``, ``PartsModel``,
``PartsStructureModel``, ``TradeModel``, ``StatusModel``, ``CfpModel``,
``CfpCertificationModel``) and the platform's traceability back end as its clients show it
(``infrastructure/traceabilityapi`` in ``data-transaction-system``, ``api/schemas/traceability.ts`` in
``ouranos-ecosystem-idi/sample-application-cfp-frontend``: ``cfpAcl`` item groups
``TOTALCFP``/``TOTALDQR``, ``cfpCertificationAcl``, ``notifications``).

The request life cycle is one table (:data:`TRANSITIONS`): the downstream operator (buyer)
cancels, the upstream operator (supplier) rejects or completes. This module is pure: no SQL, no
web framework, no HTTP client, no JSON.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

from batpass.core.errors import Conflict, InvalidInput

T = TypeVar("T")

# -- limits of the published API --------------------------------------------------------------

#: ``limit`` query parameter: at most 100 items per page
PAGE_LIMIT_MAX = 100
#: ``traceIds`` (cfp, tradeRequest): at most 50 comma-separated ids
TRACE_IDS_MAX = 50
#: ``operatorIds`` batch lookup: at most 100
OPERATOR_IDS_MAX = 100
#: ``PartsStructureModel.childrenPartsModel``: at most 50 children
CHILDREN_MAX = 50
#: ``StatusModel.message`` / ``replyMessage``
MESSAGE_MAX = 1000
#: ``ChangePasswordModel.newPassword``: 8-20 characters of this set
PASSWORD_RE = re.compile(r"[a-zA-Z0-9!@#$%^&*()]{8,20}")
#: certificate file extensions the traceability back end accepts (``fileUploadUrl``)
CERTIFICATE_EXTENSIONS: frozenset[str] = frozenset(
    {
        "txt",
        "csv",
        "pdf",
        "doc",
        "docx",
        "odt",
        "ppt",
        "pptx",
        "odp",
        "xls",
        "xlsx",
        "ods",
        "jpg",
        "jpeg",
        "bmp",
        "gif",
        "png",
        "zip",
    }
)
#: largest certificate file the hub stores (the API's request body limit is 25 MB)
CERTIFICATE_MAX_BYTES = 25 * 1024 * 1024


class AmountUnit(StrEnum):
    """``PartsModel.amountRequiredUnit``."""

    LITER = "liter"
    KILOGRAM = "kilogram"
    CUBIC_METER = "cubic-meter"
    KILOWATT_HOUR = "kilowatt-hour"
    MEGAJOULE = "megajoule"
    TON_KILOMETER = "ton-kilometer"
    SQUARE_METER = "square-meter"
    UNIT = "unit"


class CfpType(StrEnum):
    """``CfpModel.cfpType``; a write carries exactly the first four."""

    PRE_PRODUCTION = "preProduction"
    MAIN_PRODUCTION = "mainProduction"
    PRE_COMPONENT = "preComponent"
    MAIN_COMPONENT = "mainComponent"
    PRE_PRODUCTION_TOTAL = "preProductionTotal"
    MAIN_PRODUCTION_TOTAL = "mainProductionTotal"
    PRE_COMPONENT_TOTAL = "preComponentTotal"
    MAIN_COMPONENT_TOTAL = "mainComponentTotal"
    PRE_PRODUCTION_RESPONSE = "preProductionResponse"
    MAIN_PRODUCTION_RESPONSE = "mainProductionResponse"


#: the four types a CFP write must carry together (OpenAPI PUT cfp: "a missing type gives 400")
WRITABLE_CFP_TYPES: tuple[CfpType, ...] = (
    CfpType.PRE_PRODUCTION,
    CfpType.MAIN_PRODUCTION,
    CfpType.PRE_COMPONENT,
    CfpType.MAIN_COMPONENT,
)


class DqrType(StrEnum):
    """``CfpModel.dqrType``."""

    PRE_PROCESSING = "preProcessing"
    MAIN_PROCESSING = "mainProcessing"
    PRE_PROCESSING_TOTAL = "preProcessingTotal"
    MAIN_PROCESSING_TOTAL = "mainProcessingTotal"
    PRE_PROCESSING_RESPONSE = "preProcessingResponse"
    MAIN_PROCESSING_RESPONSE = "mainProcessingResponse"


class CfpResponseStatus(StrEnum):
    """``StatusModel.requestStatus.cfpResponseStatus``."""

    NOT_COMPLETED = "NOT_COMPLETED"
    COMPLETED = "COMPLETED"
    REJECT = "REJECT"
    CANCEL = "CANCEL"


class TradeTreeStatus(StrEnum):
    """``StatusModel.requestStatus.tradeTreeStatus``: has every upstream branch ended?"""

    TERMINATED = "TERMINATED"
    UNTERMINATED = "UNTERMINATED"


class RequestType(StrEnum):
    CFP = "CFP"


class StatusTarget(StrEnum):
    """``statusTarget`` query parameter: requests I made, or requests I received."""

    REQUEST = "REQUEST"
    RESPONSE = "RESPONSE"


class AclItemGroup(StrEnum):
    """Traceability back end ``cfpAcl.aclItemGroup``: what a supplier releases to one buyer."""

    TOTALCFP = "TOTALCFP"
    TOTALDQR = "TOTALDQR"


class NotificationType(StrEnum):
    """Traceability back end ``notifications.notificationType``."""

    REQUEST_NEW = "REQUEST_NEW"
    REQUEST_CANCELED = "REQUEST_CANCELED"
    REQUEST_REJECTED = "REQUEST_REJECTED"
    CFP_RESPONSED = "CFP_RESPONSED"
    CFP_UPDATED = "CFP_UPDATED"
    REPLY_MESSAGE_REGISTERED = "REPLY_MESSAGE_REGISTERED"


class TradeRole(StrEnum):
    DOWNSTREAM = "downstream"  # the buyer, who requests
    UPSTREAM = "upstream"  # the supplier, who answers


# -- the request state machine ---------------------------------------------------------------

#: (role, current state) -> states that role may move the request to
TRANSITIONS: dict[tuple[TradeRole, CfpResponseStatus], frozenset[CfpResponseStatus]] = {
    (TradeRole.DOWNSTREAM, CfpResponseStatus.NOT_COMPLETED): frozenset({CfpResponseStatus.CANCEL}),
    (TradeRole.DOWNSTREAM, CfpResponseStatus.COMPLETED): frozenset({CfpResponseStatus.CANCEL}),
    (TradeRole.UPSTREAM, CfpResponseStatus.NOT_COMPLETED): frozenset(
        {CfpResponseStatus.REJECT, CfpResponseStatus.COMPLETED}
    ),
    (TradeRole.UPSTREAM, CfpResponseStatus.COMPLETED): frozenset(
        {CfpResponseStatus.REJECT, CfpResponseStatus.COMPLETED}
    ),
}
#: a cancelled or rejected request is over: nothing moves it again
FINAL_STATES: frozenset[CfpResponseStatus] = frozenset({CfpResponseStatus.REJECT, CfpResponseStatus.CANCEL})
#: states in which the trade link counts (the supplier may link, values may flow)
ACTIVE_STATES: frozenset[CfpResponseStatus] = frozenset({CfpResponseStatus.NOT_COMPLETED, CfpResponseStatus.COMPLETED})


def transition(role: TradeRole, current: CfpResponseStatus, target: CfpResponseStatus) -> CfpResponseStatus:
    """Check one move against :data:`TRANSITIONS`; raise :class:`Conflict` naming the rule."""
    allowed = TRANSITIONS.get((role, current), frozenset())
    if target not in allowed:
        raise Conflict(
            f"the {role} operator cannot move a request from {current} to {target}",
            rule="Ouranos request life cycle: the buyer cancels, the supplier rejects or answers; "
            "CANCEL and REJECT are final",
        )
    return target


# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operator:
    """``OperatorModel``; ``operator_id`` is the hub-internal UUID, ``open_operator_id`` the
    local id (corporate number by convention, 1-20 characters, no check digit here)."""

    operator_id: str
    open_operator_id: str
    operator_name: str
    operator_address: str
    global_operator_id: str | None
    did: str


@dataclass(frozen=True)
class Plant:
    """``PlantModel``."""

    plant_id: str
    operator_id: str
    open_plant_id: str
    plant_name: str
    plant_address: str
    global_plant_id: str | None


@dataclass(frozen=True)
class Part:
    """``PartsModel``. ``amount_required`` is only set on a child inside a parts structure."""

    trace_id: str
    operator_id: str
    plant_id: str
    parts_name: str
    support_parts_name: str | None
    terminated_flag: bool
    amount_required_unit: AmountUnit | None
    parent_flag: bool
    parts_label_name: str | None = None
    parts_add_info1: str | None = None
    parts_add_info2: str | None = None
    parts_add_info3: str | None = None
    amount_required: Decimal | None = None


@dataclass(frozen=True)
class PartDraft:
    """A part as written by ``PUT parts`` or inside ``PUT partsStructure`` (trace id may be new)."""

    trace_id: str | None
    operator_id: str
    plant_id: str
    parts_name: str
    support_parts_name: str | None
    terminated_flag: bool
    amount_required_unit: AmountUnit | None
    parts_label_name: str | None = None
    parts_add_info1: str | None = None
    parts_add_info2: str | None = None
    parts_add_info3: str | None = None
    amount_required: Decimal | None = None


@dataclass(frozen=True)
class PartsStructure:
    """``PartsStructureModel``: a parent and its children, two levels only."""

    parent: Part
    children: tuple[Part, ...]


@dataclass(frozen=True)
class RequestProgress:
    """``StatusModel.requestStatus``; the counters cover the whole upstream tree, counts only."""

    cfp_response_status: CfpResponseStatus
    trade_tree_status: TradeTreeStatus
    completed_count: int | None
    completed_count_modified_at: dt.datetime | None
    trades_count: int | None
    trades_count_modified_at: dt.datetime | None


@dataclass(frozen=True)
class Trade:
    """``TradeModel`` + ``StatusModel`` (one request per trade; ``status_id`` is the request id)."""

    trade_id: str
    status_id: str
    downstream_operator_id: str
    upstream_operator_id: str
    downstream_trace_id: str
    upstream_trace_id: str | None
    request_type: RequestType
    message: str | None
    reply_message: str | None
    response_due_date: dt.date | None
    status: CfpResponseStatus
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def accepted(self) -> bool:
        """A trade exists only once the supplier linked its own part and the request is live."""
        return self.upstream_trace_id is not None and self.status in ACTIVE_STATES

    def role_of(self, operator_id: str) -> TradeRole | None:
        if operator_id == self.downstream_operator_id:
            return TradeRole.DOWNSTREAM
        if operator_id == self.upstream_operator_id:
            return TradeRole.UPSTREAM
        return None


@dataclass(frozen=True)
class TradeRequestDraft:
    """``PUT tradeRequest``: the buyer asks a supplier about one of its child parts."""

    trade_id: str | None
    downstream_operator_id: str
    upstream_operator_id: str
    downstream_trace_id: str
    message: str | None
    response_due_date: dt.date | None
    request_type: RequestType = RequestType.CFP


@dataclass(frozen=True)
class Dqr:
    """``dqrValue``: TeR, GeR, TiR as sent (scale unspecified by the API)."""

    ter: Decimal | None
    ger: Decimal | None
    tir: Decimal | None

    @property
    def complete(self) -> bool:
        return self.ter is not None and self.ger is not None and self.tir is not None


@dataclass(frozen=True)
class CfpEntry:
    """One ``CfpModel`` row (one cfpType of one part)."""

    cfp_id: str | None
    trace_id: str
    ghg_emission: Decimal | None
    ghg_declared_unit: str
    cfp_type: CfpType
    dqr_type: DqrType
    dqr: Dqr


@dataclass(frozen=True)
class CfpRecord:
    """A part's registered CFP: the four values written together, rounded (the published ``CfpModel``)."""

    cfp_id: str
    trace_id: str
    operator_id: str
    unit: str
    pre_production: Decimal
    main_production: Decimal
    pre_component: Decimal
    main_component: Decimal
    dqr_pre: Dqr
    dqr_main: Dqr
    updated_at: dt.datetime


@dataclass(frozen=True)
class CertificationFile:
    """``cfpCertificationFileInfo`` item: a file held by ``operator_id``."""

    operator_id: str
    file_id: str
    file_name: str


@dataclass(frozen=True)
class Certification:
    """``CfpCertificationModel``. ``withheld``: a supplier's certificate its owner has not released
    to the reader — answered with ``null`` description and files (published ``requestCfpNull``)."""

    cfp_certification_id: str
    trace_id: str
    description: str | None
    files: tuple[CertificationFile, ...] = field(default_factory=tuple)
    withheld: bool = False


@dataclass(frozen=True)
class CfpRelease:
    """Extension ``cfpAcl``: what the owner of ``trace_id`` releases to ``released_to``."""

    operator_id: str
    trace_id: str
    released_to_operator_id: str
    groups: dict[AclItemGroup, bool]


@dataclass(frozen=True)
class CertificationRelease:
    """Extension ``cfpCertificationAcl``."""

    operator_id: str
    trace_id: str
    released_to_operator_id: str
    released_flag: bool


@dataclass(frozen=True)
class Notification:
    """Extension ``notifications``: something happened on a trade the recipient takes part in."""

    notification_id: str
    operator_id: str
    notification_type: NotificationType
    trade_id: str
    downstream_operator_id: str
    upstream_operator_id: str
    downstream_trace_id: str
    upstream_trace_id: str | None
    notified_at: dt.datetime


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the ``after`` cursor of the next (``Link: ...; rel="next"``)."""

    items: tuple[T, ...]
    next_after: str | None


def check_password(password: str) -> None:
    """``ChangePasswordModel.newPassword``: 8-20 characters of ``[a-zA-Z0-9!@#$%^&*()]``."""
    if not PASSWORD_RE.fullmatch(password):
        raise InvalidInput(
            "newPassword must be 8 to 20 characters of a-z, A-Z, 0-9 and !@#$%^&*()",
            field="newPassword",
            rule="Ouranos ChangePasswordModel.newPassword pattern ^[a-zA-Z0-9!@#$%^&*()]+$, length 8-20",
        )


def certificate_extension(file_name: str) -> str:
    """The lower-case extension of a certificate file, checked against the back end's list."""
    ext = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if ext not in CERTIFICATE_EXTENSIONS:
        raise InvalidInput(
            f"file {file_name!r} has extension {ext!r}, not one of {sorted(CERTIFICATE_EXTENSIONS)}",
            field="fileName",
            rule="traceability back end fileUploadUrl: allowed extensions",
            value=file_name,
        )
    return ext
