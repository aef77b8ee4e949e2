"""OAuth2 consents, their authorization codes and refresh tokens, and operators.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("email", name=op.f("uq_operators_email")),
    )
    op.create_table(
        "operator_advertisers",
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("advertiser_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["advertiser_id"],
            ["advertisers.id"],
            name=op.f("fk_operator_advertisers_advertiser_id_advertisers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_advertisers_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "operator_id", "advertiser_id", name=op.f("pk_operator_advertisers")
        ),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["api_clients.id"],
            name=op.f("fk_consents_client_pk_api_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_consents_operator_id_operators"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index(op.f("ix_consents_client_pk"), "consents", ["client_pk"])
    op.create_table(
        "consent_advertisers",
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("advertiser_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["advertiser_id"],
            ["advertisers.id"],
            name=op.f("fk_consent_advertisers_advertiser_id_advertisers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.id"],
            name=op.f("fk_consent_advertisers_consent_id_consents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("consent_id", "advertiser_id", name=op.f("pk_consent_advertisers")),
    )
    op.create_table(
        "authorization_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.id"],
            name=op.f("fk_authorization_codes_consent_id_consents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_authorization_codes_code_hash")),
    )
    op.create_index(
        op.f("ix_authorization_codes_consent_id"), "authorization_codes", ["consent_id"]
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.id"],
            name=op.f("fk_refresh_tokens_consent_id_consents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    op.create_index(op.f("ix_refresh_tokens_consent_id"), "refresh_tokens", ["consent_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_refresh_tokens_consent_id"), table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_index(op.f("ix_authorization_codes_consent_id"), table_name="authorization_codes")
    op.drop_table("authorization_codes")
    op.drop_table("consent_advertisers")
    op.drop_index(op.f("ix_consents_client_pk"), table_name="consents")
    op.drop_table("consents")
    op.drop_table("operator_advertisers")
    op.drop_table("operators")
