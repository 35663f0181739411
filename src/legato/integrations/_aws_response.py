"""What AWS's Java SDK adds to an optimised integration's result, and its error causes."""

from __future__ import annotations

from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from legato.errors import StatesError

if TYPE_CHECKING:
    from legato.runtime.services import Services

__all__ = ["sdk_metadata", "service_error"]


def sdk_metadata(
    services: Services,
    content_type: str,
    length: int,
    *,
    request_id: str | None = None,
    date: str | None = None,
) -> dict[str, Any]:
    """``SdkHttpMetadata`` and ``SdkResponseMetadata`` of a 200 response of ``length`` bytes
    (a real response's request id and date when given)."""
    request_id = request_id or services.ids.uuid()
    date = date or formatdate(services.clock.time(), usegmt=True)
    size = str(length)
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "x-amzn-RequestId": [request_id],
                "connection": ["keep-alive"],
                "Content-Length": [size],
                "Date": [date],
                "Content-Type": [content_type],
            },
            "HttpHeaders": {
                "connection": "keep-alive",
                "Content-Length": size,
                "Content-Type": content_type,
                "Date": date,
                "x-amzn-RequestId": request_id,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    }


def service_error(
    services: Services, error: str, message: str, service: str, status: int, code: str
) -> StatesError:
    """A service exception as Step Functions reports it: the SDK's message format."""
    cause = (
        f"{message} (Service: {service}; Status Code: {status}; Error Code: {code}; "
        f"Request ID: {services.ids.uuid()}; Proxy: null)"
    )
    return StatesError(error, cause)
