"""State machine aliases: CreateStateMachineAlias, DescribeStateMachineAlias,
ListStateMachineAliases, UpdateStateMachineAlias, DeleteStateMachineAlias, and the
choice of a version when an execution starts through an alias.

An alias routes executions to one or two versions of the same state machine by
weight (the weights sum to 100). Its ARN is the state machine ARN followed by
``:NAME``. Errors carry AWS's recorded types and messages.

Choices where AWS leaves room:

- Routing to versions of two different state machines is a ``ValidationException``
  ("... must contain state machine version ARNs of the same state machine ...").
- A routed version that does not exist is ``ResourceNotFound``.
- The version is chosen from a number in 0..99 derived from one id of the
  engine's :class:`~legato.runtime.clock.IdProvider`, so ``SequentialIds``
  makes the choice deterministic.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from legato import _apirequest as rq
from legato import _versions as _v
from legato import arns
from legato.errors import ApiError
from legato.runtime.clock import IdProvider
from legato.store.records import StateMachineAliasRecord

if TYPE_CHECKING:
    from legato.engine import Engine

__all__ = ["ALIAS_LIMIT", "create", "delete", "describe", "list_aliases", "pick_version", "update"]

Request = Mapping[str, Any]
Response = dict[str, Any]

ALIAS_LIMIT = 100
"""The most aliases one state machine may have."""
NAME_PATTERN = r"^(?=.*[a-zA-Z_\-\.])[a-zA-Z0-9_\-\.]+$"
_NAME_RE = re.compile(NAME_PATTERN)
CONFLICT = (
    "Failed to create alias because an alias with the same name and a different "
    "routing configuration already exists."
)


def _validation(errors: list[str]) -> ApiError:
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    return ApiError("ValidationException", f"{count} validation {noun} detected: " + "; ".join(errors))


def _name_errors(name: str) -> list[str]:
    errors = []
    if len(name) > arns.NAME_MAX:
        errors.append(
            f"Value '{name}' at 'name' failed to satisfy constraint: "
            f"Member must have length less than or equal to {arns.NAME_MAX}"
        )
    if not _NAME_RE.match(name):
        errors.append(
            f"Value '{name}' at 'name' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
        )
    return errors


def _item_text(item: Mapping[str, Any]) -> str:
    return (
        f"RoutingConfigurationListItem(stateMachineVersionArn={item.get('stateMachineVersionArn')}, "
        f"weight={item.get('weight')})"
    )


def _routing(req: Request, errors: list[str]) -> list[dict[str, Any]]:
    """The request's ``routingConfiguration``; shape errors go to ``errors``."""
    raw = rq.get_list(req, "routingConfiguration")
    if raw is None:
        errors.append(
            "Value null at 'routingConfiguration' failed to satisfy constraint: Member must not be null"
        )
        return []
    items: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict):
            raise ApiError(
                "SerializationException",
                "Field 'routingConfiguration' must be a list of {stateMachineVersionArn, weight} objects",
            )
        items.append(item)
    listed = "[" + ", ".join(_item_text(i) for i in items) + "]"
    if len(items) < 1:
        errors.append(
            f"Value '{listed}' at 'routingConfiguration' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1"
        )
    if len(items) > 2:
        errors.append(
            f"Value '{listed}' at 'routingConfiguration' failed to satisfy constraint: "
            "Member must have length less than or equal to 2"
        )
    for index, item in enumerate(items, start=1):
        where = f"routingConfiguration.{index}.member"
        arn = item.get("stateMachineVersionArn")
        if arn is None:
            errors.append(
                f"Value null at '{where}.stateMachineVersionArn' failed to satisfy constraint: "
                "Member must not be null"
            )
        elif not isinstance(arn, str):
            raise ApiError(
                "SerializationException", f"Field '{where}.stateMachineVersionArn' must be a string"
            )
        weight = item.get("weight")
        if weight is None:
            errors.append(
                f"Value null at '{where}.weight' failed to satisfy constraint: Member must not be null"
            )
        elif isinstance(weight, bool) or not isinstance(weight, int):
            raise ApiError("SerializationException", f"Field '{where}.weight' must be an integer")
        elif weight > 100:
            errors.append(
                f"Value '{weight}' at '{where}.weight' failed to satisfy constraint: "
                "Member must have value less than or equal to 100"
            )
        elif weight < 0:
            errors.append(
                f"Value '{weight}' at '{where}.weight' failed to satisfy constraint: "
                "Member must have value greater than or equal to 0"
            )
    return [{"stateMachineVersionArn": i["stateMachineVersionArn"], "weight": i["weight"]} for i in items]


def _description(req: Request, errors: list[str]) -> str | None:
    value = rq.get_str(req, "description")
    if value is not None and len(value) > _v.DESCRIPTION_LIMIT:
        errors.append(
            f"Value '{value}' at 'description' failed to satisfy constraint: "
            f"Member must have length less than or equal to {_v.DESCRIPTION_LIMIT}"
        )
    return value


async def _check_routing(engine: Engine, routing: list[dict[str, Any]]) -> str:
    """Checks the routed ARNs and weights; returns the state machine ARN they share."""
    version_arns = [str(i["stateMachineVersionArn"]) for i in routing]
    received = "[" + ", ".join(version_arns) + "]"
    parsed = [_v.split_qualified(a) for a in version_arns]
    if any(q is None or not _v.is_version_qualifier(q) for _, _, q in parsed):
        raise ApiError(
            "ValidationException",
            f"Routing configuration must contain state machine version ARNs. Received: {received}",
        )
    bases = {base for _, base, _ in parsed}
    if len(bases) != 1:
        raise ApiError(
            "ValidationException",
            "Routing configuration must contain state machine version ARNs of the same state machine. "
            f"Received: {received}",
        )
    if len(set(version_arns)) != len(version_arns):
        raise ApiError(
            "ValidationException",
            f"Routing configuration must contain distinct state machine version ARNs. Received: {received}",
        )
    weights = [int(i["weight"]) for i in routing]
    if sum(weights) != 100:
        raise ApiError(
            "ValidationException",
            "Sum of routing configuration weights must equal 100. "
            f"Received: [{', '.join(str(w) for w in weights)}]",
        )
    (base,) = bases
    return base


async def _check_exist(engine: Engine, base: str, routing: list[dict[str, Any]]) -> None:
    """Checks that the state machine and the routed versions exist."""
    if await engine.store.get_state_machine(base) is None:
        raise _v.no_such_machine(base)
    for item in routing:
        if await engine.store.get_version(str(item["stateMachineVersionArn"])) is None:
            raise _v.resource_not_found()


def _same_routing(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    def key(items: list[dict[str, Any]]) -> list[tuple[str, int]]:
        return sorted((str(i["stateMachineVersionArn"]), int(i["weight"])) for i in items)

    return key(a) == key(b)


async def create(engine: Engine, req: Request) -> Response:
    """CreateStateMachineAlias: idempotent for the same name, description and routing."""
    errors: list[str] = []
    name = rq.get_str(req, "name")
    if name is None:
        errors.append("Value null at 'name' failed to satisfy constraint: Member must not be null")
    else:
        errors += _name_errors(name)
    routing = _routing(req, errors)
    description = _description(req, errors)
    if errors:
        raise _validation(errors)
    assert name is not None
    base = await _check_routing(engine, routing)
    arn = f"{base}:{name}"
    existing = await engine.store.get_alias(arn)
    if existing is not None:
        if existing.description != description or not _same_routing(existing.routing, routing):
            raise ApiError("ConflictException", CONFLICT)
        return {"stateMachineAliasArn": arn, "creationDate": existing.creation_date}
    await _check_exist(engine, base, routing)
    if len(await engine.store.list_aliases(base)) >= ALIAS_LIMIT:
        raise ApiError(
            "ServiceQuotaExceededException",
            f"Failed to create alias: the state machine already has {ALIAS_LIMIT} aliases, the most allowed.",
        )
    record = StateMachineAliasRecord(
        arn=arn,
        state_machine_arn=base,
        name=name,
        routing=routing,
        creation_date=engine.clock.time(),
        description=description,
    )
    await engine.store.put_alias(record)
    return {"stateMachineAliasArn": arn, "creationDate": record.creation_date}


def _alias_arn(req: Request) -> str:
    arn = rq.need_str(req, "stateMachineAliasArn")
    _, _, qualifier = _v.split_qualified(arn)
    if qualifier is None or _v.is_version_qualifier(qualifier):
        raise ApiError("InvalidArn", f"Invalid Arn: 'Not a state machine alias ARN: {arn}'")
    return arn


async def _alias(engine: Engine, arn: str) -> StateMachineAliasRecord:
    record = await engine.store.get_alias(arn)
    if record is None:
        raise _v.resource_not_found()
    return record


async def describe(engine: Engine, req: Request) -> Response:
    """DescribeStateMachineAlias."""
    record = await _alias(engine, _alias_arn(req))
    out: Response = {
        "stateMachineAliasArn": record.arn,
        "name": record.name,
        "routingConfiguration": [dict(i) for i in record.routing],
        "creationDate": record.creation_date,
    }
    if record.description is not None:
        out["description"] = record.description
    if record.update_date is not None:
        out["updateDate"] = record.update_date
    return out


async def list_aliases(engine: Engine, req: Request) -> Response:
    """ListStateMachineAliases of a state machine, or of the aliases routing to one version."""
    arn = rq.need_str(req, "stateMachineArn")
    _, base, qualifier = _v.split_qualified(arn)
    if await engine.store.get_state_machine(base) is None:
        raise _v.no_such_machine(arn)
    aliases = await engine.store.list_aliases(base)
    if qualifier is not None:
        if not _v.is_version_qualifier(qualifier) or await engine.store.get_version(arn) is None:
            raise _v.resource_not_found()
        aliases = [a for a in aliases if any(i["stateMachineVersionArn"] == arn for i in a.routing)]
    page, token = rq.paginate(req, aliases, f"aliases:{arn}")
    out: Response = {
        "stateMachineAliases": [
            {"stateMachineAliasArn": a.arn, "creationDate": a.creation_date} for a in page
        ]
    }
    if token:
        out["nextToken"] = token
    return out


async def update(engine: Engine, req: Request) -> Response:
    """UpdateStateMachineAlias: a new description and/or routing configuration."""
    arn = _alias_arn(req)
    errors: list[str] = []
    routing = _routing(req, errors) if req.get("routingConfiguration") is not None else None
    description = _description(req, errors)
    if errors:
        raise _validation(errors)
    if routing is None and description is None:
        raise ApiError(
            "ValidationException", "Either the description or the routing configuration must be specified"
        )
    record = await _alias(engine, arn)
    if routing is not None:
        base = await _check_routing(engine, routing)
        await _check_exist(engine, base, routing)
        if base != record.state_machine_arn:
            raise ApiError(
                "ValidationException",
                "Routing configuration must contain versions of the alias's state machine "
                f"{record.state_machine_arn}",
            )
        record.routing = routing
    if description is not None:
        record.description = description
    record.update_date = engine.clock.time()
    await engine.store.put_alias(record)
    return {"updateDate": record.update_date}


async def delete(engine: Engine, req: Request) -> Response:
    """DeleteStateMachineAlias (succeeds for an alias that does not exist, as on AWS)."""
    await engine.store.delete_alias(_alias_arn(req))
    return {}


def roll(ids: IdProvider) -> int:
    """A number in 0..99 drawn from the id source."""
    digest = hashlib.sha256(ids.uuid().encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def pick_version(alias: StateMachineAliasRecord, ids: IdProvider) -> str:
    """The version ARN an execution started through ``alias`` runs, chosen by weight."""
    routing = alias.routing
    if len(routing) == 1:
        return str(routing[0]["stateMachineVersionArn"])
    number = roll(ids)
    total = 0
    for item in routing:
        total += int(item["weight"])
        if number < total:
            return str(item["stateMachineVersionArn"])
    return str(routing[-1]["stateMachineVersionArn"])
