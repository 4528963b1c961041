"""Keep what the coding agent used in each run: tokens by kind, cost and model.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 10:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")


def upgrade() -> None:
    with op.batch_alter_table("dispatch_log") as table:
        for column in TOKEN_COLUMNS:
            table.add_column(sa.Column(column, sa.BigInteger(), nullable=True))
        table.add_column(sa.Column("cost_usd", sa.Float(), nullable=True))
        table.add_column(sa.Column("model", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dispatch_log") as table:
        table.drop_column("model")
        table.drop_column("cost_usd")
        for column in reversed(TOKEN_COLUMNS):
            table.drop_column(column)
