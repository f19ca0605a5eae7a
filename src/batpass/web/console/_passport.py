"""A passport on the console (``/console/passports/{id}``): every field of every tier, its
versions, and — for the operator role — its lifecycle actions as forms calling the same service
methods as the API (``PassportService``: dynamic data, repurpose, remanufacture, re-use, waste,
recycle).

Each action's POST: the session's CSRF token, then the operator role (else a 403 page, nothing
changed), then the service. A rule the input breaks (``BatpassError``: the service names the field
and the rule) renders the page again with the form as it was sent, the field marked and the rule
named — never a stack trace. Success redirects to the passport's page (a second life's: the new
passport) with a notice. Every attempt is written to the audit log with the user and its outcome.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from batpass.accounts import AccountService, Role
from batpass.core.errors import BatpassError, InvalidInput
from batpass.core.ids import BatteryId, Gtin, Serial
from batpass.http import Ctx
from batpass.passport import ALL_TIERS, FIELDS_BY_KEY, Category, Passport, PassportService, Status
from batpass.web._i18n import N_, gettext_for
from batpass.web._passport_page import build_page
from batpass.web.console._scope import scoped_passport
from batpass.web.console._session import (
    BASE,
    ConsoleRefusal,
    SignedIn,
    check_csrf,
    console_page,
    need_role,
    read_form,
    refuse,
    signed_in,
)
from batpass.web.console._views import CATEGORY_NAMES, common, when

__all__ = ["ACTIONS", "DYNAMIC_FIELDS", "router"]

router = APIRouter(prefix=BASE, include_in_schema=False)

#: the lifecycle actions, by the last segment of their form's address
ACTIONS = {
    "dynamic": N_("Record dynamic data"),
    "repurpose": N_("Repurpose"),
    "remanufacture": N_("Remanufacture"),
    "re-use": N_("Prepare for re-use"),
    "waste": N_("Mark as waste"),
    "recycle": N_("Record recycling"),
}
_DONE = {
    "dynamic": N_("Saved: the dynamic data is recorded as a new version."),
    "repurpose": N_("Saved: this is the new passport of the repurposed battery."),
    "remanufacture": N_("Saved: this is the new passport of the remanufactured battery."),
    "re-use": N_("Saved: this is the new passport of the battery prepared for re-use."),
    "waste": N_("Saved: the battery is waste; responsibility is with the waste operator."),
    "recycle": N_("Saved: the battery is recycled and its passport has ended."),
}
#: the dynamic data points the form offers (Annex VII Part A), in the order shown
DYNAMIC_FIELDS = (
    "state_of_health",
    "state_of_charge",
    "remaining_capacity",
    "capacity_fade",
    "full_cycles",
    "energy_throughput",
)
#: rows of materials on the recycling form
RECOVERED_ROWS = 3
_NUMBER_RULE = "a number written with a decimal point, e.g. 87.5"


@dataclass(frozen=True, slots=True)
class FormError:
    """A rule the sent form broke: which action, which field (the form's input name), what."""

    action: str
    field: str
    message: str
    rule: str


# --- the page --------------------------------------------------------------------------------------


def _passport(who: SignedIn, ctx: Ctx, passport_id: str) -> tuple[PassportService, Passport]:
    """The passport, if held here and in the user's scope (a hub user's operator), else the 404 page."""
    return scoped_passport(who, ctx, passport_id)


def _actions_for(svc: PassportService, p: Passport) -> list[str]:
    """The actions the passport's state allows (the service checks again on every write)."""
    if p.ended:
        return []
    if p.status is Status.WASTE:
        return ["recycle"]
    allowed = svc.rules.allowed.get(p.status.value, frozenset())
    second = {"repurpose": "repurposed", "remanufacture": "remanufactured", "re-use": "re-used", "waste": "waste"}
    return ["dynamic", *[a for a, status in second.items() if status in allowed]]


def _page(
    who: SignedIn,
    ctx: Ctx,
    svc: PassportService,
    passport: Passport,
    *,
    status: int = 200,
    notice: str = "",
    error: FormError | None = None,
    given: Mapping[str, str] | None = None,
) -> HTMLResponse:
    _ = gettext_for()
    # the node's own people read every tier of its own passports; the read is audited twice:
    # in the passport's access log (channel "console") and with the user in the console's log
    view = svc.read(passport, tiers=ALL_TIERS, channel="console")
    ctx.service(AccountService).record(
        who.session.user.name, "passport.open", str(passport.passport_id), "ok", note="all tiers"
    )
    page = build_page(passport, view, tiers=ALL_TIERS, roles=(), resolve_link=lambda urn: None)
    versions = []
    for v in svc.history(passport.passport_id, tiers=ALL_TIERS):
        changed = [_(FIELDS_BY_KEY[k].label) if k in FIELDS_BY_KEY else k for k in sorted(v["diff"])]
        versions.append(
            {
                "version": v["version"],
                "at": when(dt.datetime.fromisoformat(v["createdAt"])),
                "actor": v["actor"],
                "change": v["change"],
                "fields": changed,
            }
        )
    can_act = who.role.allows(Role.OPERATOR)
    return console_page(
        "console/passport.html",
        status,
        **common(who, "passports"),
        p=page,
        passport_id=str(passport.passport_id),
        passport_url=passport.digital_link,
        version=passport.version,
        versions=list(reversed(versions)),
        actions=[(a, _(ACTIONS[a])) for a in _actions_for(svc, passport)] if can_act else [],
        dynamic=[(k, _(FIELDS_BY_KEY[k].label), FIELDS_BY_KEY[k].unit or "") for k in DYNAMIC_FIELDS],
        categories=[(c.value, _(CATEGORY_NAMES.get(c.value, c.value))) for c in Category],
        recovered_rows=range(RECOVERED_ROWS),
        operator=svc.operator,
        notice=notice,
        error=error,
        given=dict(given or {}),
    )


@router.get("/passports/{passport_id}", response_model=None)
def passport_detail(passport_id: str, request: Request, ctx: Ctx) -> Response:
    try:
        who = signed_in(request, ctx)
        svc, passport = _passport(who, ctx, passport_id)
    except ConsoleRefusal as refusal:
        return refusal.response
    done = request.query_params.get("done", "")
    notice = gettext_for()(_DONE[done]) if done in _DONE else ""
    return _page(who, ctx, svc, passport, notice=notice)


# --- the actions -----------------------------------------------------------------------------------


def _text(form: Mapping[str, str], name: str) -> str:
    return form.get(name, "").strip()


def _number(form: Mapping[str, str], name: str) -> float | None:
    raw = _text(form, name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput(f"{name}: '{raw[:40]}' is not a number", field=name, rule=_NUMBER_RULE) from None


def _dynamic_values(form: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in DYNAMIC_FIELDS:
        raw = _text(form, key)
        if not raw:
            continue
        spec = FIELDS_BY_KEY[key]
        if spec.unit and key != "full_cycles":
            values[key] = {"value": _number(form, key), "unit": spec.unit}
        elif raw.isdigit():
            values[key] = int(raw)
        else:
            raise InvalidInput(f"{key}: '{raw[:40]}' is not a whole number", field=key, rule="a whole number, e.g. 412")
    if not values:
        raise InvalidInput(
            "at least one data point: nothing was filled in", field=DYNAMIC_FIELDS[0], rule="Annex XIII (4)"
        )
    return values


def _new_battery(form: Mapping[str, str]) -> BatteryId:
    """The second life's new identifier, from its GTIN and serial fields (each named if wrong)."""
    gtin, serial = _text(form, "new_gtin"), _text(form, "new_serial")
    for name, value, kind in (("new_gtin", gtin, Gtin), ("new_serial", serial, Serial)):
        try:
            kind(value)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field=name, rule=exc.rule) from None
    return BatteryId(gtin, serial)


def _cell_soh(form: Mapping[str, str]) -> tuple[float, ...]:
    raw = [x.strip() for x in _text(form, "cell_soh").replace(";", ",").split(",") if x.strip()]
    try:
        return tuple(float(x) for x in raw)
    except ValueError:
        raise InvalidInput(
            "cell_soh: every cell's state of health is a number", field="cell_soh", rule=_NUMBER_RULE
        ) from None


def _recovered(form: Mapping[str, str]) -> list[dict[str, Any]]:
    rows = []
    for n in range(RECOVERED_ROWS):
        material, mass = _text(form, f"material_{n}"), _text(form, f"mass_{n}")
        if material or mass:
            rows.append({"material": material, "mass_kg": _number(form, f"mass_{n}")})
    return rows


def _act(svc: PassportService, p: Passport, action: str, form: Mapping[str, str], actor: str) -> Passport:
    """Call the service for ``action``; raises the service's own errors."""
    pid = p.passport_id
    if action == "dynamic":
        # the version the form was read at: a write by someone else meanwhile is a conflict, not lost
        version = _text(form, "version")
        expected = int(version) if version.isdigit() else None
        return svc.record_dynamic(pid, _dynamic_values(form), actor=actor, expected_version=expected)
    if action == "waste":
        return svc.change_status(pid, "waste", actor=actor, waste_operator=_text(form, "waste_operator"))
    if action == "recycle":
        return svc.recycle(pid, recycler=_text(form, "recycler") or actor, actor=actor, recovered=_recovered(form))
    status = {"repurpose": "repurposed", "remanufacture": "remanufactured", "re-use": "re-used"}[action]
    model = _text(form, "model_name")
    return svc.second_life(
        [pid],
        status=status,
        new_battery=_new_battery(form),
        new_operator=_text(form, "new_operator") or actor,
        actor=actor,
        values={"model_name": model} if model else {},
        restored_capacity_ah=_number(form, "restored_capacity") if action == "remanufacture" else None,
        cell_soh=_cell_soh(form) if action == "remanufacture" else (),
        category=_text(form, "category") or None,
        use=_text(form, "use") or None,
    )


#: the service's field names that are not the form's input names
_FIELD_ALIASES = {"battery_id": "new_gtin", "restored_capacity_ah": "restored_capacity"}


def _form_field(action: str, field: str | None) -> str:
    """The form's input a service error names (``recovered[1].mass_kg`` -> ``mass_1``)."""
    if not field:
        return ""
    m = re.fullmatch(r"recovered\[(\d+)\]\.(material|mass_kg)", field)
    if m:
        return f"{'material' if m.group(2) == 'material' else 'mass'}_{m.group(1)}"
    if field.startswith("cell_soh"):
        return "cell_soh"
    return _FIELD_ALIASES.get(field, field)


@router.post("/passports/{passport_id}/{action}", response_model=None)
async def passport_action(passport_id: str, action: str, request: Request, ctx: Ctx) -> Response:
    """One lifecycle action (operator role; CSRF token; audited), through ``PassportService``."""
    _ = gettext_for()
    try:
        who = signed_in(request, ctx)
        if action not in ACTIONS:  # before anything is logged: the log names known actions only
            raise refuse(404, N_("No such action"), _("There is no such action."), who)
        form = await read_form(request, who)
        name = f"passport.{action}"
        check_csrf(who, form.get("csrf"), ctx, action=name, target=passport_id)
        need_role(who, Role.OPERATOR, ctx, action=name, target=passport_id)
        svc, passport = _passport(who, ctx, passport_id)
    except ConsoleRefusal as refusal:
        return refusal.response
    accounts = ctx.service(AccountService)
    user = who.session.user.name
    try:
        done = _act(svc, passport, action, form, svc.operator)
    except BatpassError as exc:
        if exc.status >= 500:
            raise
        named = getattr(exc, "field", None) or exc.details.get("field")
        field = _form_field(action, named)
        accounts.record(user, name, str(passport.passport_id), exc.kind, note=f"{field or '-'}: {exc.message}"[:500])
        # the page names the field once: "state_of_health: 140.0 is outside..." -> "140.0 is outside..."
        message = exc.message.removeprefix(f"{named}: ") if named else exc.message
        error = FormError(action, field, message, exc.rule or "")
        fresh = svc.get(passport.passport_id)
        return _page(who, ctx, svc, fresh, status=exc.status, error=error, given=form)
    note = "" if done.passport_id == passport.passport_id else f"new passport {done.urn}"
    accounts.record(user, name, str(passport.passport_id), "ok", note=note)
    return RedirectResponse(f"{BASE}/passports/{done.passport_id}?done={action}", status_code=303)
