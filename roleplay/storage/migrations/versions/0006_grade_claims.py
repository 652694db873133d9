"""grades.claimed_by / claimed_until: the worker grading a session holds a renewable lease

Revision ID: 0006_grade_claims
Revises: 0005_session_source
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_grade_claims"
down_revision = "0005_session_source"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("grades") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(80), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("grades") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
