"""Conformance of the in-market brand and interest lists."""

from __future__ import annotations

from importlib import resources

import pytest
from criteo_api_marketingsolutions_v2025_01.exceptions import ApiException

from tests.conformance.conftest import ADVERTISER, BRAND_ID, BRAND_NAME, Sdk, problem_body

pytestmark = pytest.mark.conformance

TAXONOMY = "google-product-taxonomy.en-US.txt"


def taxonomy_parents() -> dict[str, str | None]:
    """Every interest id of the packaged Google taxonomy and its parent's id, read directly
    from the file (``ID - Parent > Child``), independently of the server's parser."""
    text = resources.files("reach.reference.data").joinpath(TAXONOMY).read_text("utf-8")
    id_of_path: dict[str, str] = {}
    parents: dict[str, str | None] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        interest_id, path = line.split(" - ", 1)
        id_of_path[path] = interest_id
        parent_path = path.rsplit(" > ", 1)[0] if " > " in path else None
        parents[interest_id] = id_of_path[parent_path] if parent_path else None
    return parents


class TestGetAudienceSegmentsInMarketBrands:
    def test_lists_the_brand_catalogue(self, sdk: Sdk) -> None:
        brands = sdk.audience.get_audience_segments_in_market_brands(ADVERTISER, "FR")

        assert [(b.id, b.type, b.attributes.name, b.attributes.size) for b in brands.data] == [
            (BRAND_ID, "InMarketAudienceSegmentBrand", BRAND_NAME, None)
        ]
        # The conformance server has no index: sizes are withheld and a warning says why.
        assert brands.errors == []
        assert [w.code for w in brands.warnings] == ["index-unavailable"]

    def test_unknown_country_is_a_400(self, sdk: Sdk) -> None:
        with pytest.raises(ApiException) as raised:
            sdk.audience.get_audience_segments_in_market_brands(ADVERTISER, "ZZ")

        assert raised.value.status == 400
        (problem,) = problem_body(raised.value)["errors"]
        assert problem["type"] == "validation"
        assert problem["source"] == {"country": "country"}


class TestGetAudienceSegmentsInMarketInterests:
    def test_lists_the_whole_google_taxonomy_with_parents(self, sdk: Sdk) -> None:
        interests = sdk.audience.get_audience_segments_in_market_interests(ADVERTISER, "FR")

        listed = {i.id: i.attributes.get("parent_id") for i in interests.data}
        assert len(listed) == len(interests.data), "an interest is listed twice"
        assert {i.type for i in interests.data} == {"InMarketAudienceSegmentInterest"}
        assert listed == taxonomy_parents()
        assert len(listed) > 5500
        assert listed["1"] is None
        assert listed["3237"] == "1"

    def test_lowercase_country_is_accepted(self, sdk: Sdk) -> None:
        interests = sdk.audience.get_audience_segments_in_market_interests(ADVERTISER, "fr")

        assert len(interests.data) > 5500
