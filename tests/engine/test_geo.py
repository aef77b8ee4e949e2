"""The dot-product shortcut of location queries decides exactly as the great-circle formula."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reach.engine.geo import EARTH_RADIUS_KM, haversine_km, unit_vectors
from reach.engine.query import ShardIndex


def destination(
    lat: float, lon: float, km: np.ndarray, bearing: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Points ``km`` away from (lat, lon) along ``bearing`` (radians), on the sphere."""
    delta = km / EARTH_RADIUS_KM
    phi, lam = math.radians(lat), math.radians(lon)
    phi2 = np.arcsin(np.sin(phi) * np.cos(delta) + np.cos(phi) * np.sin(delta) * np.cos(bearing))
    lam2 = lam + np.arctan2(
        np.sin(bearing) * np.sin(delta) * np.cos(phi), np.cos(delta) - np.sin(phi) * np.sin(phi2)
    )
    return np.degrees(phi2), np.degrees(lam2)


@pytest.mark.parametrize(
    ("lat", "lon", "radius"),
    [(48.8566, 2.3522, 1), (0.0, 179.99, 20), (-33.9, 18.4, 500), (71.0, -8.0, 7)],
)
def test_within_agrees_with_the_great_circle_formula_next_to_the_edge(
    lat: float, lon: float, radius: float
) -> None:
    rng = np.random.default_rng(7)
    # Pings from a micrometre to a kilometre on both sides of the circle, and some at random.
    offsets = np.concatenate(
        [
            np.array([0.0]),
            np.repeat(10.0 ** np.arange(-9, 1), 200) * rng.choice([-1, 1], 2000),
            rng.uniform(-radius, radius, 2000),
        ]
    )
    bearing = rng.uniform(0, 2 * math.pi, len(offsets))
    lats, lons = destination(lat, lon, radius + offsets, bearing)
    x, y, z = unit_vectors(lats, lons)
    arrays = {"latitude": lats, "longitude": lons, "x": x, "y": y, "z": z}
    rows = np.arange(len(lats))
    expected = haversine_km(lats, lons, lat, lon) <= radius
    decided = ShardIndex._within(arrays, rows, lat, lon, radius)
    assert (decided == expected).all()
    assert 0 < expected.sum() < len(expected)
