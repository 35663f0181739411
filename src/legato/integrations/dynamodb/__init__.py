"""Legato's embedded DynamoDB: tables on SQLite with DynamoDB's data model, expressions and errors.

``DynamoDB(path).call("PutItem", {...})`` runs an API operation on the tables of one SQLite
file; :mod:`legato.integrations.dynamodb.tasks` serves the ``dynamodb:*`` and
``aws-sdk:dynamodb:*`` Task resources from the engine's data directory.
"""

from __future__ import annotations

from legato.integrations.dynamodb.api import OPERATIONS, DynamoDB
from legato.integrations.dynamodb.errors import DynamoDBError

__all__ = ["OPERATIONS", "DynamoDB", "DynamoDBError"]
