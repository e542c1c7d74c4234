"""Saved runs: a category's live runs (their steps as an .npz archive, settings and final
metrics as JSON), for replay and side-by-side comparison.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_run",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("category_id", sa.Integer, sa.ForeignKey("category.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("image_id", sa.Integer, sa.ForeignKey("image.id", ondelete="SET NULL")),
        sa.Column("source", sa.String(500)),
        sa.Column("params_json", sa.Text, nullable=False),
        sa.Column("summary_json", sa.Text, nullable=False),
        sa.Column("n_steps", sa.Integer, nullable=False),
        sa.Column("steps", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("n_steps >= 0", name="ck_saved_run_steps"),
    )
    op.create_index("ix_saved_run_category_id", "saved_run", ["category_id"])


def downgrade() -> None:
    op.drop_index("ix_saved_run_category_id", table_name="saved_run")
    op.drop_table("saved_run")
