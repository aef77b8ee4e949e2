"""Reference-data logic: registering advertisers and brands, and the in-market catalogues."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from reach.kit.clock import Clock
from reach.kit.findings import control_character, is_visible
from reach.kit.ids import parse_id
from reach.kit.problems import AdvertiserAccessDenied, Invalid, RequestProblems, RequiredField
from reach.models import AdSet, Advertiser, Brand
from reach.reference.countries import normalise_country
from reach.reference.errors import InvalidCountry
from reach.reference.repository import AdSetRepository, AdvertiserRepository, BrandRepository
from reach.reference.taxonomy import Interest, taxonomy

REGISTRY_NAME_MAX_LENGTH = 255


def _check_name(name: str, what: str) -> None:
    if not is_visible(name):
        raise Invalid(f"{what} needs a non-empty name")
    control = control_character(name)
    if control is not None:
        raise Invalid(f"{what}'s name contains the control character {control}")
    if len(name.strip()) > REGISTRY_NAME_MAX_LENGTH:
        raise Invalid(f"{what}'s name is longer than {REGISTRY_NAME_MAX_LENGTH} characters")


class ReferenceService:
    def __init__(self, session: Session, clock: Clock) -> None:
        self.advertisers = AdvertiserRepository(session)
        self.brands = BrandRepository(session)
        self.ad_sets = AdSetRepository(session)
        self.clock = clock

    # --- registries (CLI) -------------------------------------------------------------------

    def add_advertiser(self, raw_id: str, name: str) -> Advertiser:
        advertiser_id = parse_id(raw_id)
        if advertiser_id is None:
            raise Invalid(f"An advertiser id is a positive 64-bit integer, not '{raw_id}'")
        _check_name(name, "An advertiser")
        if self.advertisers.get(advertiser_id) is not None:
            raise Invalid(f"Advertiser {advertiser_id} already exists")
        advertiser = Advertiser(id=advertiser_id, name=name.strip(), created_at=self.clock.now())
        self.advertisers.add(advertiser)
        return advertiser

    def add_brand(self, raw_id: str, name: str) -> Brand:
        brand_id = parse_id(raw_id)
        if brand_id is None:
            raise Invalid(f"A brand id is a positive 64-bit integer, not '{raw_id}'")
        _check_name(name, "A brand")
        if self.brands.get(brand_id) is not None:
            raise Invalid(f"Brand {brand_id} already exists")
        brand = Brand(id=brand_id, name=name.strip())
        self.brands.add(brand)
        return brand

    def upsert_brands(self, rows: Sequence[tuple[int, str]]) -> int:
        """Make the catalogue hold these brands (new ones added, known ones renamed)."""
        for brand_id, name in rows:
            brand = self.brands.get(brand_id)
            if brand is None:
                self.brands.add(Brand(id=brand_id, name=name))
            else:
                brand.name = name
        return len(rows)

    def list_advertisers(self) -> Sequence[Advertiser]:
        return self.advertisers.list()

    def add_ad_set(self, raw_id: str, advertiser_id: int, name: str) -> AdSet:
        ad_set_id = parse_id(raw_id)
        if ad_set_id is None:
            raise Invalid(f"An ad set id is a positive 64-bit integer, not '{raw_id}'")
        _check_name(name, "An ad set")
        if self.advertisers.get(advertiser_id) is None:
            raise Invalid(f"Advertiser {advertiser_id} does not exist")
        if self.ad_sets.get(ad_set_id) is not None:
            raise Invalid(f"Ad set {ad_set_id} already exists")
        ad_set = AdSet(
            id=ad_set_id,
            advertiser_id=advertiser_id,
            name=name.strip(),
            created_at=self.clock.now(),
        )
        self.ad_sets.add(ad_set)
        return ad_set

    def list_ad_sets(self) -> Sequence[AdSet]:
        return self.ad_sets.list()

    # --- in-market catalogues ---------------------------------------------------------------

    def in_market_brands(
        self, reachable: frozenset[int], advertiser_id: str | None, country: str | None
    ) -> tuple[str, Sequence[Brand]]:
        """The country asked for (normalised) and the brand catalogue."""
        return self._check_query(reachable, advertiser_id, country), self.brands.list()

    def in_market_interests(
        self, reachable: frozenset[int], advertiser_id: str | None, country: str | None
    ) -> tuple[str, list[Interest]]:
        """The country asked for (normalised) and every interest of the taxonomy."""
        country = self._check_query(reachable, advertiser_id, country)
        return country, list(taxonomy().interests.values())

    @staticmethod
    def _check_query(
        reachable: frozenset[int], advertiser_id: str | None, country: str | None
    ) -> str:
        missing = [
            RequiredField(f"The query parameter '{name}' is required", source={name: name})
            for name, value in (("advertiser-id", advertiser_id), ("country", country))
            if not value
        ]
        if missing:
            raise RequestProblems(missing)
        assert advertiser_id is not None and country is not None
        normalised = normalise_country(country)
        if normalised is None:
            raise RequestProblems(
                [
                    InvalidCountry(
                        f"'{country}' is not an ISO 3166-1 alpha-2 country code",
                        source={"country": "country"},
                    )
                ]
            )
        number = parse_id(advertiser_id)
        if number is None or number not in reachable:
            raise AdvertiserAccessDenied(
                f"Advertiser '{advertiser_id}' is unknown or has not granted access to this"
                " application",
                source={"advertiser-id": "advertiser-id"},
            )
        return normalised
