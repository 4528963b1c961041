"""Keep the last read of each target repository's default branch: template files and prompt model ids.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "repository_checks",
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("branch", sa.String(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("implementation_model", sa.Text(), nullable=True),
        sa.Column("implementation_model_reason", sa.Text(), nullable=True),
        sa.Column("planning_model", sa.Text(), nullable=True),
        sa.Column("planning_model_reason", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("owner", "repo", "branch", name=op.f("pk_repository_checks")),
    )


def downgrade() -> None:
    op.drop_table("repository_checks")
