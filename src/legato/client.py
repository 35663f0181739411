"""``legato.client()``: a boto3 Step Functions client for a local ``legato serve``."""

from __future__ import annotations

import sys
import types
from typing import Any

__all__ = ["DEFAULT_ENDPOINT", "client"]

DEFAULT_ENDPOINT = "http://127.0.0.1:8083"
"""Where ``legato serve`` listens by default."""


def client(endpoint_url: str = DEFAULT_ENDPOINT, **kwargs: Any) -> Any:
    """A boto3 ``stepfunctions`` client ready for a local server at ``endpoint_url``.

    The defaults suit a local server: region ``us-east-1``; dummy credentials
    (``test``/``test``) unless ``aws_access_key_id``/``aws_secret_access_key`` are
    given (a server started with ``--credentials`` needs real ones from its file);
    no host prefix (StartSyncExecution and TestState would otherwise call
    ``sync-127.0.0.1``); no retries, so an error shows at once. Any keyword argument
    of ``boto3.client`` overrides these; a ``config`` is merged over them.

    >>> sfn = legato.client()                                  # doctest: +SKIP
    >>> sfn.list_state_machines()["stateMachines"]             # doctest: +SKIP
    []
    """
    import boto3
    from botocore.config import Config

    defaults = Config(inject_host_prefix=False, retries={"total_max_attempts": 1, "mode": "standard"})
    config = kwargs.pop("config", None)
    kwargs["config"] = defaults if config is None else defaults.merge(config)
    kwargs.setdefault("region_name", "us-east-1")
    if "aws_access_key_id" not in kwargs and "aws_secret_access_key" not in kwargs:
        kwargs["aws_access_key_id"] = "test"
        kwargs["aws_secret_access_key"] = "test"
    return boto3.client("stepfunctions", endpoint_url=endpoint_url, **kwargs)


class _CallableModule(types.ModuleType):
    """This module, callable as :func:`client`.

    Importing ``legato.client`` binds the package attribute ``legato.client`` to
    this module, shadowing the function ``legato`` exports under that name; a
    callable module keeps ``legato.client(...)`` working whichever import came first.
    """

    def __call__(self, endpoint_url: str = DEFAULT_ENDPOINT, **kwargs: Any) -> Any:
        return client(endpoint_url, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
