"""``batpass ouranos ...``: onboard operators, plants, accounts and API keys on a hub node."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from batpass.core.errors import BatpassError
from batpass.ouranos import OuranosHub

app = typer.Typer(help="Ouranos hub: operators, plants, accounts and API keys")

NodeOpt = Annotated[str, typer.Option("--node", help="the hub node's name")]


def _hub(node_name: str) -> OuranosHub:
    from batpass.node.local import open_node

    node = open_node(node_name)
    return OuranosHub(node.engine, node.identity, hub_home=node.home / "ouranos", base_url=node.base_url)


def _fail(err: BatpassError) -> None:
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(2)


@app.command("add-operator")
def add_operator(
    node: NodeOpt,
    open_operator_id: Annotated[str, typer.Option(help="openOperatorId (1-20 characters)")],
    name: Annotated[str, typer.Option(help="operatorName")],
    address: Annotated[str, typer.Option(help="operatorAddress")],
    global_operator_id: Annotated[str | None, typer.Option(help="globalOperatorId, e.g. a BPNL")] = None,
) -> None:
    """Host a new operator (creates its keys and its did:web under the hub)."""
    try:
        op = _hub(node).onboard_operator(
            open_operator_id=open_operator_id,
            operator_name=name,
            operator_address=address,
            global_operator_id=global_operator_id,
        )
    except BatpassError as err:
        _fail(err)
        return
    typer.echo(json.dumps({"operatorId": op.operator_id, "openOperatorId": op.open_operator_id, "did": op.did}))


@app.command("add-plant")
def add_plant(
    node: NodeOpt,
    operator_id: Annotated[str, typer.Option(help="the hub-internal operatorId")],
    open_plant_id: Annotated[str, typer.Option(help="openPlantId (ends in 6 digits)")],
    name: Annotated[str, typer.Option(help="plantName")],
    address: Annotated[str, typer.Option(help="plantAddress")],
) -> None:
    try:
        p = _hub(node).add_plant(operator_id, open_plant_id=open_plant_id, plant_name=name, plant_address=address)
    except BatpassError as err:
        _fail(err)
        return
    typer.echo(json.dumps({"plantId": p.plant_id, "openPlantId": p.open_plant_id}))


@app.command("add-account")
def add_account(
    node: NodeOpt,
    operator_id: Annotated[str, typer.Option(help="the hub-internal operatorId")],
    account: Annotated[str, typer.Option(help="operatorAccountId (e-mail)")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="8-20 of a-zA-Z0-9!@#$%^&*()")],
) -> None:
    try:
        _hub(node).add_account(operator_id, account, password)
    except BatpassError as err:
        _fail(err)
        return
    typer.echo(json.dumps({"operatorId": operator_id, "operatorAccountId": account}))


@app.command("issue-key")
def issue_key(
    node: NodeOpt,
    operator_id: Annotated[str | None, typer.Option(help="bind the key to one operator")] = None,
    label: Annotated[str, typer.Option(help="what the key is for")] = "application",
) -> None:
    """Issue an API key (printed once; the hub stores only its hash)."""
    try:
        key_id, secret = _hub(node).issue_api_key(operator_id=operator_id, label=label)
    except BatpassError as err:
        _fail(err)
        return
    typer.echo(json.dumps({"keyId": key_id, "apiKey": secret}))


@app.command("operators")
def operators(node: NodeOpt) -> None:
    """List hosted operators."""
    for op in _hub(node).operators():
        typer.echo(
            json.dumps(
                {
                    "operatorId": op.operator_id,
                    "openOperatorId": op.open_operator_id,
                    "operatorName": op.operator_name,
                    "did": op.did,
                },
                ensure_ascii=False,
            )
        )
