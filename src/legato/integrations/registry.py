"""Task resources: a registry from a service integration to its handler.

A Task whose resource is ``arn:aws:states:::SERVICE:ACTION[.PATTERN]`` (or
``arn:aws:states:::aws-sdk:SERVICE:ACTION``) is dispatched to the handler
registered for ``(SERVICE, ACTION)`` (``("aws-sdk:s3", "getObject")`` for the
SDK form). The runtime records the Task* history events around the call, applies
TimeoutSeconds, and for ``.waitForTaskToken`` waits for the token after the
handler returns; a ``.sync`` handler waits for the job it started itself.

A handler takes a :class:`TaskCall` and returns the Task's result (a JSON value)
or raises :class:`~legato.errors.StatesError` with the error name and cause
Step Functions would report for that service (``DynamoDB.ConditionalCheckFailedException``,
``S3.NoSuchKeyException`` ...).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from legato.runtime.services import Services


@dataclass(frozen=True, slots=True)
class TaskCall:
    """One call of a Task's resource."""

    services: Services
    """The engine's clock, ids, functions and integration settings."""
    resource: str
    """The Task's ``Resource`` ARN, as written."""
    service: str
    """``lambda``, ``sqs``, ``states``, ``http``, ``aws-sdk:s3`` ..."""
    action: str
    """``invoke``, ``sendMessage``, ``startExecution``, ``getObject`` ..."""
    pattern: str
    """``""`` (request-response), ``sync``, ``sync:2`` or ``waitForTaskToken``."""
    parameters: Any
    """The effective parameters (after Parameters or Arguments)."""
    state_name: str
    execution_arn: str
    context: dict[str, Any]
    """The context object as the state sees it (``Task.Token`` included for callbacks)."""
    token: str | None = None
    """The task token, for ``.waitForTaskToken``."""
    credentials: Any = None
    """The Task's ``Credentials`` field, if any."""
    submitted: Callable[[Any], None] | None = None
    """For a ``.sync`` handler: records ``TaskSubmitted`` with what starting the job returned
    (call it once the job has started, before waiting for it)."""
    resumed: Any = None
    """For a ``.sync`` handler whose ``TaskSubmitted`` an earlier run recorded (the engine
    restarted while the job ran): what starting the job returned then. The handler waits
    for that job again instead of starting another."""


Handler = Callable[[TaskCall], Awaitable[Any]]

_HANDLERS: dict[tuple[str, str], Handler] = {}


def integration(service: str, *actions: str) -> Callable[[Handler], Handler]:
    """Registers the decorated coroutine function as the handler of ``service``'s ``actions``."""

    def register(fn: Handler) -> Handler:
        for action in actions:
            _HANDLERS[(service, action)] = fn
        return fn

    return register


def register(service: str, action: str, handler: Handler) -> None:
    """Registers ``handler`` for ``(service, action)``, replacing any earlier one."""
    _HANDLERS[(service, action)] = handler


def lookup(service: str, action: str) -> Handler | None:
    """The handler for ``(service, action)``, loading the built-in integrations first.

    A service ``PREFIX:NAME`` whose prefix has a router (``aws-sdk``) goes to the router,
    which decides per call (see :mod:`legato.integrations.aws_sdk`).
    """
    _load_builtins()
    prefix, colon, _ = service.partition(":")
    if colon and prefix in _ROUTERS:
        return _ROUTERS[prefix]
    return _HANDLERS.get((service, action))


_ROUTERS: dict[str, Handler] = {}


def router(prefix: str, handler: Handler) -> None:
    """Sends every service ``PREFIX:NAME`` to ``handler`` (``aws-sdk`` → the AWS SDK router)."""
    _ROUTERS[prefix] = handler


def registered(service: str, action: str) -> Handler | None:
    """The handler registered for exactly ``(service, action)``, bypassing any router."""
    return _HANDLERS.get((service, action))


_LOADED = False


def _load_builtins() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import importlib

    for module in BUILTIN_MODULES:
        importlib.import_module(module)


BUILTIN_MODULES: list[str] = [
    "legato.integrations.lambda_invoke",
    "legato.integrations.states",
    "legato.integrations.sfn_sdk",
    "legato.integrations.aws_sdk",
    "legato.integrations.s3",
    "legato.integrations.sqs",
    "legato.integrations.sns",
    "legato.integrations.events",
    "legato.integrations.glue",
    "legato.integrations.http",
    "legato.integrations.dynamodb.tasks",
]
"""Modules whose import registers the built-in integrations."""
