"""Wire models: camelCase JSON in and out, strict on input, and the Criteo response envelope."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic.alias_generators import to_camel

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]


class RequestModel(BaseModel):
    """A request body part: types are checked strictly and unknown fields are refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        strict=True,
        frozen=True,
        allow_inf_nan=False,
    )


class ResponseModel(BaseModel):
    """A response body part, rendered in camelCase without the fields that are unset."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class _KeepNull:
    """Marks a field whose ``null`` is news and is sent as such (e.g. a withheld size)."""


KEEP_NULL = _KeepNull()


class NullsResponseModel(ResponseModel):
    """A response part whose ``KEEP_NULL`` fields are sent even when they are null."""

    @model_serializer(mode="wrap")
    def _keep_nulls(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if info.exclude_none and isinstance(data, dict):
            for name, field in type(self).model_fields.items():
                if KEEP_NULL in field.metadata and getattr(self, name) is None:
                    data[field.alias if info.by_alias and field.alias else name] = None
        return data


class NillableInt32(RequestModel):
    """On update: absent keeps the value, ``{"value": null}`` clears it."""

    value: Int32 | None = None


class NillableString(RequestModel):
    """On update: absent keeps the value, ``{"value": null}`` clears it."""

    value: str | None = None


T = TypeVar("T")


class ListResponse(ResponseModel, Generic[T]):
    """``{data, errors, warnings}``: the envelope of every bulk or list answer."""

    data: list[T]
    errors: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[dict[str, Any]] = Field(default_factory=list)


class SearchMeta(ResponseModel):
    limit: int
    offset: int
    total_items: int


class SearchResponse(ListResponse[T], Generic[T]):
    """A list answer with paging metadata."""

    meta: SearchMeta


class SingleResponse(ResponseModel, Generic[T]):
    """``{data, errors, warnings}`` around one resource."""

    data: T
    errors: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[dict[str, Any]] = Field(default_factory=list)


class JsonResponse(Response):
    """A JSON answer rendered straight from a wire model (or a plain dict)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, BaseModel):
            return content.model_dump_json(by_alias=True, exclude_none=True).encode()
        return orjson.dumps(content)
