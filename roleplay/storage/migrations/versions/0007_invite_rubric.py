"""invites.rubric_id: the rubric an invite's sessions are graded with (none: the default)

Revision ID: 0007_invite_rubric
Revises: 0006_grade_claims
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_invite_rubric"
down_revision = "0006_grade_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("rubric_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.drop_column("rubric_id")
