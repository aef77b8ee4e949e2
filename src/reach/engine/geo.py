"""Great-circle geometry over numpy arrays of coordinates (degrees), on a spherical Earth."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

EARTH_RADIUS_KM = 6371.0088


def haversine_km(
    lat1: np.ndarray[Any, Any],
    lon1: np.ndarray[Any, Any],
    lat2: float | np.ndarray[Any, Any],
    lon2: float | np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    """The great-circle distances from each (``lat1``, ``lon1``) to one point, or to each of
    as many points (``lat2``, ``lon2``)."""
    p1 = np.radians(lat1)
    if not isinstance(lat2, np.ndarray) and not isinstance(lon2, np.ndarray):
        p2: Any = math.radians(lat2)
        cos_p2: Any = math.cos(p2)
        l2: Any = math.radians(lon2)
    else:
        p2, l2 = np.radians(lat2), np.radians(lon2)
        cos_p2 = np.cos(p2)
    dp = p2 - p1
    dl = l2 - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * cos_p2 * np.sin(dl / 2) ** 2
    distance: np.ndarray[Any, Any] = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))
    return distance


def unit_vectors(
    lat: np.ndarray[Any, Any], lon: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The points as vectors of the unit sphere (x, y, z)."""
    phi, lam = np.radians(lat), np.radians(lon)
    return np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)


def unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    phi, lam = math.radians(lat), math.radians(lon)
    return math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)
