"""Parents and centre children of H3 cells computed on whole arrays agree with the h3 library."""

from __future__ import annotations

import random

import h3.api.basic_int as h3
import numpy as np
import pytest

from reach.engine.index import parent_cells
from reach.engine.query import _center_children
from reach.engine.store import CELL_RESOLUTION

rng = random.Random(20250101)
POINTS = [(rng.uniform(-89.9, 89.9), rng.uniform(-180, 180)) for _ in range(400)]
# Pentagons have a deleted digit: make sure some of them are in.
PENTAGONS = [h3.cell_to_center_child(p, CELL_RESOLUTION) for p in h3.get_pentagons(0)]


@pytest.mark.parametrize("resolution", range(CELL_RESOLUTION + 1))
def test_parents(resolution: int) -> None:
    cells = [h3.latlng_to_cell(lat, lon, CELL_RESOLUTION) for lat, lon in POINTS] + PENTAGONS
    got = parent_cells(np.array(cells, dtype=np.uint64), resolution)
    assert got.tolist() == [h3.cell_to_parent(c, resolution) for c in cells]


@pytest.mark.parametrize("resolution", range(CELL_RESOLUTION + 1))
def test_centre_children(resolution: int) -> None:
    cells = [h3.latlng_to_cell(lat, lon, resolution) for lat, lon in POINTS]
    cells += h3.get_pentagons(resolution)
    got = _center_children(np.array(cells, dtype=np.uint64), resolution, CELL_RESOLUTION)
    assert got.tolist() == [h3.cell_to_center_child(c, CELL_RESOLUTION) for c in cells]
