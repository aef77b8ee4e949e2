"""Size privacy: what a size or a match count may reveal about one person (docs/privacy.md).

In the default mode (``noisy``) every number is the true one plus Laplace noise, rounded to a
few significant digits, and withheld below the floor. The noise is drawn from a keyed hash of
the question (what is counted, in a canonical form) and of the index build: asking the same
question again gives the same answer, so repeating it gains nothing, and two different
questions get independent noise, so the difference of their answers does not tell whether one
person is in either. In the ``exact`` mode, for sandboxes and tests, numbers are exact and every
answer that carries one says so in its warnings.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import struct
from typing import Literal

from reach.config import Settings
from reach.kit.problems import Problem

SizePrivacyMode = Literal["noisy", "exact"]
NOISE_KEY_PURPOSE = b"reach/size-noise"
# Never finer than tens: a size of 1,234 is answered as 1,230.
MIN_ROUNDING_STEP = 10
_UNIT = float(2**53)


class ExactSizes(Problem):
    code = "size-privacy-exact"
    title = "Sizes are exact"


class SizePrivacy:
    """How the numbers of one server are answered; built once per server from its settings."""

    def __init__(
        self,
        mode: SizePrivacyMode,
        floor: int,
        noise_scale: float,
        significant_digits: int,
        server_key: bytes,
    ) -> None:
        self.mode = mode
        self.floor = floor
        self.noise_scale = noise_scale
        self.significant_digits = significant_digits
        self._key = hmac.new(server_key, NOISE_KEY_PURPOSE, hashlib.sha256).digest()

    @classmethod
    def from_settings(cls, settings: Settings) -> SizePrivacy:
        return cls(
            settings.size_privacy,
            settings.min_reported_size,
            settings.size_noise_scale,
            settings.size_significant_digits,
            settings.signing_key(),
        )

    @property
    def exact(self) -> bool:
        return self.mode == "exact"

    def notice(self) -> list[Problem]:
        """The warning every answer with a number carries in the exact mode (else none)."""
        if not self.exact:
            return []
        return [
            ExactSizes(
                "Sizes and match counts are exact (REACH_SIZE_PRIVACY=exact), which is meant for"
                " sandboxes and tests: an exact size can tell whether one person is in a"
                " segment. Production servers keep the default, noisy."
            )
        ]

    def noise(self, question: str, build_id: str) -> float:
        """Laplace noise of the configured scale, fixed by the question and the index build."""
        digest = hmac.new(self._key, f"{build_id}\x00{question}".encode(), hashlib.sha256).digest()
        (word,) = struct.unpack(">Q", digest[:8])
        # A uniform draw strictly inside (-1/2, 1/2) from 53 bits (a float holds them exactly),
        # through the inverse CDF.
        u = ((word >> 11) + 0.5) / _UNIT - 0.5
        return -self.noise_scale * math.copysign(1.0, u) * math.log(1.0 - 2.0 * abs(u))

    def rounded(self, value: float) -> int:
        """``value`` to the configured significant digits, never finer than tens."""
        if value <= 0:
            return 0
        magnitude = math.floor(math.log10(value))
        step = max(MIN_ROUNDING_STEP, int(10 ** max(0, magnitude + 1 - self.significant_digits)))
        return math.floor(value / step + 0.5) * step

    def count(self, true: int, question: str, build_id: str) -> int | None:
        """A number as answered: exact (floored) in the exact mode, else noised and rounded;
        None (withheld) when it falls below the floor."""
        if self.exact:
            return true if true >= self.floor else None
        shown = self.rounded(true + self.noise(question, build_id))
        return shown if shown >= self.floor else None
