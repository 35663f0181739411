"""The embedded EventBridge provider and ``arn:aws:states:::events:putEvents``.

Every event put is recorded in the messaging store (``legato events list``). Rules
hold an event pattern (``source``, ``detail-type``, ``detail`` fields with exact
values, ``prefix``, ``suffix``, ``anything-but``, ``numeric``, ``exists`` and
``equals-ignore-case``); a rule's state machine targets start an execution with
the event as input (or the target's ``Input``/``InputPath``) through the engine.
The ``default`` bus always exists; other buses are made with :meth:`EventBridge.create_event_bus`
(an event for a bus that does not exist fails its entry, as on AWS).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from legato import _json
from legato.errors import LegatoError, StatesError
from legato.integrations import _remote
from legato.integrations._msgstore import Provider, store_at, store_for
from legato.integrations.aws_sdk import embedded
from legato.integrations.registry import TaskCall, integration
from legato.runtime.services import DEFAULT_ACCOUNT, DEFAULT_REGION

if TYPE_CHECKING:
    from legato.runtime.services import Services

__all__ = ["EventBridge", "for_engine", "for_services", "matches"]

_log = logging.getLogger("legato.integrations.events")


def _bus_name(value: Any) -> str:
    if not value:
        return "default"
    text = str(value)
    return text.split("event-bus/", 1)[1] if "event-bus/" in text else text


class EventBridge(Provider):
    """Event buses, the events put on them, and rules, with EventBridge's semantics."""

    @classmethod
    def at(
        cls, data_dir: str | Path, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT
    ) -> EventBridge:
        """The event buses of a data directory."""
        return cls(store_at(data_dir), region, account)

    def create_event_bus(self, name: str) -> str:
        """CreateEventBus; returns its ARN."""
        self.store.execute("INSERT OR IGNORE INTO buses VALUES (?, ?)", (name, self._now()))
        return f"arn:aws:events:{self.region}:{self.account}:event-bus/{name}"

    def _bus_exists(self, name: str) -> bool:
        return name == "default" or bool(self.store.query("SELECT 1 FROM buses WHERE name = ?", (name,)))

    def put_rule(self, name: str, pattern: dict[str, Any] | str, bus: str = "default") -> str:
        """PutRule with an event pattern; returns the rule's ARN."""
        text = pattern if isinstance(pattern, str) else _json.dumps(pattern)
        if not isinstance(_json.loads(text), dict):
            raise LegatoError("an event pattern must be a JSON object")
        bus = _bus_name(bus)
        if not self._bus_exists(bus):
            raise LegatoError(f"Event bus {bus} does not exist.")
        self.store.execute(
            "INSERT INTO rules (bus, name, pattern, targets) VALUES (?, ?, ?, '[]')"
            " ON CONFLICT (bus, name) DO UPDATE SET pattern = excluded.pattern",
            (bus, name, text),
        )
        middle = "" if bus == "default" else f"{bus}/"
        return f"arn:aws:events:{self.region}:{self.account}:rule/{middle}{name}"

    def put_targets(self, rule: str, targets: list[dict[str, Any]], bus: str = "default") -> None:
        """PutTargets: ``[{"Id": ..., "Arn": STATE_MACHINE_ARN, "Input"|"InputPath": ...}]``."""
        bus = _bus_name(bus)
        rows = self.store.query("SELECT targets FROM rules WHERE bus = ? AND name = ?", (bus, rule))
        if not rows:
            raise LegatoError(f"Rule {rule} does not exist on EventBus {bus}.")
        current = {t["Id"]: t for t in _json.loads(rows[0][0])}
        for target in targets:
            current[str(target["Id"])] = target
        self.store.execute(
            "UPDATE rules SET targets = ? WHERE bus = ? AND name = ?",
            (_json.dumps(list(current.values())), bus, rule),
        )

    def delete_rule(self, rule: str, bus: str = "default") -> None:
        """DeleteRule."""
        self.store.execute("DELETE FROM rules WHERE bus = ? AND name = ?", (_bus_name(bus), rule))

    def list_rules(self, bus: str = "default") -> list[dict[str, Any]]:
        """ListRules, with each rule's targets."""
        rows = self.store.query(
            "SELECT name, pattern, targets, state FROM rules WHERE bus = ? ORDER BY name", (_bus_name(bus),)
        )
        return [{"Name": n, "EventPattern": p, "Targets": _json.loads(t), "State": s} for n, p, t, s in rows]

    def list_events(self, bus: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The events put, newest last (at most ``limit``)."""
        if bus is None:
            rows = self.store.query("SELECT event FROM events ORDER BY seq DESC LIMIT ?", (limit,))
        else:
            rows = self.store.query(
                "SELECT event FROM events WHERE bus = ? ORDER BY seq DESC LIMIT ?", (_bus_name(bus), limit)
            )
        return [_json.loads(e) for (e,) in reversed(rows)]

    def put_events(
        self, entries: list[Any]
    ) -> tuple[dict[str, Any], list[tuple[dict[str, Any], dict[str, Any]]]]:
        """PutEvents: returns the response and the ``(event, target)`` pairs whose rules matched."""
        results: list[dict[str, Any]] = []
        fired: list[tuple[dict[str, Any], dict[str, Any]]] = []
        failed = 0
        for entry in entries:
            error = self._check(entry)
            if error is not None:
                failed += 1
                results.append({"ErrorCode": error[0], "ErrorMessage": error[1]})
                continue
            detail = entry["Detail"]
            event = {
                "version": "0",
                "id": self._new_id(),
                "detail-type": entry["DetailType"],
                "source": entry["Source"],
                "account": self.account,
                "time": datetime.fromtimestamp(self._now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self.region,
                "resources": [r for r in entry.get("Resources") or [] if isinstance(r, str)],
                "detail": _json.loads(detail) if isinstance(detail, str) else detail,
            }
            bus = _bus_name(entry.get("EventBusName"))
            self.store.execute(
                "INSERT INTO events (id, bus, source, detail_type, event, time) VALUES (?, ?, ?, ?, ?, ?)",
                (event["id"], bus, event["source"], event["detail-type"], _json.dumps(event), self._now()),
            )
            results.append({"EventId": event["id"]})
            for rule in self.list_rules(bus):
                if rule["State"] == "ENABLED" and matches(_json.loads(rule["EventPattern"]), event):
                    fired += [(event, t) for t in rule["Targets"]]
        return {"Entries": results, "FailedEntryCount": failed}, fired

    def _check(self, entry: Any) -> tuple[str, str] | None:
        if not isinstance(entry, dict):
            return "InvalidArgument", "Parameter Entry is not valid."
        for field in ("Source", "DetailType", "Detail"):
            if not isinstance(entry.get(field), str | dict) or entry.get(field) == "":
                return (
                    "InvalidArgument",
                    f"Parameter {field} is not valid. Reason: {field} is a required argument.",
                )
        detail = entry["Detail"]
        if isinstance(detail, str):
            try:
                parsed = _json.loads(detail)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                return "MalformedDetail", "Detail is malformed."
        bus = _bus_name(entry.get("EventBusName"))
        if not self._bus_exists(bus):
            return "ResourceNotFoundException", f"Event bus {bus} does not exist."
        return None


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """True when ``event`` matches the EventBridge event ``pattern``."""
    if not isinstance(event, dict):
        return False
    for key, rule in pattern.items():
        present = key in event
        value = event.get(key)
        if isinstance(rule, dict):
            if not present or not matches(rule, value):
                return False
        elif isinstance(rule, list):
            values = value if isinstance(value, list) else [value]
            if not any(_match_one(r, v, present) for r in rule for v in (values or [None])):
                return False
        else:
            return False
    return True


def _match_one(rule: Any, value: Any, present: bool) -> bool:
    if not isinstance(rule, dict):
        # JSON equality: true is not 1, but 5 matches 5.0.
        return present and rule == value and isinstance(rule, bool) == isinstance(value, bool)
    if "exists" in rule:
        return bool(rule["exists"]) == present
    if not present:
        return False
    if "prefix" in rule:
        p = rule["prefix"]
        if isinstance(p, dict):
            return isinstance(value, str) and value.lower().startswith(
                str(p.get("equals-ignore-case", "")).lower()
            )
        return isinstance(value, str) and value.startswith(str(p))
    if "suffix" in rule:
        return isinstance(value, str) and value.endswith(str(rule["suffix"]))
    if "equals-ignore-case" in rule:
        return isinstance(value, str) and value.lower() == str(rule["equals-ignore-case"]).lower()
    if "anything-but" in rule:
        but = rule["anything-but"]
        if isinstance(but, dict):
            return not _match_one(but, value, present)
        return value not in (but if isinstance(but, list) else [but])
    if "numeric" in rule:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        ops = rule["numeric"]
        checks = {
            "<": value.__lt__,
            "<=": value.__le__,
            "=": value.__eq__,
            ">": value.__gt__,
            ">=": value.__ge__,
        }
        return all(checks[ops[i]](ops[i + 1]) for i in range(0, len(ops) - 1, 2) if ops[i] in checks)
    return False


def for_services(services: Services) -> EventBridge:
    """The event buses of an engine's (or a ``legato.run``'s) data directory."""
    return EventBridge(
        store_for(services.integrations),
        services.region,
        services.account,
        services.clock.time,
        services.ids.uuid,
    )


def for_engine(engine: Any) -> EventBridge:
    """The event buses of a :class:`legato.Engine`'s data directory."""
    return EventBridge(store_for(engine.integrations), engine.region, engine.account)


def _target_input(event: dict[str, Any], target: dict[str, Any]) -> str:
    if "Input" in target:
        value = target["Input"]
        return value if isinstance(value, str) else _json.dumps(value)
    path = target.get("InputPath")
    if isinstance(path, str) and path.startswith("$"):
        selected: Any = event
        for part in [p for p in path[1:].split(".") if p]:
            selected = selected.get(part) if isinstance(selected, dict) else None
        return _json.dumps(selected)
    return _json.dumps(event)


async def start_targets(services: Services, fired: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Starts the state machine targets of the rules an event matched."""
    engine = services.engine
    for event, target in fired:
        arn = str(target.get("Arn", ""))
        if engine is None or ":states:" not in arn or ":stateMachine:" not in arn:
            continue
        try:
            await engine.start_execution(stateMachineArn=arn, input=_target_input(event, target))
        except Exception as exc:  # EventBridge retries, then drops; a target's failure is not the caller's
            _log.warning("rule target %s did not start: %s", arn, exc)


def _with_resources(entries: list[Any], call: TaskCall) -> list[Any]:
    """The entries with the execution's and the state machine's ARNs appended to their
    ``Resources``, as the optimised integration sends them."""
    machine = (call.context.get("StateMachine") or {}).get("Id")
    added = [arn for arn in (call.execution_arn, machine) if isinstance(arn, str) and arn]
    out: list[Any] = []
    for entry in entries:
        if isinstance(entry, dict):
            resources = entry.get("Resources")
            entry = {**entry, "Resources": [*(resources if isinstance(resources, list) else []), *added]}
        out.append(entry)
    return out


@integration("events", "putEvents")
async def put_events(call: TaskCall) -> Any:
    """``events:putEvents``: the result is PutEvents' response; a failed entry fails the Task
    with ``EventBridge.FailedEntry`` and the response as the cause."""
    params = call.parameters if isinstance(call.parameters, dict) else {}
    entries = params.get("Entries")
    config = _remote.endpoint(call.services, "events")
    if config is not None:
        response = await _remote_put_events(call, params, config)
    else:
        if not isinstance(entries, list):
            raise StatesError(
                "EventBridge.AmazonEventBridgeException",
                "1 validation error detected: Value null at 'entries' failed to satisfy constraint: "
                "Member must not be null",
            )
        response, fired = for_services(call.services).put_events(_with_resources(entries, call))
        await start_targets(call.services, fired)
    if response["FailedEntryCount"]:
        raise StatesError("EventBridge.FailedEntry", _json.dumps(response))
    return response


async def _remote_put_events(
    call: TaskCall, params: dict[str, Any], config: dict[str, Any]
) -> dict[str, Any]:
    request = dict(params)
    entries = request.get("Entries")
    if isinstance(entries, list):
        request["Entries"] = [
            {**e, "Detail": _remote.json_text(e["Detail"])} if isinstance(e, dict) and "Detail" in e else e
            for e in _with_resources(entries, call)
        ]
    output = (await _remote.call(call.services, "events", "putEvents", request, config)).output
    return {"Entries": output.get("Entries", []), "FailedEntryCount": output.get("FailedEntryCount", 0)}


@embedded("eventbridge", "putEvents")
async def sdk_put_events(call: TaskCall) -> Any:
    """``aws-sdk:eventbridge:putEvents``: PutEvents' response (failed entries do not fail the Task)."""
    params = call.parameters if isinstance(call.parameters, dict) else {}
    entries = params.get("Entries")
    response, fired = for_services(call.services).put_events(entries if isinstance(entries, list) else [])
    await start_targets(call.services, fired)
    return response
