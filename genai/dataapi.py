"""The RDS Data API: ``_data_call`` is the one function that calls execute_statement
(and the transaction calls); results are decoded strictly, and a ClientError becomes a DataError,
Throttled, ServiceUnavailable or UpstreamTimeout with ``raise ... from err``.

Imports budget, clients, config, errors and log.
"""

from __future__ import annotations

import base64
import time
from datetime import date
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from . import budget, clients, config
from .config import Settings
from .errors import AppError, BadResponse, ConfigurationError, DataError, ServiceUnavailable, Throttled, UpstreamError, UpstreamTimeout
from .log import logger

_DATA_UNAVAILABLE = {
    "DatabaseResumingException", "DatabaseUnavailableException", "ServiceUnavailableError",
    "InternalServerErrorException", "InvalidResourceStateException",
}


def _sql_parameter(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {"name": name, "value": {"isNull": True}}
    if isinstance(value, bool):
        return {"name": name, "value": {"booleanValue": value}}
    if isinstance(value, int):
        return {"name": name, "value": {"longValue": value}}
    if isinstance(value, float):
        return {"name": name, "value": {"doubleValue": value}}
    if isinstance(value, date):
        return {"name": name, "value": {"stringValue": value.isoformat()}, "typeHint": "DATE"}
    return {"name": name, "value": {"stringValue": str(value)}}


RESULT_LIMIT = 1024 * 1024  # the Data API refuses a result set larger than 1 MiB; a bigger body is not its answer
_FIELD_OVERHEAD = 16  # bytes of JSON around one field's value ({"stringValue":"..."},)


def _result_bytes(response: dict[str, Any], limit: int = RESULT_LIMIT) -> int:
    """The body's size: Content-Length when botocore kept the HTTP headers, else a lower bound counted
    from the records (each value's text plus the JSON around it), stopping once past ``limit``."""
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) if isinstance(response.get(
        "ResponseMetadata"), dict) else {}
    length = headers.get("content-length") if isinstance(headers, dict) else None
    if isinstance(length, str) and length.isdigit():
        return int(length)
    total = 0
    records = response.get("records")
    for record in records if isinstance(records, list) else ():
        for field in record if isinstance(record, list) else ():
            total += _FIELD_OVERHEAD
            if isinstance(field, dict):
                for value in field.values():
                    total += len(value) if isinstance(value, (str, bytes, list)) else 8
        if total > limit:
            break
    return total


_SCALARS: dict[str, tuple[type, ...]] = {"stringValue": (str,), "longValue": (int,), "doubleValue": (int, float),
                                         "booleanValue": (bool,)}


def _bad_data(what: str) -> DataError:
    logger.warning("data api response malformed", extra={"problem": what})
    return DataError(BadResponse.message, "database_bad_response")


def decode_field(field_value: Any) -> Any:
    """Decode one Data API Field (every value kind, arrays included); anything else is a bad response."""
    if not isinstance(field_value, dict):
        raise _bad_data("field is not an object")
    if field_value.get("isNull"):
        return None
    for key, types in _SCALARS.items():
        if key in field_value:
            value = field_value[key]
            if not isinstance(value, types) or (key != "booleanValue" and isinstance(value, bool)):
                raise _bad_data(f"{key} of the wrong type")
            return value
    if "blobValue" in field_value:
        blob = field_value["blobValue"]
        if isinstance(blob, (bytes, bytearray)):
            return base64.b64encode(blob).decode("ascii")
        if isinstance(blob, str):
            return blob
        raise _bad_data("blobValue of the wrong type")
    if "arrayValue" in field_value:
        return _decode_array(field_value["arrayValue"])
    raise _bad_data("field of no known kind")


def _decode_array(array: Any) -> list[Any]:
    if not isinstance(array, dict):
        raise _bad_data("arrayValue is not an object")
    if "arrayValues" in array:
        if not isinstance(array["arrayValues"], list):
            raise _bad_data("arrayValues is not a list")
        return [_decode_array(item) for item in array["arrayValues"]]
    for key in ("stringValues", "longValues", "doubleValues", "booleanValues"):
        if key in array:
            values = array[key]
            kind = _SCALARS[key.replace("Values", "Value")]
            if not isinstance(values, list) or not all(isinstance(v, kind) for v in values):
                raise _bad_data(f"{key} of the wrong type")
            return list(values)
    return []


def decode_records(response: Any) -> list[dict[str, Any]]:
    """Rows as dicts. Every statement here is a SELECT, so a response with neither records nor column
    metadata (botocore turns an unparsable body into one) is malformed, not "no rows"."""
    if not isinstance(response, dict) or ("records" not in response and "columnMetadata" not in response):
        raise _bad_data("response has no result set")
    if _result_bytes(response) > RESULT_LIMIT:  # the real service never sends one: not an answer to trust
        raise _bad_data("result larger than the Data API's 1 MiB")
    metadata, records = response.get("columnMetadata", []), response.get("records", [])
    if not isinstance(metadata, list) or not isinstance(records, list):
        raise _bad_data("columnMetadata or records is not a list")
    columns = [column.get("label") or column.get("name") if isinstance(column, dict) else None for column in metadata]
    if not all(isinstance(name, str) and name for name in columns):
        raise _bad_data("column without a name")
    rows = []
    for record in records:
        if not isinstance(record, list) or len(record) != len(columns):
            raise _bad_data("record does not match the columns")
        rows.append(dict(zip(columns, map(decode_field, record))))
    return rows


def _data_call(settings: Settings, operation: str, reserve_ms: int, **params: Any) -> dict[str, Any]:
    """Every Data API call goes through here: one attempt, bounded by the request's deadline (leaving
    ``reserve_ms`` for what follows), and every failure turned into a DataError or ConfigurationError."""
    budget_s = budget.current_deadline().budget_s(config.RESPONSE_RESERVE_MS + reserve_ms)
    try:
        response = getattr(clients.client("rds-data", budget_s), operation)(
            resourceArn=settings.db_cluster_arn, secretArn=settings.db_secret_arn, **params)
    except ClientError as err:
        code = clients._error_code(err)
        logger.warning("data api error", extra={"error_code": code})
        if code in _DATA_UNAVAILABLE or clients._is_server_error(code):
            raise DataError(ServiceUnavailable.message, "database_unavailable") from err
        if code == "StatementTimeoutException":
            raise DataError("The database query took too long.", "database_timeout") from err
        if code == "ThrottlingException":
            raise DataError(Throttled.message, "database_throttled") from err
        raise DataError() from err
    except NoCredentialsError as err:
        logger.error("no AWS credentials")
        raise ConfigurationError() from err
    except ParamValidationError:
        raise  # our bug, not the database's
    except ReadTimeoutError as err:
        logger.warning("data api read timeout", extra={"budget_s": round(budget_s, 1)})
        raise DataError("The database query took too long.", "database_timeout") from err
    except BotoCoreError as err:  # connect timeout, refused or dropped connection, broken stream
        logger.warning("data api unreachable", extra={"error_type": type(err).__name__})
        raise DataError("The database could not be reached.", "database_unreachable") from err
    except (AttributeError, TypeError, ValueError, KeyError) as err:  # botocore parsing a body of the wrong shape
        raise _bad_data(type(err).__name__) from err
    if not isinstance(response, dict):
        raise _bad_data("response is not an object")
    return response


def _statement(settings: Settings, sql: str, params: dict[str, Any] | None, transaction_id: str | None,
               reserve_ms: int) -> dict[str, Any]:
    extra = {"transactionId": transaction_id} if transaction_id else {}
    return _data_call(settings, "execute_statement", reserve_ms, database=settings.db_name, sql=sql,
                      parameters=[_sql_parameter(name, value) for name, value in (params or {}).items()],
                      includeResultMetadata=True, **extra)


def _execute(settings: Settings, sql: str, params: dict[str, Any] | None = None,
             transaction_id: str | None = None) -> list[dict[str, Any]]:
    """Run one parameterised SELECT through the Data API and return rows as dicts.

    Bounded by the request's deadline, leaving time for the model call that follows (none follows
    a statement of a write transaction); one attempt."""
    started = time.perf_counter()
    reserve = 0 if transaction_id else config.MODEL_CALL_RESERVE_MS
    rows = decode_records(_statement(settings, sql, params, transaction_id, reserve))
    logger.debug("statement", extra={"rows": len(rows), "ms": round((time.perf_counter() - started) * 1000, 1)})
    return rows


def _insert(settings: Settings, sql: str, params: dict[str, Any], transaction_id: str) -> int:
    """Run one INSERT in a transaction; the new row's key (Aurora MySQL reports it in generatedFields)."""
    response = _statement(settings, sql, params, transaction_id, 0)
    fields = response.get("generatedFields")
    if response.get("numberOfRecordsUpdated") != 1 or not isinstance(fields, list) or not fields:
        raise _bad_data("insert reported no new row")
    new_id = decode_field(fields[0])
    if not isinstance(new_id, int) or isinstance(new_id, bool):
        raise _bad_data("generated key is not an integer")
    return new_id


def _status_for_data_error(err: DataError) -> AppError:
    """At the top level, a data failure becomes the HTTP status that fits it."""
    mapping: dict[str, type[AppError]] = {
        "database_unavailable": ServiceUnavailable,
        "database_unreachable": ServiceUnavailable,
        "database_timeout": UpstreamTimeout,
        "database_throttled": Throttled,
        "database_bad_response": BadResponse,
    }
    kind = mapping.get(err.code, UpstreamError)
    return kind(err.message, err.code)


def placeholders(prefix: str, values: list[Any]) -> tuple[str, dict[str, Any]]:
    """``:prefix0, :prefix1, ...`` and their parameters, for IN lists (values are never inlined)."""
    names = [f"{prefix}{i}" for i in range(len(values))]
    return ", ".join(f":{name}" for name in names), dict(zip(names, values))
