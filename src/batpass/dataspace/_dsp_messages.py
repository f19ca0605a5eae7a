"""DSP 2025-1 JSON-LD messages: bundled contexts and schemas, validation, builders.

Every message this node emits goes through :func:`validated`, which checks it against the DSP
2025-1 JSON Schema for its ``@type`` (bundled in ``_data/dsp``, an unmodified copy of the
upstream artefacts, see ``_data/dsp/PROVENANCE.md``). Upstream defect worked around at load time: three transfer
schemas reference ``#definitions/...`` instead of ``#/definitions/...``; the reference is rewritten
when the schema is loaded, the file is not edited. Incoming messages are parsed strictly: a JSON
object, an ``@context`` naming the DSP context and only contexts bundled here (never fetched), the
expected ``@type``, and the schema. A message is judged valid by the schema compiled once (the
schema with its references inlined, checked by ``jsonschema_rs`` where its answer is
``jsonschema``'s: :mod:`batpass.core.schema_compile`); a message it finds not valid, or a schema
it cannot take, goes to ``jsonschema``, whose errors are the ones reported. JSON-LD documents are
resolved only from the bundle (:func:`document_loader`), so expansion works offline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft201909Validator  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT201909

from batpass.core.errors import InvalidInput
from batpass.core.schema_compile import NotCompilable, inline_refs, native_check

__all__ = [
    "BATPASS_CATALOG_CONTEXT",
    "CX_POLICY_CONTEXT",
    "DSP_CONTEXT",
    "KNOWN_CONTEXTS",
    "bundled_context",
    "catalog_context",
    "catalog_key",
    "check_incoming",
    "document_loader",
    "prepare_message_checks",
    "schema_errors",
    "validated",
]

DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
DSP_ODRL_PROFILE = "https://w3id.org/dspace/2025/1/odrl-profile.jsonld"
CX_POLICY_CONTEXT = "https://w3id.org/catenax/2025/9/policy/context.jsonld"
CX_ODRL_CONTEXT = "https://w3id.org/catenax/2025/9/policy/odrl.jsonld"
#: batpass's catalog terms (``title``, ``description``, ``semanticId``, ``dct:type`` and the
#: prefixes of Tractus-X asset properties), which the DSP context does not define: without them a
#: JSON-LD reader (the EDC) drops those keys. Bundled (``_data/batpass``) and served by every node
#: at the path of this IRI; never fetched.
BATPASS_CATALOG_CONTEXT = "https://batpass.dev/ns/dsp-catalog/v1"

_DATA = resources.files("batpass.dataspace") / "_data"

#: context URL → bundled file (relative to ``_data``)
KNOWN_CONTEXTS: dict[str, str] = {
    DSP_CONTEXT: "dsp/context/dspace.jsonld",
    DSP_ODRL_PROFILE: "dsp/context/odrl.jsonld",
    CX_POLICY_CONTEXT: "cx-policy/context/cx-policy-v1.jsonld",
    CX_ODRL_CONTEXT: "cx-policy/context/cx-odrl.jsonld",
    BATPASS_CATALOG_CONTEXT: "batpass/dsp-catalog-v1.jsonld",
}

#: message ``@type`` → schema $id (DSP 2025-1 artefacts)
_BASE = "https://w3id.org/dspace/2025/1/"
SCHEMA_FOR_TYPE: dict[str, str] = {
    "CatalogRequestMessage": _BASE + "catalog/catalog-request-message-schema.json",
    "DatasetRequestMessage": _BASE + "catalog/dataset-request-message-schema.json",
    "Catalog": _BASE + "catalog/catalog-schema.json",
    "Dataset": _BASE + "catalog/dataset-schema.json",
    "CatalogError": _BASE + "catalog/catalog-error-schema.json",
    "ContractRequestMessage": _BASE + "negotiation/contract-request-message-schema.json",
    "ContractOfferMessage": _BASE + "negotiation/contract-offer-message-schema.json",
    "ContractAgreementMessage": _BASE + "negotiation/contract-agreement-message-schema.json",
    "ContractAgreementVerificationMessage": _BASE + "negotiation/contract-agreement-verification-message-schema.json",
    "ContractNegotiationEventMessage": _BASE + "negotiation/contract-negotiation-event-message-schema.json",
    "ContractNegotiationTerminationMessage": _BASE + "negotiation/contract-negotiation-termination-message-schema.json",
    "ContractNegotiation": _BASE + "negotiation/contract-negotiation-schema.json",
    "ContractNegotiationError": _BASE + "negotiation/contract-negotiation-error-schema.json",
    "TransferRequestMessage": _BASE + "transfer/transfer-request-message-schema.json",
    "TransferStartMessage": _BASE + "transfer/transfer-start-message-schema.json",
    "TransferSuspensionMessage": _BASE + "transfer/transfer-suspension-message-schema.json",
    "TransferCompletionMessage": _BASE + "transfer/transfer-completion-message-schema.json",
    "TransferTerminationMessage": _BASE + "transfer/transfer-termination-message-schema.json",
    "TransferProcess": _BASE + "transfer/transfer-process-schema.json",
    "TransferError": _BASE + "transfer/transfer-error-schema.json",
    # documents without @type
    "protocol-version": _BASE + "common/protocol-version-schema.json",
    "cx-policy": "https://w3id.org/catenax/2025/9/policy/schema/policy-schema.json",
}


def _fix_refs(node: Any) -> Any:
    """Rewrite the upstream ``#definitions/`` refs to ``#/definitions/`` (known defect)."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and "#definitions/" in v:
                v = v.replace("#definitions/", "#/definitions/")
            out[k] = _fix_refs(v)
        return out
    if isinstance(node, list):
        return [_fix_refs(v) for v in node]
    return node


def _walk_json(folder: Any) -> list[Any]:
    found: list[Any] = []
    for entry in folder.iterdir():
        if entry.is_dir():
            found.extend(_walk_json(entry))
        elif entry.name.endswith(".json"):
            found.append(entry)
    return found


@cache
def _registry() -> Registry[Any]:
    resources_: list[tuple[str, Resource[Any]]] = []
    for area in ("dsp", "cx-policy/jsonschema"):
        for path in _walk_json(_DATA / area):
            schema = _fix_refs(json.loads(path.read_text(encoding="utf-8")))
            resources_.append((schema["$id"], DRAFT201909.create_resource(schema)))
    return Registry().with_resources(resources_)


@cache
def _validator(schema_id: str) -> Draft201909Validator:
    registry = _registry()
    schema = registry.contents(schema_id)
    return Draft201909Validator(schema, registry=registry)


@cache
def _is_valid(schema_id: str) -> Callable[[Any], bool]:
    """The valid / not-valid answer for ``schema_id``: compiled where it is the reference's
    (:func:`~batpass.core.schema_compile.native_check`), else the reference validator's."""
    reference = _validator(schema_id)
    registry = _registry()
    try:
        inlined = inline_refs(registry.contents(schema_id), schema_id, registry.contents)
    except NotCompilable:
        return reference.is_valid  # type: ignore[no-any-return]
    # the reference validator here checks no format (it has no format checker)
    return native_check(inlined, reference.is_valid, ())


def prepare_message_checks() -> int:
    """Compile every DSP message's check (and load the bundled contexts) now, as a node's start-up
    does, instead of on the first message of each type, which is on a new channel's critical
    path (docs/benchmarks.md, the cold trace). Returns the number of checks ready; what it builds
    is what the first message would build, cached the same way."""
    for url in KNOWN_CONTEXTS:
        bundled_context(url)
    return sum(1 for schema_id in SCHEMA_FOR_TYPE.values() if _is_valid(schema_id) is not None)


def schema_errors(document: Mapping[str, Any], kind: str | None = None) -> list[str]:
    """Schema violations of ``document`` (its ``@type``, or ``kind``), as 'path: message' lines."""
    kind = kind or str(document.get("@type", ""))
    schema_id = SCHEMA_FOR_TYPE.get(kind)
    if schema_id is None:
        return [f"@type: unknown DSP message type '{kind}'"]
    if _is_valid(schema_id)(document):
        return []
    errors = sorted(_validator(schema_id).iter_errors(document), key=lambda e: list(e.path))
    return [f"{'.'.join(str(p) for p in e.path) or '(root)'}: {e.message}" for e in errors]


def validated(document: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
    """Return ``document`` if it validates against its DSP schema; a bug of ours otherwise."""
    errors = schema_errors(document, kind)
    if errors:
        raise AssertionError(f"emitted DSP message fails its schema: {errors[:3]}")
    return document


def _shape(node: Any) -> Any:
    """The document with identifiers and free text replaced: what the schema constrains."""
    if isinstance(node, dict):
        return {
            k: ("x" if k in ("@id", "title", "description", "endpointURL") and isinstance(v, str) else _shape(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_shape(v) for v in node]
    return node


@lru_cache(maxsize=4096)
def _shape_errors(envelope: str, dataset_shape: str) -> tuple[str, ...]:
    doc = json.loads(envelope)
    doc["dataset"] = [json.loads(dataset_shape)]
    return tuple(schema_errors(doc, "Catalog"))


def validated_catalog(catalog: dict[str, Any]) -> dict[str, Any]:
    """Validate a Catalog as :func:`validated` does, checking each distinct dataset *shape* once.

    Catalog pages repeat a few policy shapes with different identifiers; the schema constrains
    identifiers only to be strings, so validating the shape (identifiers replaced) is the same
    check, memoised. The envelope is validated on every call. The compiled check of the whole
    page comes first (about a tenth of the shape memo's cost): only a page it refuses is taken
    apart into shapes, for the reference's errors.
    """
    datasets = catalog.get("dataset")
    if not datasets:
        return validated(catalog, "Catalog")
    if _is_valid(SCHEMA_FOR_TYPE["Catalog"])(catalog):
        return catalog
    envelope = json.dumps(_shape({k: v for k, v in catalog.items() if k != "dataset"}), sort_keys=True)
    for ds in datasets:
        errors = _shape_errors(envelope, json.dumps(_shape(ds), sort_keys=True))
        if errors:
            raise AssertionError(f"emitted DSP catalog fails its schema: {list(errors)[:3]}")
    return catalog


def check_incoming(body: Any, expected: str | tuple[str, ...]) -> dict[str, Any]:
    """Parse an incoming DSP message strictly (400 ``InvalidInput`` naming the field)."""
    kinds = (expected,) if isinstance(expected, str) else expected
    if not isinstance(body, dict):
        raise InvalidInput("a DSP message must be a JSON object", field="(body)", rule="DSP 2025-1 HTTPS binding")
    ctx = body.get("@context")
    contexts = ctx if isinstance(ctx, list) else [ctx]
    if DSP_CONTEXT not in contexts:
        raise InvalidInput(f"@context must name {DSP_CONTEXT}", field="@context", rule="DSP 2025-1 context-schema")
    for c in contexts:
        if isinstance(c, str) and c not in KNOWN_CONTEXTS:
            raise InvalidInput(
                f"unknown JSON-LD context '{c}' (contexts are never fetched)",
                field="@context",
                rule="bundled contexts only",
                value=c,
            )
    kind = body.get("@type")
    if kind not in kinds:
        raise InvalidInput(
            f"@type must be {' or '.join(kinds)}, got {kind!r}", field="@type", rule="DSP 2025-1 message type"
        )
    errors = schema_errors(body, str(kind))
    if errors:
        first = errors[0]
        raise InvalidInput(
            f"{kind} fails its schema: {first}",
            field=first.split(":", 1)[0],
            rule=f"DSP 2025-1 {SCHEMA_FOR_TYPE[str(kind)].rsplit('/', 1)[-1]}",
        )
    return body


@cache
def bundled_context(url: str) -> dict[str, Any]:
    """A bundled JSON-LD context document by its IRI (``InvalidInput`` for any other)."""
    rel = KNOWN_CONTEXTS.get(url)
    if rel is None:
        raise InvalidInput(f"unknown JSON-LD context '{url}'", field="@context", rule="bundled contexts only")
    doc: dict[str, Any] = json.loads((_DATA / rel).read_text(encoding="utf-8"))
    return doc


def document_loader(url: str, options: Any = None) -> dict[str, Any]:
    """pyld document loader serving only bundled contexts; anything else is refused."""
    doc = json.loads(json.dumps(bundled_context(url)))  # a copy: the processor may keep it
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url, "document": doc}


@cache
def _catalog_terms() -> frozenset[str]:
    return frozenset(k for k in bundled_context(BATPASS_CATALOG_CONTEXT)["@context"] if not k.startswith("@"))


def catalog_key(key: str) -> str:
    """The key a dataset property is emitted under in the catalog: a term of the batpass catalog
    context, a compact IRI or an IRI as it is; any other plain key in the EDC vocabulary
    (``edc:<key>``), as the management API (and a Tractus-X EDC) reads an asset's properties.
    So no property vanishes when the catalog is expanded."""
    return key if key in _catalog_terms() or ":" in key else "edc:" + key


def catalog_context() -> list[str]:
    """The ``@context`` of a ``Catalog`` or ``Dataset`` this node serves."""
    return [DSP_CONTEXT, BATPASS_CATALOG_CONTEXT]


def context(*, cx_policy: bool = False) -> list[str]:
    return [DSP_CONTEXT, CX_POLICY_CONTEXT] if cx_policy else [DSP_CONTEXT]


def negotiation_ack(provider_pid: str, consumer_pid: str, state: str) -> dict[str, Any]:
    return validated(
        {
            "@context": context(),
            "@type": "ContractNegotiation",
            "providerPid": provider_pid,
            "consumerPid": consumer_pid,
            "state": state,
        }
    )


def transfer_ack(provider_pid: str, consumer_pid: str, state: str) -> dict[str, Any]:
    return validated(
        {
            "@context": context(),
            "@type": "TransferProcess",
            "providerPid": provider_pid,
            "consumerPid": consumer_pid,
            "state": state,
        }
    )


def error_message(
    kind: str, *, code: str, reason: str, provider_pid: str = "", consumer_pid: str = ""
) -> dict[str, Any]:
    """``CatalogError`` / ``ContractNegotiationError`` / ``TransferError`` (DSP 2025-1 § error)."""
    body: dict[str, Any] = {"@context": context(), "@type": kind, "code": code, "reason": [reason]}
    if kind != "CatalogError":
        body["providerPid"] = provider_pid
        body["consumerPid"] = consumer_pid
    return validated(body)
