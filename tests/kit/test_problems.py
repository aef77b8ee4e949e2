"""Problems render in Criteo's shape and move under their item's path."""

from __future__ import annotations

import pytest

from reach.kit.bulk import BulkResult
from reach.kit.problems import AdvertiserAccessDenied, Invalid, RequestProblems


def test_wire_shape() -> None:
    problem = AdvertiserAccessDenied("nope", source={"advertiserId": "attributes/advertiserId"})
    assert problem.to_wire(trace_id="t", instance="/x") == {
        "traceId": "t",
        "type": "access-control",
        "code": "advertiser-access-denied",
        "instance": "/x",
        "title": AdvertiserAccessDenied.title,
        "detail": "nope",
        "source": {"advertiserId": "attributes/advertiserId"},
    }


def test_bulk_result_orders_errors_by_item_and_prefixes_paths() -> None:
    result: BulkResult[int] = BulkResult()
    result.fail(3, [Invalid("c", source={"name": "attributes/name"})])
    result.fail(1, [Invalid("a", source={"id": "id"}), Invalid("b")])
    assert [(p.detail, p.source) for p in result.errors] == [
        ("a", {"id": "data/1/id"}),
        ("b", {}),
        ("c", {"name": "data/3/attributes/name"}),
    ]
    assert result.failed(1)
    assert not result.failed(2)


def test_request_problems_need_a_problem() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RequestProblems([])
