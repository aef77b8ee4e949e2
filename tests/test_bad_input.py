"""The bad-input sweep: each malformed request gets a clear problem and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.builders import AUDIENCES, SEGMENTS, audience, item, leaf, retargeting
from tests.conftest import ADVERTISER, ApiUser, segments

CREATE = f"{SEGMENTS}/create"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def existing(api: ApiUser) -> list[dict[str, Any]]:
    """One segment that must survive every bad request unchanged."""
    assert api.post(CREATE, {"data": [retargeting(ADVERTISER, "keep")]}).status_code == 200
    return segments(api)


def problems(response: Any, status: int) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    body = response.json()
    assert "detail" not in body, "FastAPI's default error shape leaked"
    assert body["warnings"] == []
    found: list[dict[str, Any]] = body["errors"]
    for problem in found:
        assert problem["traceId"].startswith(response.headers["x-trace-id"] + "-")
        assert "Traceback" not in problem["detail"]
    return found


class TestUnreadableBodies:
    @pytest.mark.parametrize(
        "raw",
        [
            b'{"data": [',
            b"not json",
            b'{"data": [1,]}',
            b"\xff\xfe",
            b'"just a string"',
            b"[]",
            b"null",
        ],
    )
    def test_not_the_expected_json(self, api: ApiUser, existing: Any, raw: bytes) -> None:
        found = problems(api.call("POST", CREATE, None, content=raw, headers=JSON), 400)
        assert found[0]["code"] in {"invalid-json", "invalid", "required-field"}
        assert segments(api) == existing

    def test_empty_body(self, api: ApiUser, existing: Any) -> None:
        found = problems(api.call("POST", CREATE, None, content=b"", headers=JSON), 400)
        assert found[0]["code"] == "required-field"

    @pytest.mark.parametrize(
        "content_type", ["text/plain", "application/x-www-form-urlencoded", ""]
    )
    def test_wrong_content_type(self, api: ApiUser, existing: Any, content_type: str) -> None:
        body = b'{"data": []}'
        response = api.call(
            "POST", CREATE, None, content=body, headers={"Content-Type": content_type}
        )
        assert problems(response, 415)[0]["code"] == "unsupported-media-type"
        assert segments(api) == existing

    def test_json_with_charset_is_fine(self, api: ApiUser) -> None:
        response = api.call(
            "POST",
            CREATE,
            None,
            content=json.dumps({"data": [item(ADVERTISER, "x", contactList={})]}).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        assert response.status_code == 200
        assert response.json()["errors"] == []


class TestUnknownFields:
    """Members the schema does not name are ignored, each reported once as a warning."""

    def test_they_are_ignored_and_named_once(self, api: ApiUser, existing: Any) -> None:
        first = retargeting(ADVERTISER, "tolerated")
        first["attributes"]["retargeting"]["internalNote"] = "x"
        first["attributes"]["tracking"] = {"source": "crm"}
        second = retargeting(ADVERTISER, "tolerated too")
        second["attributes"]["tracking"] = 1
        response = api.post(CREATE, {"data": [first, second], "meta": {"page": 1}})
        assert response.status_code == 200
        body = response.json()
        assert body["errors"] == []
        assert sorted(r["attributes"]["name"] for r in body["data"]) == [
            "tolerated",
            "tolerated too",
        ]
        warnings = [(w["code"], w["type"], *w["source"].items()) for w in body["warnings"]]
        assert sorted(warnings) == sorted(
            [
                (
                    "unknown-field-ignored",
                    "validation",
                    ("internalNote", "data/0/attributes/retargeting/internalNote"),
                ),
                ("unknown-field-ignored", "validation", ("tracking", "data/0/attributes/tracking")),
                ("unknown-field-ignored", "validation", ("tracking", "data/1/attributes/tracking")),
                ("unknown-field-ignored", "validation", ("meta", "meta")),
            ]
        )
        created = {r["attributes"]["name"]: r for r in body["data"]}
        assert "internalNote" not in created["tolerated"]["attributes"]["retargeting"]
        assert len(segments(api)) == len(existing) + 2

    def test_odd_numbers_beside_an_unknown_member(self, api: ApiUser, existing: Any) -> None:
        """JSON that the schema reader takes (NaN, 1e400) still parses when members go."""
        for odd in ("NaN", "1e400", "-Infinity"):
            attributes = {"advertiserId": str(ADVERTISER), "name": f"odd {odd}", "contactList": {}}
            item = {"attributes": attributes}
            body = f'{{"data": [{json.dumps(item)}], "junk": {odd}}}'
            response = api.call(
                "POST", CREATE, content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 200, response.text
            assert [w["code"] for w in response.json()["warnings"]] == ["unknown-field-ignored"]

    def test_a_body_of_many_unknown_members_lists_fifty(self, api: ApiUser, existing: Any) -> None:
        payload: dict[str, Any] = {"data": [retargeting(ADVERTISER, "many")]}
        payload |= {f"x{i}": i for i in range(80)}
        response = api.post(CREATE, payload)
        assert response.status_code == 200
        warnings = response.json()["warnings"]
        assert len(warnings) == 51
        assert "30 more were ignored" in warnings[-1]["detail"]


class TestSchemaViolations:
    @pytest.mark.parametrize(
        ("payload", "path", "code"),
        [
            ({"data": {}}, "data", "invalid"),
            ({"data": [42]}, "data/0", "invalid"),
            ({"data": [{"attributes": {"name": 7}}]}, "data/0/attributes/name", "invalid"),
            (
                {"data": [{"attributes": {"retargeting": {"daysSinceLastVisitMin": "3"}}}]},
                "data/0/attributes/retargeting/daysSinceLastVisitMin",
                "invalid",
            ),
            (
                {"data": [{"attributes": {"retargeting": {"visitorsType": "Everyone"}}}]},
                "data/0/attributes/retargeting/visitorsType",
                "invalid",
            ),
            (
                {"data": [{"attributes": {"retargeting": {"daysSinceLastVisitMax": 2**31}}}]},
                "data/0/attributes/retargeting/daysSinceLastVisitMax",
                "invalid-range",
            ),
            (
                {"data": [{"attributes": {"lookalike": {"targetSize": 2**63}}}]},
                "data/0/attributes/lookalike/targetSize",
                "invalid-range",
            ),
            ({}, "data", "required-field"),
            (
                {
                    "data": [
                        {"attributes": {"location": {"pointsOfInterest": [{"latitude": True}]}}}
                    ]
                },
                "data/0/attributes/location/pointsOfInterest/0/latitude",
                "invalid",
            ),
        ],
    )
    def test_each_violation_is_reported_with_its_path(
        self, api: ApiUser, existing: Any, payload: Any, path: str, code: str
    ) -> None:
        found = problems(api.post(CREATE, payload), 400)
        assert (found[0]["code"], list(found[0]["source"].values())) == (code, [path])
        assert found[0]["type"] == "validation"
        assert segments(api) == existing

    def test_unknown_members_are_warnings_of_a_failed_request(
        self, api: ApiUser, existing: Any
    ) -> None:
        payload = {"data": [{"attributes": {"name": 7, "nmae": "typo"}}], "extra": 1}
        response = api.post(CREATE, payload)
        assert response.status_code == 400
        found = response.json()["errors"]
        assert [(p["code"], p["source"]) for p in found] == [
            ("invalid", {"name": "data/0/attributes/name"})
        ]
        assert [(w["code"], w["source"]) for w in response.json()["warnings"]] == [
            ("unknown-field-ignored", {"nmae": "data/0/attributes/nmae"}),
            ("unknown-field-ignored", {"extra": "extra"}),
        ]
        assert segments(api) == existing

    def test_one_bad_type_fails_the_whole_request(self, api: ApiUser, existing: Any) -> None:
        payload = {"data": [retargeting(ADVERTISER, "fine"), {"attributes": {"name": ["list"]}}]}
        problems(api.post(CREATE, payload), 400)
        assert segments(api) == existing

    def test_every_violation_is_listed_up_to_a_cap(self, api: ApiUser, existing: Any) -> None:
        payload = {"data": [{"attributes": {"name": i}} for i in range(80)]}
        found = problems(api.post(CREATE, payload), 400)
        assert len(found) == 51
        assert "30 more problems" in found[-1]["detail"]

    def test_nan_is_not_a_number_here(self, api: ApiUser, existing: Any) -> None:
        raw = b'{"data": [{"attributes": {"location": {"pointsOfInterest": [{"latitude": NaN}]}}}]}'
        problems(api.call("POST", CREATE, None, content=raw, headers=JSON), 400)


class TestSizes:
    def test_empty_data(self, api: ApiUser, existing: Any) -> None:
        for path in (CREATE, f"{SEGMENTS}/delete"):
            found = problems(api.post(path, {"data": []}), 400)
            assert found[0]["code"] == "required-field"
        found = problems(api.patch(SEGMENTS, {"data": []}), 400)
        assert found[0]["source"] == {"data": "data"}

    def test_ten_thousand_items(self, api: ApiUser, existing: Any) -> None:
        payload = {"data": [retargeting(ADVERTISER, f"n{i}") for i in range(10_000)]}
        found = problems(api.post(CREATE, payload), 400)
        assert found[0]["code"] == "too-many-items"
        assert "10000" in found[0]["detail"]
        assert segments(api) == existing

    def test_huge_string_inside_the_body_limit(self, api: ApiUser, existing: Any) -> None:
        response = api.post(CREATE, {"data": [retargeting(ADVERTISER, "x" * 1_000_000)]})
        assert response.status_code == 200
        assert response.json()["errors"][0]["source"] == {"name": "data/0/attributes/name"}
        assert segments(api) == existing

    def test_body_over_the_limit(self, api: ApiUser, existing: Any) -> None:
        response = api.post(CREATE, {"data": [retargeting(ADVERTISER, "x" * 11_000_000)]})
        assert problems(response, 413)[0]["code"] == "payload-too-large"
        assert segments(api) == existing


def only_item_problem(response: Any) -> dict[str, Any]:
    """The single per-item problem of a 200 bulk answer."""
    assert response.status_code == 200, response.text
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]


class TestText:
    """Text is stored as sent, except what no database keeps and no screen shows."""

    def test_nul_in_a_name_fails_that_item_only(self, api: ApiUser, existing: Any) -> None:
        payload = {"data": [retargeting(ADVERTISER, "fine"), retargeting(ADVERTISER, "nul\x00x")]}
        response = api.post(CREATE, payload)
        problem = only_item_problem(response)
        assert (problem["code"], problem["source"]) == (
            "invalid",
            {"name": "data/1/attributes/name"},
        )
        assert "U+0000" in problem["detail"]
        assert [s["attributes"]["name"] for s in segments(api)] == ["keep", "fine"]

    @pytest.mark.parametrize("control", ["\x00", "\x1b", "\x7f"])
    def test_control_characters_in_a_description(
        self, api: ApiUser, existing: Any, control: str
    ) -> None:
        body = retargeting(ADVERTISER, "described")
        body["attributes"]["description"] = f"a{control}b"
        problem = only_item_problem(api.post(CREATE, {"data": [body]}))
        assert problem["source"] == {"description": "data/0/attributes/description"}
        assert segments(api) == existing

    def test_line_breaks_and_tabs_in_a_description_are_kept(self, api: ApiUser) -> None:
        body = retargeting(ADVERTISER, "described")
        body["attributes"]["description"] = "line one\r\n\tline two"
        assert api.post(CREATE, {"data": [body]}).json()["errors"] == []
        assert segments(api)[0]["attributes"]["description"] == "line one\r\n\tline two"

    def test_nul_in_a_point_name(self, api: ApiUser, existing: Any) -> None:
        point = {"name": "shop\x00", "latitude": 48.85, "longitude": 2.35}
        body = item(ADVERTISER, "near", location={"pointsOfInterest": [point], "radiusInKm": 5})
        problem = only_item_problem(api.post(CREATE, {"data": [body]}))
        path = "data/0/attributes/location/pointsOfInterest/0/name"
        assert problem["source"] == {"name": path}
        assert segments(api) == existing

    def test_nul_in_a_rename_changes_nothing(self, api: ApiUser, existing: Any) -> None:
        rename = {"id": existing[0]["id"], "attributes": {"name": "\x00"}}
        problem = only_item_problem(api.patch(SEGMENTS, {"data": [rename]}))
        assert problem["source"] == {"name": "data/0/attributes/name"}
        assert segments(api) == existing

    @pytest.mark.parametrize("name", ["\u200b", "\u00a0\u2060", "\ufeff \t"])
    def test_a_name_that_draws_nothing_is_empty(
        self, api: ApiUser, existing: Any, name: str
    ) -> None:
        problem = only_item_problem(api.post(CREATE, {"data": [retargeting(ADVERTISER, name)]}))
        assert problem["code"] == "name-must-not-be-empty"
        assert segments(api) == existing

    def test_nul_in_an_audience_name(self, api: ApiUser, existing: Any) -> None:
        payload = {"data": [audience(ADVERTISER, "a\x00", leaf(existing[0]["id"]))]}
        problem = only_item_problem(api.post(f"{AUDIENCES}/create", payload))
        assert problem["source"] == {"name": "data/0/attributes/name"}
        found = api.post(f"{AUDIENCES}/search", {"data": {}}).json()["data"]
        assert found == []


class TestUnknownRoutes:
    def test_unknown_path(self, api: ApiUser) -> None:
        found = problems(api.get("/2025-01/marketing-solutions/nothing-here"), 404)
        assert found[0]["code"] == "not-found"

    def test_wrong_method(self, api: ApiUser) -> None:
        found = problems(api.get(CREATE), 405)
        assert found[0]["code"] == "method-not-allowed"
