"""Keep the leader's census of live runner sessions, the resets asked for them, and the reaper's alerts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SESSION_BACKENDS = "backend IN ('github-actions', 'fly-machines', 'local')"


def upgrade() -> None:
    op.create_table(
        "live_sessions",
        sa.Column("backend", sa.String(), nullable=False),
        sa.Column("resource_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("backend_state", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("region", sa.String(), nullable=True),
        sa.Column("app", sa.String(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("dispatch_name", sa.String(), nullable=True),
        sa.Column("issue_identifier", sa.String(), nullable=True),
        sa.Column("issue_url", sa.Text(), nullable=True),
        sa.Column("team_key", sa.String(), nullable=True),
        sa.Column("repo", sa.String(), nullable=True),
        sa.Column("tenant", sa.String(), nullable=True),
        sa.Column("namespace", sa.String(), nullable=True),
        sa.CheckConstraint(SESSION_BACKENDS, name=op.f("ck_live_sessions_backend")),
        sa.PrimaryKeyConstraint("backend", "resource_id", name=op.f("pk_live_sessions")),
    )
    op.create_table(
        "session_census",
        sa.Column("backend", sa.String(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(SESSION_BACKENDS, name=op.f("ck_session_census_backend")),
        sa.PrimaryKeyConstraint("backend", name=op.f("pk_session_census")),
    )
    op.create_table(
        "session_resets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("backend", sa.String(), nullable=False),
        sa.Column("resource_id", sa.String(), nullable=False),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatch_name", sa.String(), nullable=True),
        sa.Column("shadow", sa.Boolean(), nullable=False),
        sa.CheckConstraint(SESSION_BACKENDS, name=op.f("ck_session_resets_backend")),
        sa.CheckConstraint(
            "state IN ('pending', 'reset', 'already-destroyed', 'failed')", name=op.f("ck_session_resets_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_resets")),
    )
    op.create_index(op.f("ix_session_resets_requested_at"), "session_resets", ["requested_at"], unique=False)
    op.create_table(
        "reaper_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reaper_alerts")),
    )
    op.create_index(op.f("ix_reaper_alerts_at"), "reaper_alerts", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reaper_alerts_at"), table_name="reaper_alerts")
    op.drop_table("reaper_alerts")
    op.drop_index(op.f("ix_session_resets_requested_at"), table_name="session_resets")
    op.drop_table("session_resets")
    op.drop_table("session_census")
    op.drop_table("live_sessions")
