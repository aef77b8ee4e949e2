"""The OAuth2 scopes of the Audience API and which a client receives."""

from __future__ import annotations

AUDIENCE_READ = "MarketingSolutions_Audience_Read"
AUDIENCE_MANAGE = "MarketingSolutions_Audience_Manage"
CAMPAIGN_MANAGE = "MarketingSolutions_Campaign_Manage"


def scopes_for(*, read_only: bool) -> tuple[str, ...]:
    """A read-only client may only read; every other client holds all three scopes."""
    if read_only:
        return (AUDIENCE_READ,)
    return (AUDIENCE_READ, AUDIENCE_MANAGE, CAMPAIGN_MANAGE)
