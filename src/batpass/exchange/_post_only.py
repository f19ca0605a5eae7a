"""The request check every POST-only proxy asset shares (the credit account, the reconciliation
inbox): the one resource path, the method and no query, each refused naming field and rule."""

from __future__ import annotations

from collections.abc import Mapping

from batpass.core.errors import InvalidInput, NotFound


def check_post_only(
    *, asset: str, resource: str, noun: str, path: str, method: str, query: Mapping[str, str], rule: str
) -> None:
    """Refuse a request to ``asset`` unless it POSTs to ``resource`` with no query; ``noun`` is
    what one request carries (a claim, a message)."""
    if path.strip("/") != resource:
        raise NotFound(f"no resource '{path}' on the {asset}", rule=f"{rule}: POST {resource}")
    if method != "POST":
        raise InvalidInput(f"{method} {path}: {resource} are POSTed", field="method", rule=rule)
    if query:
        raise InvalidInput(f"a {noun} takes no query", field=sorted(query)[0], rule=rule)
