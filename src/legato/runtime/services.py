"""What an execution needs from the outside world, injected."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from legato.integrations.functions import FunctionRegistry
from legato.integrations.settings import IntegrationSettings
from legato.runtime.callbacks import TaskTokens
from legato.runtime.clock import Clock, IdProvider, RandomIds, SystemClock

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=32, thread_name_prefix="legato-fn")


@dataclass(slots=True)
class Services:
    """Clock, ids, Task resources, where synchronous user code runs, and task tokens."""

    clock: Clock = field(default_factory=SystemClock)
    ids: IdProvider = field(default_factory=RandomIds)
    functions: FunctionRegistry = field(default_factory=FunctionRegistry)
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    executor: ThreadPoolExecutor = field(default_factory=_pool)
    callbacks: TaskTokens = field(default_factory=TaskTokens)
    """Task tokens: activity tasks and ``.waitForTaskToken`` Tasks waiting for an answer."""
    integrations: IntegrationSettings = field(default_factory=IntegrationSettings)
    """Settings of the service integrations (embedded providers, passthrough endpoints)."""
    engine: Any = None
    """The :class:`legato.Engine` running these executions, for integrations that call the
    Step Functions API (nested executions, ``aws-sdk:sfn``); None under ``legato.run``."""
