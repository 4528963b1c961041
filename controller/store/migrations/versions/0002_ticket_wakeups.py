"""Add the ticket wakeups that webhooks leave for the operator, and the decision's words to the inbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket_wakeups",
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("ticket_ref", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("provider IN ('linear', 'jira')", name=op.f("ck_ticket_wakeups_provider")),
        sa.PrimaryKeyConstraint("provider", "ticket_ref", name=op.f("pk_ticket_wakeups")),
    )
    op.create_index(op.f("ix_ticket_wakeups_received_at"), "ticket_wakeups", ["received_at"], unique=False)
    with op.batch_alter_table("issue_snapshots") as table:
        table.add_column(sa.Column("message", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issue_snapshots") as table:
        table.drop_column("message")
    op.drop_index(op.f("ix_ticket_wakeups_received_at"), table_name="ticket_wakeups")
    op.drop_table("ticket_wakeups")
