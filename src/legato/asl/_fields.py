"""Which fields each part of an ASL document may carry, as Step Functions accepts them.

The tables list every field a state type supports in either query language; the
query-language tables then say which of them belong to one language only. Field
order inside a tuple is the order diagnostics are reported in.
"""

from __future__ import annotations

STATE_TYPES = ("Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map")

TOP_LEVEL_FIELDS = frozenset({"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"})
BRANCH_FIELDS = frozenset({"Comment", "StartAt", "States"})
PROCESSOR_FIELDS = BRANCH_FIELDS | {"ProcessorConfig"}

QUERY_LANGUAGES = ("JSONPath", "JSONata")

_COMMON = frozenset({"Type", "Comment", "QueryLanguage"})
_IO = frozenset({"InputPath", "OutputPath", "Output"})
_TRANSITION = frozenset({"Next", "End"})
_RESULT = frozenset({"ResultPath", "ResultSelector"})
_ERRORS = frozenset({"Retry", "Catch"})

STATE_FIELDS: dict[str, frozenset[str]] = {
    "Pass": _COMMON | _IO | _TRANSITION | {"Assign", "Result", "ResultPath", "Parameters"},
    "Task": _COMMON
    | _IO
    | _TRANSITION
    | _RESULT
    | _ERRORS
    | {
        "Assign",
        "Resource",
        "Parameters",
        "Arguments",
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        "Credentials",
    },
    "Choice": _COMMON | _IO | {"Choices", "Default", "Assign"},
    "Wait": _COMMON | _IO | _TRANSITION | {"Assign", "Seconds", "Timestamp", "SecondsPath", "TimestampPath"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": _COMMON
    | _IO
    | _TRANSITION
    | _RESULT
    | _ERRORS
    | {"Assign", "Branches", "Parameters", "Arguments"},
    "Map": _COMMON
    | _IO
    | _TRANSITION
    | _RESULT
    | _ERRORS
    | {
        "Assign",
        "ItemProcessor",
        "Iterator",
        "ItemsPath",
        "Items",
        "ItemSelector",
        "Parameters",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
        "MaxConcurrency",
        "MaxConcurrencyPath",
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
        "Label",
    },
}

# Every other field outside these two tuples works in both languages.
JSONPATH_ONLY = (
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
)
JSONATA_ONLY = ("Output", "Arguments", "Items")

RETRIER_FIELDS = frozenset(
    {
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
        "JitterStrategy",
        "Comment",
    }
)
CATCHER_FIELDS = frozenset({"ErrorEquals", "Next", "ResultPath", "Comment", "Assign", "Output"})
JITTER_STRATEGIES = ("FULL", "NONE")

# Choice rules. A JSONPath rule compares a Variable with one operator; a JSONata rule
# carries a Condition. Only top-level rules (directly in Choices) carry Next.
_COMPARISON_KINDS = {
    "String": ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals", "Matches"),
    "Numeric": ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"),
    "Boolean": ("Equals",),
    "Timestamp": ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"),
}
# operator -> expected operand ("string", "numeric", "boolean", "timestamp", "path")
COMPARISON_OPERATORS: dict[str, str] = {}
for _kind, _ops in _COMPARISON_KINDS.items():
    for _op in _ops:
        COMPARISON_OPERATORS[_kind + _op] = _kind.lower()
        if _op != "Matches":
            COMPARISON_OPERATORS[_kind + _op + "Path"] = "path"
for _op in ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"):
    COMPARISON_OPERATORS[_op] = "boolean"

BOOLEAN_OPERATORS = ("And", "Or", "Not")
CHOICE_RULE_EXTRAS = frozenset({"Next", "Comment", "Assign", "Output"})
NESTED_RULE_EXTRAS = frozenset({"Comment"})

PROCESSOR_MODES = ("INLINE", "DISTRIBUTED")
EXECUTION_TYPES = ("STANDARD", "EXPRESS")
PROCESSOR_CONFIG_FIELDS = frozenset({"Mode", "ExecutionType"})
ITEM_READER_FIELDS = frozenset({"Resource", "ReaderConfig", "Parameters", "Arguments"})
READER_INPUT_TYPES = ("CSV", "JSON", "JSONL", "MANIFEST", "PARQUET")
ITEM_BATCHER_FIELDS = frozenset(
    {
        "MaxItemsPerBatch",
        "MaxItemsPerBatchPath",
        "MaxInputBytesPerBatch",
        "MaxInputBytesPerBatchPath",
        "BatchInput",
    }
)
RESULT_WRITER_FIELDS = frozenset({"Resource", "Parameters", "Arguments", "WriterConfig"})
WRITER_CONFIG_FIELDS = frozenset({"Transformation", "OutputType"})
WRITER_TRANSFORMATIONS = ("NONE", "COMPACT", "FLATTEN")
WRITER_OUTPUT_TYPES = ("JSON", "JSONL")

# Optimised integrations whose action list is closed and known: a resource
# ``arn:aws:states:::SERVICE:ACTION`` naming another action is not recognised.
# Services missing here are not checked (no false alarms for integrations we do not model).
KNOWN_INTEGRATIONS: dict[str, frozenset[str]] = {
    "lambda": frozenset({"invoke"}),
    "dynamodb": frozenset({"getItem", "putItem", "deleteItem", "updateItem"}),
    "sqs": frozenset({"sendMessage"}),
    "sns": frozenset({"publish"}),
    "events": frozenset({"putEvents"}),
    "states": frozenset({"startExecution"}),
    "http": frozenset({"invoke"}),
}

# Characters a Map Label may not contain (besides control characters).
LABEL_FORBIDDEN = frozenset(' "#$%&*,:;<>?[\\]^`{|}~')
LABEL_MAX_LENGTH = 40

VARIABLE_NAME_MAX_LENGTH = 80
RESERVED_VARIABLES = frozenset({"states"})
