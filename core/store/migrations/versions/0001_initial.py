"""Initial schema: project, category, model, annotator, template, set, keypoint.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
    )
    op.create_table(
        "category",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("shapenet_id", sa.String(20)),
    )
    op.create_table(
        "annotator",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
    )
    op.create_table(
        "model",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("category_id", sa.Integer,
                  sa.ForeignKey("category.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("mesh_path", sa.String(1000)),
        sa.Column("content_hash", sa.String(64)),
        sa.Column("n_vertices", sa.Integer),
        sa.Column("n_faces", sa.Integer),
        sa.Column("transform", sa.JSON),
        sa.UniqueConstraint("category_id", "name", name="uq_model_category_name"),
    )
    op.create_table(
        "template",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("annotator_id", sa.Integer,
                  sa.ForeignKey("annotator.id", ondelete="CASCADE"), nullable=False),
        sa.Column("category_id", sa.Integer,
                  sa.ForeignKey("category.id", ondelete="CASCADE"), nullable=False),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("model_id", sa.Integer,
                  sa.ForeignKey("model.id", ondelete="CASCADE"), nullable=False),
        sa.UniqueConstraint("annotator_id", "category_id", "slot", name="uq_template_slot"),
        sa.CheckConstraint("slot BETWEEN 1 AND 6", name="ck_template_slot"),
    )
    op.create_table(
        "correspondence_set",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("annotator_id", sa.Integer,
                  sa.ForeignKey("annotator.id", ondelete="CASCADE"), nullable=False),
        sa.Column("category_id", sa.Integer,
                  sa.ForeignKey("category.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("name", sa.String(100)),
        sa.UniqueConstraint("annotator_id", "category_id", "number", name="uq_set_number"),
        sa.CheckConstraint("number BETWEEN 0 AND 15", name="ck_set_number"),
    )
    op.create_table(
        "keypoint",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer,
                  sa.ForeignKey("model.id", ondelete="CASCADE"), nullable=False),
        sa.Column("set_id", sa.Integer,
                  sa.ForeignKey("correspondence_set.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("face_index", sa.Integer),
        sa.Column("w0", sa.Float),
        sa.Column("w1", sa.Float),
        sa.Column("w2", sa.Float),
        sa.Column("x", sa.Float),
        sa.Column("y", sa.Float),
        sa.Column("z", sa.Float),
        sa.Column("r", sa.Integer, nullable=False),
        sa.Column("g", sa.Integer, nullable=False),
        sa.Column("b", sa.Integer, nullable=False),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("annotator.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("model_id", "set_id", name="uq_keypoint_model_set"),
    )
    op.create_index("ix_keypoint_model_id", "keypoint", ["model_id"])
    op.create_index("ix_keypoint_set_id", "keypoint", ["set_id"])


def downgrade() -> None:
    for table in ("keypoint", "correspondence_set", "template", "model", "annotator",
                  "category", "project"):
        op.drop_table(table)
