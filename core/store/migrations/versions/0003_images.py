"""Images: per-category image files stored in the database (encoded bytes + SHA-256),
optional silhouette mask and ground-truth camera, and 2D keypoints per correspondence set.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("category_id", sa.Integer, sa.ForeignKey("category.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source_path", sa.String(1000)),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("mask", sa.LargeBinary),
        sa.Column("camera_json", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("category_id", "sha256", name="uq_image_category_sha256"),
        sa.UniqueConstraint("category_id", "name", name="uq_image_category_name"),
        sa.CheckConstraint("width > 0 AND height > 0", name="ck_image_size"),
    )
    op.create_table(
        "image_keypoint",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("image_id", sa.Integer, sa.ForeignKey("image.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("set_id", sa.Integer,
                  sa.ForeignKey("correspondence_set.id", ondelete="CASCADE"), nullable=False),
        sa.Column("x", sa.Float),
        sa.Column("y", sa.Float),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("annotator_id", sa.Integer,
                  sa.ForeignKey("annotator.id", ondelete="SET NULL")),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("image_id", "set_id", name="uq_image_keypoint_image_set"),
        sa.CheckConstraint("(state = 'absent' AND x IS NULL AND y IS NULL) OR "
                           "(state <> 'absent' AND x IS NOT NULL AND y IS NOT NULL)",
                           name="ck_image_keypoint_position"),
    )
    op.create_index("ix_image_keypoint_set_id", "image_keypoint", ["set_id"])


def downgrade() -> None:
    op.drop_index("ix_image_keypoint_set_id", table_name="image_keypoint")
    op.drop_table("image_keypoint")
    op.drop_table("image")
