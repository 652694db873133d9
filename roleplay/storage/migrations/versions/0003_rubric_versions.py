"""rubric_versions (trainer studio)

Revision ID: 0003_rubric_versions
Revises: 0002_overrides_versions
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_rubric_versions"
down_revision = "0002_overrides_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rubric_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rubric_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("yaml", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("rubric_id", "version"),
    )


def downgrade() -> None:
    op.drop_table("rubric_versions")
