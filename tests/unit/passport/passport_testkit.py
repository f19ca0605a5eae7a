"""Shared helpers for the passport tests (imported by conftest, property and browser tests):
an upstream summary in the shape of docs/contracts.md, a test RoleVerifier, a service and a minimal
app mounting the passport router (the fixed clock is ``batpass.core.clock.FixedClock``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from batpass.core.ids import BatteryId
from batpass.passport import PassportService

EXAMPLE = Path(__file__).parents[3] / "src/batpass/passport/_data/example-ev-model.yaml"
OPERATOR = "did:web:nordcell.example"
BACKUP = "https://backup.example:8443"
RESOLVER = "https://id.nordcell.example"


def make_summary(battery: BatteryId) -> dict[str, Any]:
    return {
        "summaryVersion": "1.0",
        "subject": {"kind": "battery", "id": battery.digital_link(RESOLVER), "material": "battery"},
        "issuer": OPERATOR,
        "computedAt": "2027-03-01T10:00:00Z",
        "elements": {
            "Co": {
                "originByCountry": {"CD": 0.7, "AU": 0.3},
                "highRiskShare": 0.7,
                "recycled": {"preConsumer": 0.05, "postConsumer": 0.12},
                "custodyModels": {"mass_balance": 1.0},
            },
            "Li": {
                "originByCountry": {"CL": 0.6, "AU": 0.4},
                "highRiskShare": 0.0,
                "recycled": {"preConsumer": 0.02, "postConsumer": 0.04},
                "custodyModels": {"segregated": 1.0},
            },
        },
        "minesReached": 3,
        "tombstones": [],
        "footprint": {
            "kg_co2e_per_kwh": 71.5,
            "stages": {
                "raw_material_and_preprocessing": 50.0,
                "main_production": 20.0,
                "distribution": 1.5,
                "end_of_life": None,
            },
        },
        "credentials": [],
        "foldedSupplierSummaries": 2,
    }


ITEM = {
    "manufacturing_place": "Wolfsburg, DE",
    "manufacturing_date": "2027-02-20",
    "manufacturing_facility": "BPNA000000000NC1",
}


ADMIN_KEY = "test-admin-key"
TOKENS = {
    "tok-li": frozenset({"legitimate_interest"}),
    "tok-nb": frozenset({"notified_body"}),
    "tok-msa": frozenset({"market_surveillance_authority"}),
    "tok-ec": frozenset({"commission"}),
    "tok-none": frozenset(),
}


class TokenRoles:
    """Test RoleVerifier: fixed tokens -> roles (the node wires trust's verifier instead)."""

    async def roles_for(self, bearer_token: str | None) -> frozenset[str]:
        from batpass.core.errors import Unauthorized

        if bearer_token is None:
            return frozenset()
        try:
            return TOKENS[bearer_token]
        except KeyError:
            raise Unauthorized("presentation does not verify", rule="test tokens") from None


def make_app(service: PassportService) -> Any:
    import hashlib

    from fastapi import Depends, FastAPI

    from batpass.http import NodeContext, install_error_handlers, require_json
    from batpass.passport import PageRenderer, RoleVerifier
    from batpass.passport.routes import ERROR_SHAPES, router
    from batpass.web import PassportPages

    app = FastAPI(dependencies=[Depends(require_json)])  # as the node's app: JSON bodies checked first
    ctx = NodeContext(
        name="nordcell",
        did=OPERATOR,
        base_url=RESOLVER,
        resolver_base=RESOLVER,
        profiles=("catena-x",),
        engine=service.engine,
        admin_key_sha256=hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
        production=False,
        client=None,  # type: ignore[arg-type]
        sync_client=None,  # type: ignore[arg-type]
        identity=service.identity,
        settings=None,
    )
    ctx.services[PassportService] = service
    ctx.services[RoleVerifier] = TokenRoles()
    ctx.services[PageRenderer] = PassportPages()  # the node's pages (batpass.web)
    app.state.ctx = ctx
    install_error_handlers(app, ERROR_SHAPES)

    app.include_router(router)
    return app


class IdentityKeys:
    """PublicKeyResolver over one identity (the node wires did:web resolution instead)."""

    def __init__(self, identity: Any) -> None:
        self.identity = identity

    def jwk_for(self, kid: str) -> dict[str, Any]:
        from batpass.core.errors import NotFound

        key = self.identity.active()
        if kid != self.identity.key_id(key):
            raise NotFound(f"kid {kid} unknown", rule="test key resolver")
        return dict(key.public_jwk())


def make_service(engine: Any, identity: Any, rules: Any, clock: Any) -> PassportService:
    return PassportService(
        engine,
        identity,
        rules=rules,
        resolver_base=RESOLVER,
        backup_url=BACKUP,
        clock=clock,
        key_resolver=IdentityKeys(identity),
    )
