"""Formats and review: set numbers >= 0 (KeypointNet semantic ids exceed 15), point-cloud
indices and file order on keypoints, per-record extras, point clouds, category extras,
review flags.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _replace_set_number_check(old: str, new: str, condition: str) -> None:
    """Swap the check constraint on correspondence_set.number.

    SQLite cannot alter constraints: the table is rebuilt (``core.store.migrate`` runs
    migrations with foreign keys off, so the rebuild cascades nothing)."""
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table("correspondence_set", recreate="always") as batch:
            batch.drop_constraint(old, type_="check")
            batch.create_check_constraint(new, condition)
    else:
        op.drop_constraint(old, "correspondence_set", type_="check")
        op.create_check_constraint(new, "correspondence_set", condition)


def upgrade() -> None:
    _replace_set_number_check("ck_set_number", "ck_set_number_nonneg", "number >= 0")
    with op.batch_alter_table("keypoint") as batch:
        batch.add_column(sa.Column("point_index", sa.Integer))
        batch.add_column(sa.Column("source_order", sa.Integer))
    with op.batch_alter_table("category") as batch:
        batch.add_column(sa.Column("extra", sa.JSON))
    op.create_table(
        "annotation_record",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("model.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("annotator_id", sa.Integer,
                  sa.ForeignKey("annotator.id", ondelete="CASCADE"), nullable=False),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.UniqueConstraint("model_id", "annotator_id", name="uq_record_model_annotator"),
    )
    op.create_table(
        "model_point_cloud",
        sa.Column("model_id", sa.Integer, sa.ForeignKey("model.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("n_points", sa.Integer, nullable=False),
        sa.Column("points", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "keypoint_flag",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("keypoint_id", sa.Integer, sa.ForeignKey("keypoint.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("reviewer_id", sa.Integer,
                  sa.ForeignKey("annotator.id", ondelete="SET NULL")),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_by", sa.Integer, sa.ForeignKey("annotator.id", ondelete="SET NULL")),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("keypoint_flag")
    op.drop_table("model_point_cloud")
    op.drop_table("annotation_record")
    with op.batch_alter_table("category") as batch:
        batch.drop_column("extra")
    with op.batch_alter_table("keypoint") as batch:
        batch.drop_column("source_order")
        batch.drop_column("point_index")
    _replace_set_number_check("ck_set_number_nonneg", "ck_set_number", "number BETWEEN 0 AND 15")
