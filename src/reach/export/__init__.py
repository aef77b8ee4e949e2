"""Members out: the people of a segment or an audience over the index in service, as CSV or
Parquet, for the data owner (``reach segments members``, ``GET /_reach/.../members``).

Light on purpose: the command line reads the formats from here before it loads anything else.
"""

from typing import Literal

Format = Literal["csv", "parquet"]
