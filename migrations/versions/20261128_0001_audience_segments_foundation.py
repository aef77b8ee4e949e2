"""Audience segments foundation: advertisers, brands, API clients and audience segments.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "advertisers",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advertisers")),
    )
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_api_clients_client_id")),
    )
    op.create_table(
        "brands",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brands")),
    )
    op.create_table(
        "audience_segments",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("advertiser_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("definition", Json, nullable=False),
        sa.Column("seed_segment_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["advertiser_id"],
            ["advertisers.id"],
            name=op.f("fk_audience_segments_advertiser_id_advertisers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["seed_segment_id"],
            ["audience_segments.id"],
            name=op.f("fk_audience_segments_seed_segment_id_audience_segments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience_segments")),
        sa.UniqueConstraint(
            "advertiser_id", "name", name=op.f("uq_audience_segments_advertiser_id_name")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_audience_segments_advertiser_id_id", "audience_segments", ["advertiser_id", "id"]
    )
    op.create_index(
        op.f("ix_audience_segments_seed_segment_id"), "audience_segments", ["seed_segment_id"]
    )
    op.create_table(
        "client_advertisers",
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("advertiser_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["advertiser_id"],
            ["advertisers.id"],
            name=op.f("fk_client_advertisers_advertiser_id_advertisers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["api_clients.id"],
            name=op.f("fk_client_advertisers_client_pk_api_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_pk", "advertiser_id", name=op.f("pk_client_advertisers")),
    )


def downgrade() -> None:
    op.drop_table("client_advertisers")
    op.drop_index(op.f("ix_audience_segments_seed_segment_id"), table_name="audience_segments")
    op.drop_index("ix_audience_segments_advertiser_id_id", table_name="audience_segments")
    op.drop_table("audience_segments")
    op.drop_table("brands")
    op.drop_table("api_clients")
    op.drop_table("advertisers")
