"""A passport's lifecycle actions on the console, as an operator meets them: each form calls the
passport service (the API's own rules), a broken rule comes back on the form naming the field and
the rule with nothing changed, success leads to the passport's page with a notice, a form without
the session's token or from a viewer changes nothing, and the audit log names the user."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from console_testkit import BATTERIES, MIGRATIONS, ConsoleNode, make_console
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from test_console_routes import _form_token, sign_in
from web_testkit import RECYCLER

from batpass.core.ids import BatteryId
from batpass.passport import PassportFilter, Status, find_passport_ids

MakeStore = Callable[[Sequence[Path]], Engine]
GTIN = BATTERIES[0].gtin
ORIGINAL, WASTE = BATTERIES[0], BATTERIES[2]


@pytest.fixture
def node(make_store: MakeStore) -> ConsoleNode:
    return make_console(make_store(MIGRATIONS), lots=10)


@pytest.fixture
def browser(node: ConsoleNode) -> Iterator[TestClient]:
    with TestClient(node.app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def _pid(node: ConsoleNode, battery: BatteryId) -> uuid.UUID:
    ids, _total = find_passport_ids(node.passports.engine, PassportFilter(text=battery.serial))
    assert len(ids) == 1
    return ids[0]


def _post(browser: TestClient, pid: uuid.UUID, action: str, data: dict[str, str]) -> object:
    page = browser.get(f"/console/passports/{pid}")
    return browser.post(f"/console/passports/{pid}/{action}", data={"csrf": _form_token(page.text), **data})


def _entries(node: ConsoleNode, user: str) -> list[tuple[str, str, str]]:
    return [(e.action, e.target, e.outcome) for e in node.accounts.audit_log(user=user) if e.action != "passport.open"]


# --- success ---------------------------------------------------------------------------------------


def test_an_operator_records_dynamic_data(browser: TestClient, node: ConsoleNode) -> None:
    sign_in(browser, "otto")
    pid = _pid(node, ORIGINAL)
    before = node.passports.get(pid).version
    page = browser.get(f"/console/passports/{pid}")
    assert 'action="/console/passports/' + str(pid) + '/dynamic"' in page.text
    r = _post(browser, pid, "dynamic", {"state_of_health": "91.5", "full_cycles": "412", "state_of_charge": ""})
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert r.headers["location"] == f"/console/passports/{pid}?done=dynamic"  # type: ignore[attr-defined]
    p = node.passports.get(pid)
    assert p.version == before + 1
    assert p.values["state_of_health"].value == 91.5 and p.values["full_cycles"] == 412
    shown = browser.get(r.headers["location"])  # type: ignore[attr-defined]
    assert "Saved: the dynamic data is recorded as a new version." in shown.text
    assert _entries(node, "otto")[0] == ("passport.dynamic", str(pid), "ok")


@pytest.mark.parametrize(
    ("action", "status", "extra"),
    [
        (
            "repurpose",
            Status.REPURPOSED,
            {"category": "stationary", "model_name": "HomeStore 9", "use": "home storage"},
        ),
        ("remanufacture", Status.REMANUFACTURED, {"restored_capacity": "190", "cell_soh": "97, 98.5"}),
        ("re-use", Status.REUSED, {}),
    ],
)
def test_a_second_life_gives_a_new_passport_and_leads_to_it(
    browser: TestClient, node: ConsoleNode, action: str, status: Status, extra: dict[str, str]
) -> None:
    sign_in(browser, "otto")
    pid = _pid(node, ORIGINAL)
    data = {"new_gtin": GTIN, "new_serial": "LIFE-2", "new_operator": RECYCLER, **extra}
    r = _post(browser, pid, action, data)
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    new_id = uuid.UUID(re.fullmatch(r"/console/passports/([0-9a-f-]{36})\?done=.+", r.headers["location"]).group(1))  # type: ignore[attr-defined,union-attr]
    new = node.passports.get(new_id)
    assert new.status is status and new.operator == RECYCLER and new.predecessors == (pid,)
    assert new.battery_id == BatteryId(GTIN, "LIFE-2")
    assert node.passports.get(pid).successors == (new_id,)
    if action == "repurpose":
        assert new.category.value == "stationary" and new.values["model_name"] == "HomeStore 9"
        assert new.values["intended_use"] == "home storage"
    if action == "remanufacture":
        assert new.values["restored_capacity"].value == 190.0
    page = browser.get(r.headers["location"])  # type: ignore[attr-defined]
    assert "Saved: this is the new passport" in page.text
    assert _entries(node, "otto")[0] == (f"passport.{action}", str(pid), "ok")


def test_an_operator_marks_a_battery_waste_then_records_its_recycling(browser: TestClient, node: ConsoleNode) -> None:
    sign_in(browser, "otto")
    pid = _pid(node, ORIGINAL)
    # the node stays responsible as the waste operator (else only the recycler's node may recycle)
    r = _post(browser, pid, "waste", {"waste_operator": node.passports.operator})
    assert r.status_code == 303  # type: ignore[attr-defined]
    p = node.passports.get(pid)
    assert p.status is Status.WASTE and p.waste_operator == node.passports.operator
    page = browser.get(f"/console/passports/{pid}")
    assert f'{pid}/recycle"' in page.text and f'{pid}/waste"' not in page.text  # waste: recycling only
    r = _post(
        browser,
        pid,
        "recycle",
        {"recycler": RECYCLER, "material_0": "cobalt", "mass_0": "4.2", "material_1": "lithium", "mass_1": "5"},
    )
    assert r.status_code == 303  # type: ignore[attr-defined]
    p = node.passports.get(pid)
    assert p.ended and p.values["recycler"] == RECYCLER
    assert [(m["material"], m["mass_kg"]) for m in p.values["recovered_materials"]] == [
        ("cobalt", 4.2),
        ("lithium", 5.0),
    ]
    page = browser.get(r.headers["location"])  # type: ignore[attr-defined]
    assert "Saved: the battery is recycled and its passport has ended." in page.text
    assert 'id="actions"' not in page.text  # nothing more to do with an ended passport
    assert [e[0] for e in _entries(node, "otto")[:2]] == ["passport.recycle", "passport.waste"]


# --- validation errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("battery", "action", "data", "field", "rule"),
    [
        (ORIGINAL, "dynamic", {"state_of_health": "lots"}, "state_of_health", "a number"),
        (ORIGINAL, "dynamic", {"state_of_health": "140"}, "state_of_health", "Annex VII"),
        (ORIGINAL, "repurpose", {"new_gtin": "123", "new_serial": "X-1", "new_operator": RECYCLER}, "new_gtin", "GTIN"),
        (
            ORIGINAL,
            "remanufacture",
            {"new_gtin": GTIN, "new_serial": "X-2", "new_operator": RECYCLER, "restored_capacity": "20"},
            "restored_capacity",
            "Art. 3(1)(32)",
        ),
        (
            ORIGINAL,
            "re-use",
            {"new_gtin": GTIN, "new_serial": BATTERIES[1].serial, "new_operator": RECYCLER},
            "new_gtin",
            "Art. 77(7)",
        ),
        (ORIGINAL, "waste", {"waste_operator": ""}, "waste_operator", "Art."),
        (WASTE, "recycle", {"material_0": "cobalt", "mass_0": "-3"}, "mass_0", "Art. 77(8)"),
    ],
)
def test_a_broken_rule_comes_back_on_the_form_and_nothing_changes(
    browser: TestClient,
    node: ConsoleNode,
    battery: BatteryId,
    action: str,
    data: dict[str, str],
    field: str,
    rule: str,
) -> None:
    sign_in(browser, "otto")
    pid = _pid(node, battery)
    before = node.passports.get(pid)
    r = _post(browser, pid, action, data)
    assert r.status_code in (400, 409, 422), r.text  # type: ignore[attr-defined]
    html = r.text  # type: ignore[attr-defined]
    assert "Nothing was changed: the form has an error." in html and "Traceback" not in html
    error = re.search(rf'<div class="reason error" id="{action}-error" role="alert">(.*?)</div>', html, re.S)
    assert error is not None and f"<code>{field}</code>" in error.group(1) and rule in error.group(1)
    assert f"<code>{field}</code>: {field}:" not in error.group(1)  # the field is named once
    assert re.search(rf'id="{action}-{field}"[^>]*aria-invalid="true"', html)  # the field is marked
    assert f'<details id="act-{action}" class="action" open>' in html
    for name, value in data.items():  # the form comes back as it was sent
        if value and name != "category":
            assert f'value="{value}"' in html
    after = node.passports.get(pid)
    assert (after.version, after.status, after.ended) == (before.version, before.status, before.ended)
    assert _entries(node, "otto")[0][:2] == (f"passport.{action}", str(pid))
    assert _entries(node, "otto")[0][2] != "ok"


# --- refusals --------------------------------------------------------------------------------------

_GOOD = {
    "dynamic": (ORIGINAL, {"state_of_health": "90"}),
    "repurpose": (ORIGINAL, {"new_gtin": GTIN, "new_serial": "R-1", "new_operator": RECYCLER}),
    "remanufacture": (ORIGINAL, {"new_gtin": GTIN, "new_serial": "R-2", "restored_capacity": "190"}),
    "re-use": (ORIGINAL, {"new_gtin": GTIN, "new_serial": "R-3"}),
    "waste": (ORIGINAL, {"waste_operator": RECYCLER}),
    "recycle": (WASTE, {"recycler": RECYCLER}),
}


@pytest.mark.parametrize("action", sorted(_GOOD))
def test_a_form_without_the_sessions_token_changes_nothing(browser: TestClient, node: ConsoleNode, action: str) -> None:
    battery, data = _GOOD[action]
    sign_in(browser, "otto")
    pid = _pid(node, battery)
    before = node.passports.get(pid).version
    for token in (None, "forged-token"):
        sent = {**data, **({"csrf": token} if token else {})}
        r = browser.post(f"/console/passports/{pid}/{action}", data=sent)
        assert r.status_code == 403 and "Nothing was changed." in r.text
    assert node.passports.get(pid).version == before
    assert _entries(node, "otto")[:2] == [(f"passport.{action}", str(pid), "csrf-refused")] * 2


@pytest.mark.parametrize("action", sorted(_GOOD))
def test_a_viewer_sees_no_actions_and_may_not_send_one(browser: TestClient, node: ConsoleNode, action: str) -> None:
    battery, data = _GOOD[action]
    sign_in(browser, "vera")
    pid = _pid(node, battery)
    before = node.passports.get(pid).version
    page = browser.get(f"/console/passports/{pid}")
    assert page.status_code == 200 and 'id="actions"' not in page.text
    r = browser.post(f"/console/passports/{pid}/{action}", data={"csrf": _form_token(page.text), **data})
    assert r.status_code == 403 and "This needs the operator role; you are signed in as viewer." in r.text
    assert node.passports.get(pid).version == before
    assert _entries(node, "vera")[0] == (f"passport.{action}", str(pid), "forbidden")


def test_an_unknown_action_or_passport_is_a_clear_page(browser: TestClient, node: ConsoleNode) -> None:
    sign_in(browser, "otto")
    pid = _pid(node, ORIGINAL)
    token = _form_token(browser.get(f"/console/passports/{pid}").text)
    r = browser.post(f"/console/passports/{pid}/explode", data={"csrf": token})
    assert r.status_code == 404 and "There is no such action." in r.text
    r = browser.post(f"/console/passports/{uuid.uuid4()}/dynamic", data={"csrf": token, "state_of_health": "90"})
    assert r.status_code == 404 and "No passport with this identifier" in r.text


def test_the_forms_speak_japanese(browser: TestClient, node: ConsoleNode) -> None:
    sign_in(browser, "otto")
    page = browser.get(f"/console/passports/{_pid(node, ORIGINAL)}?lang=ja")
    assert "ライフサイクル" in page.text and "Lifecycle actions" not in page.text
    missing = browser.get(f"/console/passports/{uuid.uuid4()}?lang=ja")
    assert missing.status_code == 404 and "No passport with this identifier" not in missing.text


def test_after_handing_the_waste_to_another_operator_this_node_may_not_recycle_it(
    browser: TestClient, node: ConsoleNode
) -> None:
    sign_in(browser, "otto")
    pid = _pid(node, ORIGINAL)
    assert _post(browser, pid, "waste", {"waste_operator": RECYCLER}).status_code == 303  # type: ignore[attr-defined]
    before = node.passports.get(pid)
    r = _post(browser, pid, "recycle", {"material_0": "cobalt", "mass_0": "4"})
    assert r.status_code == 403 and 'id="recycle-error"' in r.text  # type: ignore[attr-defined]
    after = node.passports.get(pid)
    assert (after.version, after.ended) == (before.version, False)
    assert _entries(node, "otto")[0] == ("passport.recycle", str(pid), "not-responsible")


def test_dynamic_data_sent_from_a_stale_page_is_a_conflict_not_a_silent_overwrite(
    browser: TestClient, node: ConsoleNode
) -> None:
    sign_in(browser, "otto")
    pid = _pid(node, ORIGINAL)
    stale = browser.get(f"/console/passports/{pid}").text
    node.passports.record_dynamic(pid, {"full_cycles": 500}, actor=node.passports.operator)  # someone else
    version = node.passports.get(pid).version
    r = browser.post(
        f"/console/passports/{pid}/dynamic",
        data={"csrf": _form_token(stale), "version": str(version - 1), "full_cycles": "450"},
    )
    assert r.status_code == 409 and "Someone changed this passport since you opened it" in r.text
    assert f'name="version" value="{version}"' in r.text  # sending again acts on what is shown now
    assert node.passports.get(pid).values["full_cycles"] == 500
