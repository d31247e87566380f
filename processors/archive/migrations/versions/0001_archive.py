"""The archive: complaints, incidents, checks and readings by hour, audit

Revision ID: 0001
Revises:
Create Date: 2026-12-02 00:54:19.291886
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import processors.archive.schema

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('app_hours',
    sa.Column('app_id', sa.String(length=128), nullable=False),
    sa.Column('hour', processors.archive.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('checks', sa.Integer(), nullable=False),
    sa.Column('ok', sa.Integer(), nullable=False),
    sa.Column('latency_ms_sum', sa.Float(), nullable=False),
    sa.Column('latency_ms_max', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('app_id', 'hour')
    )
    with op.batch_alter_table('app_hours', schema=None) as batch_op:
        batch_op.create_index('app_hours_month', ['month', 'app_id'], unique=False)

    op.create_table('audit',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('at', processors.archive.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('target_kind', sa.String(length=64), nullable=False),
    sa.Column('target_id', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_at'), ['at'], unique=False)

    op.create_table('complaint_changes',
    sa.Column('complaint_id', sa.String(length=128), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('at', processors.archive.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), server_default='', nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.PrimaryKeyConstraint('complaint_id', 'event_id', 'action')
    )
    op.create_table('complaints',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('service_code', sa.String(length=128), nullable=False),
    sa.Column('agency', sa.String(length=128), server_default='', nullable=False),
    sa.Column('area', sa.String(length=128), server_default='', nullable=False),
    sa.Column('rule', sa.String(length=200), server_default='', nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('received_at', processors.archive.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('duplicate_of', sa.String(length=128), server_default='', nullable=False),
    sa.Column('response_due', processors.archive.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('feedback_due', processors.archive.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('responded_at', processors.archive.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('feedback_at', processors.archive.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', processors.archive.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('response_s', sa.Float(), nullable=True),
    sa.Column('responded_in_sla', sa.Boolean(), nullable=True),
    sa.Column('feedback_in_sla', sa.Boolean(), nullable=True),
    sa.Column('breached_response', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('breached_feedback', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('reopened', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rated_at', processors.archive.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('upstream', sa.String(length=128), server_default='', nullable=False),
    sa.Column('upstream_id', sa.String(length=200), server_default='', nullable=False),
    sa.Column('updated_at', processors.archive.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('complaints_duplicate_of', ['duplicate_of'], unique=False)
        batch_op.create_index('complaints_month_agency', ['month', 'agency'], unique=False)
        batch_op.create_index('complaints_month_area', ['month', 'area'], unique=False)

    op.create_table('counted_events',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('at', processors.archive.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('rollup', sa.Boolean(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('counted_events', schema=None) as batch_op:
        batch_op.create_index('counted_events_rollup_at', ['rollup', 'at'], unique=False)

    op.create_table('incident_pages',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('incident_id', sa.String(length=128), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('at', processors.archive.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('incident_pages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_pages_incident_id'), ['incident_id'], unique=False)

    op.create_table('incident_timeline',
    sa.Column('incident_id', sa.String(length=128), nullable=False),
    sa.Column('entry', sa.String(length=64), nullable=False),
    sa.Column('at', processors.archive.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=200), server_default='', nullable=False),
    sa.Column('text', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('incident_id', 'entry')
    )
    op.create_table('incidents',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('area', sa.String(length=128), server_default='', nullable=False),
    sa.Column('title', sa.String(length=500), server_default='', nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('opened_at', processors.archive.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', processors.archive.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=200), server_default='', nullable=False),
    sa.Column('resolved_at', processors.archive.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('parent_id', sa.String(length=128), server_default='', nullable=False),
    sa.Column('count', sa.Integer(), server_default='1', nullable=False),
    sa.Column('updated_at', processors.archive.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('incidents_month_source', ['month', 'source'], unique=False)

    op.create_table('sensor_alarms',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('sensor_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('at', processors.archive.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('sensor_alarms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sensor_alarms_sensor_id'), ['sensor_id'], unique=False)

    op.create_table('sensor_hours',
    sa.Column('sensor_id', sa.String(length=128), nullable=False),
    sa.Column('quantity', sa.String(length=64), nullable=False),
    sa.Column('hour', processors.archive.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('unit', sa.String(length=32), server_default='', nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('min', sa.Float(), nullable=False),
    sa.Column('max', sa.Float(), nullable=False),
    sa.Column('sum', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('sensor_id', 'quantity', 'hour')
    )



def downgrade() -> None:

    op.drop_table('sensor_hours')
    with op.batch_alter_table('sensor_alarms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sensor_alarms_sensor_id'))

    op.drop_table('sensor_alarms')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('incidents_month_source')

    op.drop_table('incidents')
    op.drop_table('incident_timeline')
    with op.batch_alter_table('incident_pages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_pages_incident_id'))

    op.drop_table('incident_pages')
    with op.batch_alter_table('counted_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_counted_events_at'))

    op.drop_table('counted_events')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('complaints_month_area')
        batch_op.drop_index('complaints_month_agency')
        batch_op.drop_index('complaints_duplicate_of')

    op.drop_table('complaints')
    op.drop_table('complaint_changes')
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_at'))

    op.drop_table('audit')
    with op.batch_alter_table('app_hours', schema=None) as batch_op:
        batch_op.drop_index('app_hours_month')

    op.drop_table('app_hours')

