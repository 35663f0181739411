"""DynamoDB's service errors, by their AWS error code and message."""

from __future__ import annotations


class DynamoDBError(Exception):
    """A DynamoDB API error: ``code`` is AWS's error code (``ValidationException``,
    ``ConditionalCheckFailedException`` ...), ``message`` its message, word for word."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def validation(message: str) -> DynamoDBError:
    """A ``ValidationException`` with ``message``."""
    return DynamoDBError("ValidationException", message)


def not_found(message: str = "Requested resource not found") -> DynamoDBError:
    """A ``ResourceNotFoundException``."""
    return DynamoDBError("ResourceNotFoundException", message)


def condition_failed() -> DynamoDBError:
    """The ``ConditionalCheckFailedException`` of a failed ConditionExpression."""
    return DynamoDBError("ConditionalCheckFailedException", "The conditional request failed")
