"""sessions.attempt: the attempt number within its invite, unique per invite

The database, not a count-then-insert, enforces an invite's attempts: two candidates (or ten
browser tabs) starting at once cannot both take the last attempt.

Revision ID: 0004_session_attempts
Revises: 0003_rubric_versions
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_session_attempts"
down_revision = "0003_rubric_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer, nullable=True))
    # Existing sessions are numbered in the order they started.
    op.execute(
        "UPDATE sessions SET attempt = (SELECT COUNT(*) FROM sessions AS earlier "
        "WHERE earlier.invite_id = sessions.invite_id AND earlier.id <= sessions.id)"
    )
    with op.batch_alter_table("sessions") as batch:
        batch.alter_column("attempt", existing_type=sa.Integer, nullable=False)
        batch.create_unique_constraint("uq_sessions_invite_attempt", ["invite_id", "attempt"])


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_constraint("uq_sessions_invite_attempt", type_="unique")
        batch.drop_column("attempt")
