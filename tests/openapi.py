"""The wire contract in tests: every JSON answer is checked against the vendored OpenAPI file.

The check is stricter than the file: an object whose schema lists its properties may carry no
other property, so a misspelt or invented field fails the test instead of slipping through.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from reach.versions import is_served, version_of

SPEC_PATH = (
    Path(__file__).parent / "spec" / "criteo-marketing-solutions-2025-01.audience.openapi.json"
)
SPEC_URI = "urn:criteo-audience-2025-01"
SPEC_VERSION = "2025-01"
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
PROBLEM_KEYS = {"traceId", "type", "code", "instance", "title", "detail"}


# What Reach sends beyond the contract, on purpose (docs/behaviour.md): schema -> properties.
EXTENSIONS = {
    "InMarketAudienceSegmentInterestEntityV1": {"size": {"type": "integer", "nullable": True}}
}


def _extended(spec: dict[str, Any]) -> dict[str, Any]:
    for name, properties in EXTENSIONS.items():
        spec["components"]["schemas"][name]["properties"].update(properties)
    return spec


def _closed(node: Any) -> Any:
    if isinstance(node, dict):
        closed = {key: _closed(value) for key, value in node.items()}
        if "properties" in closed and "additionalProperties" not in closed:
            closed["additionalProperties"] = False
        return closed
    if isinstance(node, list):
        return [_closed(item) for item in node]
    return node


@dataclass(frozen=True)
class Operation:
    method: str
    pattern: re.Pattern[str]
    operation_id: str
    response_ref: str | None


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return loaded


@cache
def _registry() -> Registry[Any]:
    strict = _closed(_extended(copy.deepcopy(spec())))
    registry: Registry[Any] = Registry().with_resource(
        SPEC_URI, Resource.from_contents(strict, DRAFT4)
    )
    return registry


@cache
def operations() -> tuple[Operation, ...]:
    found = []
    for path, item in spec()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            ok = operation.get("responses", {}).get("200", {})
            schema = ok.get("content", {}).get("application/json", {}).get("schema", {})
            found.append(
                Operation(method.upper(), pattern, operation["operationId"], schema.get("$ref"))
            )
    return tuple(found)


def contract_path(path: str) -> str:
    """The path of the vendored 2025-01 contract that a call of any served version stands for:
    the audience operations and models of every served version are the 2025-01 ones."""
    version = version_of(path)
    if version is None or not is_served(version):
        return path
    return f"/{SPEC_VERSION}{path[len(version) + 1 :]}"


def operation_for(method: str, path: str) -> Operation | None:
    """The contract's operation of a call, on the path of any served version."""
    path = contract_path(path)
    return next(
        (op for op in operations() if op.method == method.upper() and op.pattern.match(path)), None
    )


def schema_errors(ref: str, instance: Any) -> list[str]:
    validator = OAS30ReadValidator(
        {"$ref": f"{SPEC_URI}{ref}"}, registry=_registry(), format_checker=oas30_format_checker
    )
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def assert_traced(body: Any, trace_id: str | None) -> None:
    """Every problem of an answer has its own ``traceId``, the call's ``x-trace-id`` header and
    the problem's number in the answer (BEHAVIOUR §2: unique per occurrence)."""
    if not isinstance(body, dict):
        return
    problems = [
        problem
        for key in ("errors", "warnings")
        if isinstance(body.get(key), list)
        for problem in body[key]
    ]
    if not problems:
        return
    assert trace_id, "an answer with problems must carry the x-trace-id header"
    traces = [problem.get("traceId") for problem in problems]
    assert traces == [f"{trace_id}-{n}" for n in range(1, len(problems) + 1)], traces


def assert_conforms(
    method: str, path: str, status: int, body: Any, trace_id: str | None = None
) -> None:
    """Fail unless ``body`` is what the contract allows for this call and status, and each of
    its problems is traced to the call (``trace_id``: the answer's ``x-trace-id`` header)."""
    assert_traced(body, trace_id)
    operation = operation_for(method, path)
    if status == 200 and operation is not None and operation.response_ref:
        errors = schema_errors(operation.response_ref, body)
        assert not errors, f"{operation.operation_id} answer breaks the contract: {errors}"
        return
    if status >= 400:
        assert isinstance(body, dict), f"an error answer must be a JSON object, got {body!r}"
        problems = body.get("errors")
        assert isinstance(problems, list) and problems, f"no problems in error answer: {body}"
        for problem in problems:
            errors = schema_errors("#/components/schemas/CommonProblem", problem)
            assert not errors, f"problem breaks the contract: {errors}"
            missing = PROBLEM_KEYS - problem.keys()
            assert not missing, f"problem lacks {missing}: {problem}"
            assert "stackTrace" not in problem
