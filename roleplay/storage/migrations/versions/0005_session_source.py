"""sessions.source: where a conversation was held (web page, or the CLI's chat / simulate)

Revision ID: 0005_session_source
Revises: 0004_session_attempts
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_session_source"
down_revision = "0004_session_attempts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("source", sa.String(20), nullable=False, server_default="web"))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("source")
