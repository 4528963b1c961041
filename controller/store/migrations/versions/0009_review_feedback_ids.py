"""Feedback known by its GitHub id (a redelivery is recorded once), and feedback refused with its reason.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("review_feedback") as table:
        table.add_column(sa.Column("github_id", sa.String(), nullable=True))
        table.add_column(sa.Column("ignored_reason", sa.Text(), nullable=True))
        table.create_unique_constraint("uq_review_feedback_github_id", ["repo", "kind", "github_id"])


def downgrade() -> None:
    with op.batch_alter_table("review_feedback") as table:
        table.drop_constraint("uq_review_feedback_github_id", type_="unique")
        table.drop_column("ignored_reason")
        table.drop_column("github_id")
