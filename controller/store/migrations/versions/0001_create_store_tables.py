"""Create the store's tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:28:43
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "dedup_entries",
    "dispatch_log",
    "issue_snapshots",
    "runner_tokens",
    "settings",
    "reaper_actions",
    "reaper_sweeps",
    "webhook_deliveries",
    "admin_audit",
)


def timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "dedup_entries",
        sa.Column("issue_id", sa.String(), nullable=False),
        sa.Column("identifier", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("team_key", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        timestamp("dispatched_at"),
        sa.CheckConstraint("provider IN ('linear', 'jira')", name=op.f("ck_dedup_entries_provider")),
        sa.PrimaryKeyConstraint("issue_id", name=op.f("pk_dedup_entries")),
    )
    op.create_index(op.f("ix_dedup_entries_dispatched_at"), "dedup_entries", ["dispatched_at"])

    op.create_table(
        "dispatch_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        timestamp("created_at"),
        sa.Column("issue_id", sa.String(), nullable=False),
        sa.Column("identifier", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("team_key", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("runner_mode", sa.String(), nullable=False),
        sa.Column("session_image", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("pull_request_url", sa.Text(), nullable=True),
        sa.Column("dispatch_name", sa.String(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('planning', 'implementation', 'review', 'gap-fill')", name=op.f("ck_dispatch_log_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_log")),
    )
    op.create_index(op.f("ix_dispatch_log_created_at"), "dispatch_log", ["created_at"])
    op.create_index(op.f("ix_dispatch_log_dispatch_name"), "dispatch_log", ["dispatch_name"])
    op.create_index(op.f("ix_dispatch_log_issue_id"), "dispatch_log", ["issue_id"])

    op.create_table(
        "issue_snapshots",
        sa.Column("issue_id", sa.String(), nullable=False),
        sa.Column("identifier", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("team_key", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("readiness", sa.String(), nullable=False),
        sa.Column("blocked_reason", sa.Text(), nullable=True),
        timestamp("updated_at"),
        sa.CheckConstraint("provider IN ('linear', 'jira')", name=op.f("ck_issue_snapshots_provider")),
        sa.PrimaryKeyConstraint("issue_id", name=op.f("pk_issue_snapshots")),
    )
    op.create_index(op.f("ix_issue_snapshots_provider"), "issue_snapshots", ["provider"])

    op.create_table(
        "runner_tokens",
        sa.Column("jti", sa.String(), nullable=False),
        sa.Column("dispatch_uid", sa.String(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        timestamp("expires_at"),
        timestamp("consumed_at", nullable=True),
        timestamp("created_at"),
        sa.CheckConstraint("purpose IN ('progress', 'result')", name=op.f("ck_runner_tokens_purpose")),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_runner_tokens")),
    )
    op.create_index(op.f("ix_runner_tokens_expires_at"), "runner_tokens", ["expires_at"])

    op.create_table(
        "settings",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        timestamp("updated_at"),
        sa.Column("updated_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )

    op.create_table(
        "reaper_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        timestamp("at"),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("backend", sa.String(), nullable=False),
        sa.Column("resource_id", sa.String(), nullable=False),
        sa.Column("tenant", sa.String(), nullable=True),
        sa.Column("issue_identifier", sa.String(), nullable=True),
        sa.Column("age_seconds", sa.Integer(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "rule IN ('orphan', 'stale-terminal-job', 'max-age-exceeded', 'issue-terminal')",
            name=op.f("ck_reaper_actions_rule"),
        ),
        sa.CheckConstraint("backend IN ('fly', 'github-actions', 'local')", name=op.f("ck_reaper_actions_backend")),
        sa.CheckConstraint("outcome IN ('dry-run', 'destroyed', 'failed')", name=op.f("ck_reaper_actions_outcome")),
        sa.CheckConstraint(
            "(dry_run AND outcome = 'dry-run') OR (NOT dry_run AND outcome <> 'dry-run')",
            name=op.f("ck_reaper_actions_dry_run_matches_outcome"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reaper_actions")),
    )
    op.create_index(op.f("ix_reaper_actions_at"), "reaper_actions", ["at"])

    op.create_table(
        "reaper_sweeps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        timestamp("started_at"),
        timestamp("finished_at"),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reaper_sweeps")),
    )
    op.create_index(op.f("ix_reaper_sweeps_finished_at"), "reaper_sweeps", ["finished_at"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("delivery_id", sa.String(), nullable=False),
        timestamp("received_at"),
        sa.PrimaryKeyConstraint("source", "delivery_id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(op.f("ix_webhook_deliveries_received_at"), "webhook_deliveries", ["received_at"])

    op.create_table(
        "admin_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        timestamp("at"),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_audit")),
    )
    op.create_index(op.f("ix_admin_audit_at"), "admin_audit", ["at"])


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
