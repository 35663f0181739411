"""Step Functions ARNs and resource names: building, parsing and AWS's validation rules.

ARN shapes (as AWS prints them)::

    arn:aws:states:REGION:ACCOUNT:stateMachine:NAME
    arn:aws:states:REGION:ACCOUNT:execution:SM_NAME:EXEC_NAME
    arn:aws:states:REGION:ACCOUNT:express:SM_NAME:EXEC_NAME:UUID
    arn:aws:states:REGION:ACCOUNT:activity:NAME

Errors carry AWS's exact types and messages (``InvalidArn``, ``InvalidName`` ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from legato.errors import ApiError

NAME_MAX = 80
"""The longest name AWS accepts for a state machine, an execution or an activity."""

# White space, brackets, wildcards, specials, control characters (U+0000-001F, U+007F-009F),
# U+FFFE-FFFF and surrogates, per the API reference's rules for names.
_INVALID_NAME_CHARS = re.compile(
    r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f\ufffe\uffff\ud800-\udfff]"
)


@dataclass(frozen=True, slots=True)
class Arn:
    """A parsed Step Functions ARN; ``parts`` are the fields after the resource type."""

    partition: str
    region: str
    account: str
    resource_type: str
    parts: tuple[str, ...]

    def __str__(self) -> str:
        tail = ":".join(self.parts)
        return f"arn:{self.partition}:states:{self.region}:{self.account}:{self.resource_type}:{tail}"


def validate_name(name: str, field: str = "name") -> None:
    """Checks a state machine, execution or activity name as AWS does.

    Raises ``ValidationException`` for a length out of 1..80, ``InvalidName`` for a
    forbidden character.
    """
    if len(name) < 1:
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1",
        )
    if len(name) > NAME_MAX:
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {NAME_MAX}",
        )
    if _INVALID_NAME_CHARS.search(name):
        raise ApiError("InvalidName", f"Invalid Name: '{name}'")


def parse_arn(arn: str) -> Arn:
    """Parses a Step Functions ARN; raises ``InvalidArn`` when it is not one."""
    if not arn.startswith("arn:"):
        raise ApiError("InvalidArn", f"Invalid Arn: 'Invalid ARN prefix: {arn}'")
    fields = arn.split(":")
    if len(fields) < 7 or fields[2] != "states" or not all(fields[1:2] + fields[5:]):
        raise ApiError("InvalidArn", f"Invalid Arn: 'Invalid ARN format: {arn}'")
    return Arn(fields[1], fields[3], fields[4], fields[5], tuple(fields[6:]))


def expect_arn(arn: str, *resource_types: str) -> Arn:
    """Parses ``arn`` and checks that its resource type is one of ``resource_types``."""
    parsed = parse_arn(arn)
    if parsed.resource_type not in resource_types:
        raise ApiError(
            "InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {parsed.resource_type}'"
        )
    return parsed


def state_machine_arn(region: str, account: str, name: str, partition: str = "aws") -> str:
    """The ARN of the state machine ``name``."""
    return f"arn:{partition}:states:{region}:{account}:stateMachine:{name}"


def execution_arn(sm_arn: str, name: str, express_id: str | None = None) -> str:
    """The ARN of execution ``name`` of a state machine; Express executions add an id."""
    parsed = parse_arn(sm_arn)
    head = f"arn:{parsed.partition}:states:{parsed.region}:{parsed.account}"
    sm_name = parsed.parts[0]
    if express_id is not None:
        return f"{head}:express:{sm_name}:{name}:{express_id}"
    return f"{head}:execution:{sm_name}:{name}"


def activity_arn(region: str, account: str, name: str, partition: str = "aws") -> str:
    """The ARN of the activity ``name``."""
    return f"arn:{partition}:states:{region}:{account}:activity:{name}"
