"""ORM tables, one module per aggregate; importing this package registers them all."""

from reach.models.ad_set import AdSet
from reach.models.advertiser import Advertiser
from reach.models.audience import Audience, AudienceSegmentLink
from reach.models.audience_segment import AudienceSegment
from reach.models.base import Base
from reach.models.brand import Brand
from reach.models.client import ApiClient, ClientAdvertiser
from reach.models.consent import AuthorizationCode, Consent, ConsentAdvertiser, RefreshToken
from reach.models.operator import Operator, OperatorAdvertiser

__all__ = [
    "AdSet",
    "Advertiser",
    "ApiClient",
    "Audience",
    "AudienceSegment",
    "AudienceSegmentLink",
    "AuthorizationCode",
    "Base",
    "Brand",
    "ClientAdvertiser",
    "Consent",
    "ConsentAdvertiser",
    "Operator",
    "OperatorAdvertiser",
    "RefreshToken",
]
