from tests.builders import SEGMENTS, retargeting
from tests.conftest import ADVERTISER, ApiUser


def test_create_then_search(api: ApiUser) -> None:
    created = api.post(f"{SEGMENTS}/create", {"data": [retargeting(ADVERTISER, "a")]})
    assert created.status_code == 200, created.text
    found = api.post(f"{SEGMENTS}/search", {"data": {"attributes": {}}})
    assert found.json()["meta"]["totalItems"] == 1
