"""overrides (reviewer audit trail) and persona_versions (trainer studio)

Revision ID: 0002_overrides_versions
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_overrides_versions"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "session_id",
            sa.Integer,
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("criterion", sa.String(64), nullable=False),
        sa.Column("old_score", sa.Integer),
        sa.Column("new_score", sa.Integer, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("by_user", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_overrides_session", "overrides", ["session_id"])
    op.create_table(
        "persona_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("persona_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("yaml", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("persona_id", "version"),
    )
    op.create_index("ix_persona_versions_hash", "persona_versions", ["content_hash"])


def downgrade() -> None:
    op.drop_table("persona_versions")
    op.drop_table("overrides")
