"""The generation of each client's secret, which access tokens carry: a rotation ends the
tokens of earlier secrets.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Tokens issued before this revision carry no generation: they count as generation 0, like
    # every existing client, so they work until the client's next rotation.
    op.add_column(
        "api_clients",
        sa.Column("secret_generation", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    # SQLite drops a column by copying the table.
    with op.batch_alter_table("api_clients") as batch_op:
        batch_op.drop_column("secret_generation")
