"""Audiences, the segments each uses, and ad sets.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audiences",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("advertiser_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("algebra", Json, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["advertiser_id"],
            ["advertisers.id"],
            name=op.f("fk_audiences_advertiser_id_advertisers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audiences")),
        sa.UniqueConstraint("advertiser_id", "name", name=op.f("uq_audiences_advertiser_id_name")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audiences_advertiser_id_id", "audiences", ["advertiser_id", "id"])
    op.create_table(
        "ad_sets",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("advertiser_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("audience_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["advertiser_id"],
            ["advertisers.id"],
            name=op.f("fk_ad_sets_advertiser_id_advertisers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["audience_id"], ["audiences.id"], name=op.f("fk_ad_sets_audience_id_audiences")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_sets")),
    )
    op.create_index(op.f("ix_ad_sets_advertiser_id"), "ad_sets", ["advertiser_id"])
    op.create_index(op.f("ix_ad_sets_audience_id"), "ad_sets", ["audience_id"])
    op.create_table(
        "audience_segment_links",
        sa.Column("audience_id", sa.BigInteger(), nullable=False),
        sa.Column("segment_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["audience_id"],
            ["audiences.id"],
            name=op.f("fk_audience_segment_links_audience_id_audiences"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["audience_segments.id"],
            name=op.f("fk_audience_segment_links_segment_id_audience_segments"),
        ),
        sa.PrimaryKeyConstraint(
            "audience_id", "segment_id", name=op.f("pk_audience_segment_links")
        ),
    )
    op.create_index(
        "ix_audience_segment_links_segment_id", "audience_segment_links", ["segment_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_audience_segment_links_segment_id", table_name="audience_segment_links")
    op.drop_table("audience_segment_links")
    op.drop_index(op.f("ix_ad_sets_audience_id"), table_name="ad_sets")
    op.drop_index(op.f("ix_ad_sets_advertiser_id"), table_name="ad_sets")
    op.drop_table("ad_sets")
    op.drop_index("ix_audiences_advertiser_id_id", table_name="audiences")
    op.drop_table("audiences")
