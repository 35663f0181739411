"""The optimised Lambda integration, ``arn:aws:states:::lambda:invoke``.

The function named by ``FunctionName`` is one of the registered Python functions;
the Task's result is Lambda's response envelope, with the function's return value
as ``Payload``.
"""

from __future__ import annotations

import json
from email.utils import formatdate
from typing import Any

from legato import _json
from legato.errors import StatesError
from legato.integrations.registry import TaskCall, integration
from legato.runtime.tasks import invoke_function


@integration("lambda", "invoke")
async def lambda_invoke(call: TaskCall) -> Any:
    """``lambda:invoke``: calls the function and returns Lambda's response envelope."""
    params = call.parameters
    services = call.services
    if not isinstance(params, dict) or not isinstance(params.get("FunctionName"), str):
        raise StatesError(
            "States.Runtime",
            "The Parameters for lambda:invoke must be an object with a string FunctionName.",
        )
    payload = params.get("Payload")
    if payload is None:
        # An empty or null Payload reaches the function as an empty event.
        payload = {}
    elif isinstance(payload, str):
        # A string Payload is the request body itself: JSON text.
        try:
            payload = _json.loads(payload)
        except ValueError:
            pass
    result = await invoke_function(services, params["FunctionName"], payload, True)
    request_id = services.ids.uuid()
    now = services.clock.time()
    date = formatdate(now, usegmt=True)
    trace = f"Root=1-{int(now):08x}-{services.ids.uuid().replace('-', '')[:24]};Sampled=0"
    # Lambda's Python runtime serialises results with json.dumps' default separators.
    length = str(len(json.dumps(result, ensure_ascii=False).encode()))
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": result,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": [length],
                "Date": [date],
                "X-Amzn-Trace-Id": [trace],
                "Content-Type": ["application/json"],
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/json",
                "Date": date,
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
                "X-Amzn-Trace-Id": trace,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }
