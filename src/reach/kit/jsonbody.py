"""Request bodies: content type, size limit and strict JSON parsing into wire models."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, from_json, to_json

from reach.kit.middleware import add_warnings
from reach.kit.problems import (
    Invalid,
    InvalidJson,
    InvalidRange,
    PayloadTooLarge,
    Problem,
    RequestProblems,
    RequiredField,
    UnknownField,
    UnknownFieldIgnored,
    UnsupportedMediaType,
)

M = TypeVar("M", bound=BaseModel)

# A body full of invented members still gets a readable answer.
MAX_IGNORED_LISTED = 50

_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def source_path(loc: tuple[int | str, ...]) -> str:
    """A Pydantic location as a Criteo source path: ``data/0/attributes/name``."""
    return "/".join(str(part) for part in loc)


def problem_from_error(error: ErrorDetails) -> Problem:
    """Translate one Pydantic error into the matching Criteo problem."""
    loc = tuple(error["loc"])
    path = source_path(loc)
    field = str(next((p for p in reversed(loc) if isinstance(p, str)), "body"))
    source = {field: path} if path else None
    kind = error["type"]
    if kind == "json_invalid":
        return InvalidJson(f"The body is not valid JSON: {error['msg']}")
    if kind == "missing":
        return RequiredField(f"'{path}' is required", source=source)
    if kind == "extra_forbidden":
        return UnknownField(f"'{path}' is not a field of this request", source=source)
    if kind in _RANGE_ERRORS:
        return InvalidRange(f"'{path}': {error['msg']}", source=source)
    return Invalid(f"'{path or 'body'}': {error['msg']}", source=source)


def problems_from_validation(exc: ValidationError) -> RequestProblems:
    """Every schema violation of a body."""
    return RequestProblems(problem_from_error(e) for e in exc.errors(include_url=False))


def _without(document: Any, loc: tuple[int | str, ...]) -> None:
    """Remove the member at ``loc`` from a parsed JSON document, in place."""
    *parents, last = loc
    node = document
    for part in parents:
        node = node[part]
    if isinstance(node, dict):
        node.pop(last, None)


def _tolerant_validate(model: type[M], raw: bytes, request: Request) -> M:
    """Validate ``raw``; members the schema does not name are dropped, each reported once as a
    warning of the answer (Criteo ignores them, and integrations send them). Any other schema
    violation still fails the request, the unknown members then reported as warnings of it."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    if unknown:
        paths = list(dict.fromkeys(source_path(tuple(e["loc"])) for e in unknown))
        ignored = [
            UnknownFieldIgnored(
                f"'{path}' is not a field of this request and was ignored",
                source={path.rsplit("/", 1)[-1]: path},
            )
            for path in paths[:MAX_IGNORED_LISTED]
        ]
        if len(paths) > MAX_IGNORED_LISTED:
            ignored.append(
                UnknownFieldIgnored(f"{len(paths) - MAX_IGNORED_LISTED} more were ignored")
            )
        add_warnings(request, ignored)
    problems = [problem_from_error(e) for e in errors if e["type"] != "extra_forbidden"]
    if problems:
        raise RequestProblems(problems)
    try:
        # Pydantic's own parser: it read the body once already, so it reads it again the same.
        document = from_json(raw)
    except ValueError as exc:
        raise InvalidJson(f"The body is not valid JSON: {exc}") from None
    for error in unknown:
        _without(document, tuple(error["loc"]))
    # Validated from JSON again, so strict typing reads it exactly as the first time.
    try:
        return model.model_validate_json(to_json(document, inf_nan_mode="constants"))
    except ValidationError as exc:
        raise problems_from_validation(exc) from None


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, refusing it (413) as soon as it grows past ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _require_json(content_type: str) -> None:
    if not _is_json(content_type):
        raise UnsupportedMediaType(
            f"Send the body as application/json, not '{content_type or 'nothing'}'"
        )


async def _read_json(
    request: Request, model: type[M], *, tolerate_unknown: bool, optional: bool
) -> M | None:
    content_type = request.headers.get("content-type", "")
    if not optional:
        _require_json(content_type)
    raw = await read_body(request, request.app.state.settings.max_body_bytes)
    if not raw.strip():
        if optional:
            return None
        raise RequiredField("The request body is required")
    _require_json(content_type)
    if tolerate_unknown:
        return _tolerant_validate(model, raw, request)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise problems_from_validation(exc) from None


def json_body(
    model: type[M], *, tolerate_unknown: bool = True
) -> Callable[[Request], Awaitable[M]]:
    """A dependency that reads the body as ``model`` or fails the request with problems.

    Members the schema does not name are dropped with a warning, as Criteo does; with
    ``tolerate_unknown=False`` they fail the request (``unknown-field``), for bodies where a
    misspelt member must not quietly mean something else.
    """

    async def dependency(request: Request) -> M:
        found = await _read_json(request, model, tolerate_unknown=tolerate_unknown, optional=False)
        assert found is not None
        return found

    return dependency


def optional_json_body(
    model: type[M], *, tolerate_unknown: bool = True
) -> Callable[[Request], Awaitable[M | None]]:
    """Like ``json_body``, for a body that may be left out: no body (whatever its content
    type says) reads as None."""

    async def dependency(request: Request) -> M | None:
        return await _read_json(request, model, tolerate_unknown=tolerate_unknown, optional=True)

    return dependency
