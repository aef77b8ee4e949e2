"""Operators in the console: read-only operators, who may look at everything and change
nothing, and a session generation, raised to end every session of an operator (sign-out,
new password).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing operators keep what they could do: manage.
    op.add_column(
        "operators",
        sa.Column("read_only", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "operators",
        sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("operators") as batch_op:
        batch_op.drop_column("session_generation")
        batch_op.drop_column("read_only")
