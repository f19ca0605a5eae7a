"""The participant console (``/console/``): people of the node sign in and see its passports,
alerts, traces, footprints, compliance findings, trust and partners, in English and Japanese, on
the public pages' layout (docs/console.md). Server-rendered (the trace page's map is the one
script); every POST carries a CSRF token; the pages know the capabilities only through their
services (``batpass.accounts``, ``batpass.passport``, ``batpass.ledger``, ``batpass.federation``,
``batpass.footprint``, ``batpass.compliance``, ``batpass.trust``, ``batpass.ouranos``,
``batpass.bridge``)."""

from fastapi import FastAPI

from batpass.web.console._compliance import router as compliance_router
from batpass.web.console._footprint import router as footprint_router
from batpass.web.console._partners import router as partners_router
from batpass.web.console._passport import router as passport_router
from batpass.web.console._remote import router as remote_router
from batpass.web.console._session import BASE, COOKIE
from batpass.web.console._trace import router as trace_router
from batpass.web.console._trust import router as trust_router
from batpass.web.console._views import router

__all__ = ["BASE", "COOKIE", "mount_console"]


def mount_console(app: FastAPI) -> None:
    """The console's pages (the node mounts them when the accounts capability is registered)."""
    app.include_router(router)
    app.include_router(passport_router)  # a passport's page and its lifecycle actions
    app.include_router(remote_router)  # /console/open: passports on other nodes
    app.include_router(trace_router)  # /console/trace: a battery's or lot's trace
    app.include_router(footprint_router)  # /console/footprint
    app.include_router(compliance_router)  # /console/compliance
    app.include_router(trust_router)  # /console/trust (an admin revokes an issued credential)
    app.include_router(partners_router)  # /console/partners
