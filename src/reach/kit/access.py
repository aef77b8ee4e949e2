"""Advertiser access: every item and filter names only advertisers the caller may reach.

An advertiser the caller cannot reach is refused exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from reach.kit.findings import Findings
from reach.kit.ids import parse_id, parse_ids
from reach.kit.problems import AdvertiserAccessDenied, RequestProblems


def denied(raw: str | None) -> str:
    return f"Advertiser '{raw}' is unknown or has not granted access to this application"


def item_advertiser(raw: str | None, reachable: frozenset[int], f: Findings) -> int | None:
    """The advertiser of a bulk item (``attributes/advertiserId``), or None with a finding."""
    if not f.required(raw, "advertiserId", "attributes/advertiserId"):
        return None
    advertiser_id = parse_id(raw)
    if advertiser_id is None or advertiser_id not in reachable:
        f.add(AdvertiserAccessDenied, denied(raw), "advertiserId", "attributes/advertiserId")
        return None
    return advertiser_id


def advertiser_filter(raw_ids: Sequence[str], reachable: frozenset[int]) -> set[int]:
    """A search's ``advertiserIds``; any unreachable one fails the whole search (403)."""
    refused = [
        AdvertiserAccessDenied(
            denied(raw), source={"advertiserIds": f"data/attributes/advertiserIds/{index}"}
        )
        for index, raw in enumerate(raw_ids)
        if (number := parse_id(raw)) is None or number not in reachable
    ]
    if refused:
        raise RequestProblems(refused)
    return parse_ids(raw_ids)
