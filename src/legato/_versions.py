"""State machine versions: PublishStateMachineVersion, ListStateMachineVersions,
DeleteStateMachineVersion, DescribeStateMachine of a version ARN, and resolving the
ARN a caller starts or lists executions with (unqualified, version or alias).

A version is an immutable snapshot of a state machine's current revision
(definition, role, configurations, ``revisionId``). Its ARN is the state machine
ARN followed by ``:N``; numbers start at 1 and are never reused, even after a
deletion. Publishing is idempotent per revision: publishing a revision that
already has a version returns that version.

Choices where AWS leaves room:

- ``revisionId`` ``INITIAL`` matches a state machine that was never updated.
- A version ARN whose version does not exist is ``StateMachineDoesNotExist``;
  an alias ARN whose alias does not exist is ``ResourceNotFound``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from legato import _apirequest as rq
from legato import arns
from legato.errors import ApiError
from legato.store.records import (
    ExecutionRecord,
    StateMachineAliasRecord,
    StateMachineRecord,
    StateMachineVersionRecord,
)

if TYPE_CHECKING:
    from legato.engine import Engine

__all__ = [
    "VERSION_LIMIT",
    "Target",
    "context_id",
    "delete_version",
    "describe_version",
    "forget_machine",
    "list_versions",
    "publish",
    "publish_options",
    "publish_request",
    "resolve",
    "revision_content",
]

Request = Mapping[str, Any]
Response = dict[str, Any]

VERSION_LIMIT = 1000
"""The most versions one state machine may have at a time."""
DESCRIPTION_LIMIT = 256

RESOURCE_NOT_FOUND = "Request references a resource that does not exist."


def no_such_machine(arn: str) -> ApiError:
    """AWS's error for a state machine (or version) ARN that names nothing."""
    return ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")


def resource_not_found() -> ApiError:
    """AWS's error for an alias ARN that names nothing."""
    return ApiError("ResourceNotFound", RESOURCE_NOT_FOUND)


def split_qualified(arn: str) -> tuple[arns.Arn, str, str | None]:
    """Parses a state machine ARN: ``(parsed, unqualified ARN, qualifier or None)``."""
    parsed = arns.expect_arn(arn, "stateMachine")
    if len(parsed.parts) == 1:
        return parsed, arn, None
    base = str(arns.Arn(parsed.partition, parsed.region, parsed.account, "stateMachine", parsed.parts[:1]))
    return parsed, base, ":".join(parsed.parts[1:])


def is_version_qualifier(qualifier: str) -> bool:
    """Version qualifiers are numbers; alias names always hold a non-digit."""
    return qualifier.isdigit()


def version_arn(state_machine_arn: str, number: int) -> str:
    """The ARN of version ``number`` of a state machine."""
    return f"{state_machine_arn}:{number}"


def publish_options(req: Request) -> tuple[bool, str | None]:
    """``publish`` and ``versionDescription`` of Create/UpdateStateMachine, checked."""
    publish = rq.get_bool(req, "publish", False)
    description = rq.get_str(req, "versionDescription", max_len=DESCRIPTION_LIMIT)
    if description is not None and not publish:
        raise ApiError("ValidationException", "Version description can only be set when publish is true")
    return publish, description


def revision_content(machine: StateMachineRecord) -> tuple[Any, ...]:
    """What a revision is made of: an update that changes none of it keeps the revision."""
    return (
        machine.definition,
        machine.role_arn,
        machine.logging_configuration,
        machine.tracing_configuration,
        machine.encryption_configuration,
    )


@dataclass(frozen=True, slots=True)
class Target:
    """What an ARN given to StartExecution / ListExecutions stands for."""

    machine: StateMachineRecord
    """The (unqualified) state machine."""
    version: StateMachineVersionRecord | None = None
    """The version to run, for a version or alias ARN."""
    alias: StateMachineAliasRecord | None = None
    """The alias, for an alias ARN."""

    def runs(self) -> StateMachineRecord:
        """What an execution of this target runs: the machine, or the version's snapshot."""
        v = self.version
        if v is None:
            return self.machine
        m = self.machine
        return StateMachineRecord(
            arn=m.arn,
            name=m.name,
            definition=v.definition,
            role_arn=v.role_arn,
            type=v.type,
            creation_date=m.creation_date,
            revision_id=v.revision_id,
            logging_configuration=dict(v.logging_configuration),
            tracing_configuration=dict(v.tracing_configuration),
            encryption_configuration=dict(v.encryption_configuration),
            update_date=v.creation_date,
        )

    @property
    def version_arn(self) -> str | None:
        """The version an execution of this target records."""
        return None if self.version is None else self.version.arn

    @property
    def alias_arn(self) -> str | None:
        """The alias an execution of this target records."""
        return None if self.alias is None else self.alias.arn

    @property
    def arn(self) -> str:
        """The ARN the caller named."""
        if self.alias is not None:
            return self.alias.arn
        if self.version is not None:
            return self.version.arn
        return self.machine.arn


async def _machine(engine: Engine, base: str, shown: str) -> StateMachineRecord:
    record = await engine.store.get_state_machine(base)
    if record is None:
        raise no_such_machine(shown)
    return record


async def resolve(engine: Engine, arn: str, *, pick: bool) -> Target:
    """The state machine, version and alias that ``arn`` names.

    With ``pick``, an alias ARN also picks the version to run, by the alias's
    weights (the engine's id source decides, so tests can make it deterministic).
    """
    from legato import _aliases

    _, base, qualifier = split_qualified(arn)
    if qualifier is None:
        return Target(await _machine(engine, base, arn))
    if is_version_qualifier(qualifier):
        version = await engine.store.get_version(arn)
        if version is None:
            raise no_such_machine(arn)
        return Target(await _machine(engine, base, arn), version)
    alias = await engine.store.get_alias(arn)
    if alias is None:
        raise resource_not_found()
    machine = await _machine(engine, base, arn)
    if not pick:
        return Target(machine, None, alias)
    chosen = _aliases.pick_version(alias, engine.ids)
    version = await engine.store.get_version(chosen)
    if version is None:  # an alias keeps its versions from being deleted; be safe anyway
        raise no_such_machine(chosen)
    return Target(machine, version, alias)


async def publish(
    engine: Engine,
    machine: StateMachineRecord,
    description: str | None = None,
    revision_id: str | None = None,
) -> StateMachineVersionRecord:
    """Publishes the current revision of ``machine`` (or returns its existing version)."""
    if revision_id is not None:
        initial = revision_id == "INITIAL" and machine.update_date is None
        if not initial and revision_id != machine.revision_id:
            raise ApiError(
                "ConflictException",
                f"Failed to publish the State Machine version for revision {revision_id}. "
                f"The current State Machine revision is {machine.revision_id}.",
            )
    versions = await engine.store.list_versions(machine.arn)
    for existing in versions:
        if existing.revision_id == machine.revision_id:
            return existing
    if len(versions) >= VERSION_LIMIT:
        raise ApiError(
            "ServiceQuotaExceededException",
            f"Failed to publish a version: the state machine already has {VERSION_LIMIT} versions, "
            "the most allowed. Delete unused versions with DeleteStateMachineVersion.",
        )
    machine.last_version += 1
    record = StateMachineVersionRecord(
        arn=version_arn(machine.arn, machine.last_version),
        state_machine_arn=machine.arn,
        number=machine.last_version,
        name=machine.name,
        definition=machine.definition,
        role_arn=machine.role_arn,
        type=machine.type,
        creation_date=engine.clock.time(),
        revision_id=machine.revision_id,
        logging_configuration=dict(machine.logging_configuration),
        tracing_configuration=dict(machine.tracing_configuration),
        encryption_configuration=dict(machine.encryption_configuration),
        description=description,
    )
    await engine.store.put_state_machine(machine)
    await engine.store.put_version(record)
    return record


async def publish_request(engine: Engine, req: Request) -> Response:
    """PublishStateMachineVersion."""
    arn = rq.need_str(req, "stateMachineArn")
    revision_id = rq.get_str(req, "revisionId")
    description = rq.get_str(req, "description", max_len=DESCRIPTION_LIMIT)
    _, base, qualifier = split_qualified(arn)
    if qualifier is not None:
        raise no_such_machine(arn)
    machine = await _machine(engine, base, arn)
    record = await publish(engine, machine, description, revision_id)
    return {"creationDate": record.creation_date, "stateMachineVersionArn": record.arn}


async def list_versions(engine: Engine, req: Request) -> Response:
    """ListStateMachineVersions: newest first, paginated."""
    arn = rq.need_str(req, "stateMachineArn")
    _, base, qualifier = split_qualified(arn)
    if qualifier is not None:
        raise no_such_machine(arn)
    machine = await _machine(engine, base, arn)
    versions = sorted(await engine.store.list_versions(machine.arn), key=lambda v: -v.number)
    page, token = rq.paginate(req, versions, f"versions:{machine.arn}")
    out: Response = {
        "stateMachineVersions": [
            {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for v in page
        ]
    }
    if token:
        out["nextToken"] = token
    return out


async def delete_version(engine: Engine, req: Request) -> Response:
    """DeleteStateMachineVersion: refused while an alias routes to the version."""
    arn = rq.need_str(req, "stateMachineVersionArn")
    _, base, qualifier = split_qualified(arn)
    if qualifier is None or not is_version_qualifier(qualifier):
        raise ApiError("ValidationException", f"Invalid state machine version ARN: '{arn}'")
    using = [a.name for a in await engine.store.list_aliases(base) if _routes_to(a, arn)]
    if using:
        raise ApiError(
            "ConflictException",
            "Version to be deleted must not be referenced by an alias. "
            f"Current list of aliases referencing this version: [{', '.join(using)}]",
        )
    await engine.store.delete_version(arn)
    return {}


def _routes_to(alias: StateMachineAliasRecord, version: str) -> bool:
    return any(item["stateMachineVersionArn"] == version for item in alias.routing)


async def describe_version(engine: Engine, arn: str) -> Response:
    """DescribeStateMachine of a version ARN (an alias ARN names no state machine)."""
    _, _, qualifier = split_qualified(arn)
    version = await engine.store.get_version(arn) if qualifier and is_version_qualifier(qualifier) else None
    if version is None:
        raise no_such_machine(arn)
    out: Response = {
        "stateMachineArn": version.arn,
        "name": version.name,
        "status": "ACTIVE",
        "definition": version.definition,
        "roleArn": version.role_arn,
        "type": version.type,
        "creationDate": version.creation_date,
        "loggingConfiguration": dict(version.logging_configuration),
        "tracingConfiguration": dict(version.tracing_configuration),
        "revisionId": version.revision_id,
        "encryptionConfiguration": dict(version.encryption_configuration),
    }
    if version.description is not None:
        out["description"] = version.description
    return out


def context_id(record: ExecutionRecord) -> str:
    """``$$.StateMachine.Id``: the ARN the execution was started with (alias, version or
    state machine), so a workflow can tell which alias or version runs it."""
    return record.state_machine_alias_arn or record.state_machine_version_arn or record.state_machine_arn


async def forget_machine(engine: Engine, state_machine_arn: str) -> None:
    """Deletes the versions and aliases of a state machine that is being deleted."""
    for alias in await engine.store.list_aliases(state_machine_arn):
        await engine.store.delete_alias(alias.arn)
    for version in await engine.store.list_versions(state_machine_arn):
        await engine.store.delete_version(version.arn)
