"""Segment rules (pure): check a requested type object and build its stored definition.

Every function adds what is wrong to a ``Findings`` and returns None, or returns the
definition exactly as the API will show it.
"""

from __future__ import annotations

from collections.abc import Sequence, Set, Sized

from reach.audience_segment.errors import BrandNotFound, InterestNotFound
from reach.audience_segment.schemas import (
    InMarketCreateV1,
    InMarketV1,
    LocationCreateV1,
    LocationV1,
    PointOfInterestV1,
    ProspectingCreateV1,
    ProspectingV1,
    RetargetingCreateV1,
    RetargetingV1,
)
from reach.config import Settings
from reach.kit.findings import Findings, control_character
from reach.kit.ids import parse_id
from reach.kit.problems import Invalid, InvalidRange
from reach.reference.countries import normalise_country
from reach.reference.errors import InvalidCountry
from reach.reference.taxonomy import Taxonomy

COORDINATE_DECIMALS = 5


def fits_id_limit(ids: Sized, most: int) -> bool:
    """Whether an in-market id list is short enough to be looked at: a longer one is refused
    whole, so a request of a million ids costs no more than one of ``most``."""
    return len(ids) <= most


class SegmentRules:
    """The bounds of BEHAVIOUR.md §4, read from Settings, plus the catalogue to check ids in."""

    def __init__(self, settings: Settings, taxonomy: Taxonomy, known_brand_ids: Set[int]) -> None:
        self.settings = settings
        self.taxonomy = taxonomy
        self.known_brand_ids = known_brand_ids

    def _days(
        self, low: int | None, high: int | None, f: Findings, path: str, *, required: bool
    ) -> None:
        limit = self.settings.days_since_last_visit_max
        given = {"daysSinceLastVisitMin": low, "daysSinceLastVisitMax": high}
        for name, value in given.items():
            if value is None:
                if required:
                    f.required(None, name, f"{path}/{name}")
            elif not 0 <= value <= limit:
                f.add(
                    InvalidRange, f"'{name}' must be between 0 and {limit}", name, f"{path}/{name}"
                )
        if low is not None and high is not None and 0 <= high < low:
            f.add(
                InvalidRange,
                "'daysSinceLastVisitMin' must not exceed 'daysSinceLastVisitMax'",
                "daysSinceLastVisitMin",
                f"{path}/daysSinceLastVisitMin",
            )

    # --- one function per type --------------------------------------------------------------

    def retargeting(
        self, spec: RetargetingCreateV1, f: Findings, path: str
    ) -> RetargetingV1 | None:
        before = f.found
        f.required(spec.visitors_type, "visitorsType", f"{path}/visitorsType")
        self._days(
            spec.days_since_last_visit_min, spec.days_since_last_visit_max, f, path, required=True
        )
        if f.found > before:
            return None
        assert spec.visitors_type is not None
        assert spec.days_since_last_visit_min is not None
        assert spec.days_since_last_visit_max is not None
        return RetargetingV1(
            visitors_type=spec.visitors_type,
            days_since_last_visit_min=spec.days_since_last_visit_min,
            days_since_last_visit_max=spec.days_since_last_visit_max,
        )

    def prospecting(
        self, spec: ProspectingCreateV1, f: Findings, path: str
    ) -> ProspectingV1 | None:
        before = f.found
        f.required(spec.users_type, "usersType", f"{path}/usersType")
        self._days(
            spec.days_since_last_visit_min, spec.days_since_last_visit_max, f, path, required=False
        )
        if f.found > before:
            return None
        assert spec.users_type is not None
        return ProspectingV1(
            users_type=spec.users_type,
            days_since_last_visit_min=spec.days_since_last_visit_min,
            days_since_last_visit_max=spec.days_since_last_visit_max,
        )

    def _unique(self, values: Sequence[str], name: str, f: Findings, path: str) -> None:
        seen: set[str] = set()
        for index, value in enumerate(values):
            if value in seen:
                f.add(
                    Invalid, f"'{value}' appears twice in '{name}'", name, f"{path}/{name}/{index}"
                )
            seen.add(value)

    def _fits_id_limit(self, ids: Sequence[str], name: str, f: Findings, path: str) -> bool:
        """A list longer than ``in_market_max_ids`` is one problem; none of its ids is checked."""
        most = self.settings.in_market_max_ids
        if fits_id_limit(ids, most):
            return True
        f.add(
            InvalidRange,
            f"'{name}' lists {len(ids)} ids; at most {most} are accepted (REACH_IN_MARKET_MAX_IDS)",
            name,
            f"{path}/{name}",
        )
        return False

    def in_market(self, spec: InMarketCreateV1, f: Findings, path: str) -> InMarketV1 | None:
        before = f.found
        country = None
        if f.required(spec.country, "country", f"{path}/country"):
            assert spec.country is not None
            country = normalise_country(spec.country)
            if country is None:
                f.add(
                    InvalidCountry,
                    f"'{spec.country}' is not an ISO 3166-1 alpha-2 country code",
                    "country",
                    f"{path}/country",
                )
        brand_ids = list(spec.brand_ids or [])
        if self._fits_id_limit(brand_ids, "brandIds", f, path):
            for index, brand_id in enumerate(brand_ids):
                number = parse_id(brand_id)
                if number is None or number not in self.known_brand_ids:
                    f.add(
                        BrandNotFound,
                        f"Unknown brand '{brand_id}'",
                        "brandIds",
                        f"{path}/brandIds/{index}",
                    )
            self._unique(brand_ids, "brandIds", f, path)
        interest_ids = list(spec.interest_ids or [])
        if self._fits_id_limit(interest_ids, "interestIds", f, path):
            for index, interest_id in enumerate(interest_ids):
                if interest_id not in self.taxonomy:
                    f.add(
                        InterestNotFound,
                        f"Unknown in-market interest '{interest_id}'",
                        "interestIds",
                        f"{path}/interestIds/{index}",
                    )
            self._unique(interest_ids, "interestIds", f, path)
        buying_power = list(spec.buying_power or [])
        price_range = list(spec.price_range or [])
        self._unique(buying_power, "buyingPower", f, path)
        self._unique(price_range, "priceRange", f, path)
        if f.found > before or country is None:
            return None
        return InMarketV1(
            country=country,
            brand_ids=brand_ids,
            interest_ids=interest_ids,
            buying_power=buying_power,
            price_range=price_range,
            gender=spec.gender,
        )

    def location(self, spec: LocationCreateV1, f: Findings, path: str) -> LocationV1 | None:
        before = f.found
        low, high = self.settings.radius_min_km, self.settings.radius_max_km
        if f.required(spec.radius_in_km, "radiusInKm", f"{path}/radiusInKm"):
            assert spec.radius_in_km is not None
            if not low <= spec.radius_in_km <= high:
                f.add(
                    InvalidRange,
                    f"'radiusInKm' must be between {low} and {high}",
                    "radiusInKm",
                    f"{path}/radiusInKm",
                )
        points: list[PointOfInterestV1] = []
        if f.required(spec.points_of_interest, "pointsOfInterest", f"{path}/pointsOfInterest"):
            assert spec.points_of_interest is not None
            most = self.settings.max_points_of_interest
            if not 1 <= len(spec.points_of_interest) <= most:
                f.add(
                    InvalidRange,
                    f"Give between 1 and {most} points of interest",
                    "pointsOfInterest",
                    f"{path}/pointsOfInterest",
                )
            for index, point in enumerate(spec.points_of_interest):
                checked = self._point(point, f, f"{path}/pointsOfInterest/{index}")
                if checked is not None:
                    points.append(checked)
        if f.found > before:
            return None
        assert spec.radius_in_km is not None
        return LocationV1(points_of_interest=points, radius_in_km=spec.radius_in_km)

    def _point(self, point: PointOfInterestV1, f: Findings, path: str) -> PointOfInterestV1 | None:
        ok = True
        for name, value, bound in (
            ("latitude", point.latitude, 90),
            ("longitude", point.longitude, 180),
        ):
            if not f.required(value, name, f"{path}/{name}"):
                ok = False
            elif value is not None and not -bound <= value <= bound:
                f.add(
                    InvalidRange,
                    f"'{name}' must be between -{bound} and {bound}",
                    name,
                    f"{path}/{name}",
                )
                ok = False
        if point.name is not None:
            control = control_character(point.name)
            if control is not None:
                f.add(
                    Invalid,
                    f"The point's name contains the control character {control}",
                    "name",
                    f"{path}/name",
                )
                ok = False
            elif len(point.name) > self.settings.name_max_length:
                f.add(Invalid, "The point's name is too long", "name", f"{path}/name")
                ok = False
        if not ok:
            return None
        assert point.latitude is not None and point.longitude is not None
        return PointOfInterestV1(
            name=point.name,
            latitude=round(point.latitude, COORDINATE_DECIMALS),
            longitude=round(point.longitude, COORDINATE_DECIMALS),
        )

    def target_size(self, value: int | None, f: Findings, path: str) -> int:
        size = self.settings.lookalike_default_target_size if value is None else value
        if size < 1:
            f.add(
                InvalidRange, "'targetSize' must be at least 1", "targetSize", f"{path}/targetSize"
            )
        return size
