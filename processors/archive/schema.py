"""The archive's tables (SQLAlchemy Core): the history of complaints, incidents, application checks and sensor
readings by hour, and the audit trail. Never a citizen's identity: no name, number, address, description or
point; a complaint is known by its id, category, channel, agency, district and clocks.

`month` columns hold the local month (YYYY-MM in the site's timezone) a row counts in, so reports group by an
indexed column the same way on PostgreSQL and SQLite. The migrations (alembic, `command-center db upgrade`)
create exactly these tables; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text

from command_center.sql import UtcDateTime

metadata = MetaData()

complaints = Table(
    "complaints", metadata,
    Column("id", String(128), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("service_code", String(128), nullable=False),
    Column("agency", String(128), nullable=False, server_default=""),
    Column("area", String(128), nullable=False, server_default=""),
    Column("rule", String(200), nullable=False, server_default=""),
    Column("month", String(7), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("status", String(8), nullable=False),
    Column("duplicate_of", String(128), nullable=False, server_default=""),
    Column("response_due", UtcDateTime),
    Column("feedback_due", UtcDateTime),
    Column("responded_at", UtcDateTime),
    Column("feedback_at", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("response_s", Float),  # seconds from receipt to the first response
    Column("responded_in_sla", Boolean),
    Column("feedback_in_sla", Boolean),
    Column("breached_response", Boolean, nullable=False, server_default="0"),
    Column("breached_feedback", Boolean, nullable=False, server_default="0"),
    Column("reopened", Integer, nullable=False, server_default="0"),
    Column("rating", Integer),
    Column("rated_at", UtcDateTime),
    Column("upstream", String(128), nullable=False, server_default=""),
    Column("upstream_id", String(200), nullable=False, server_default=""),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("complaints_month_agency", "month", "agency"),
    Index("complaints_month_area", "month", "area"),
    Index("complaints_duplicate_of", "duplicate_of"),
)

# Every change to a complaint, as its record's history says it (one event may make several: a close gives the
# response and the feedback still owed).
complaint_changes = Table(
    "complaint_changes", metadata,
    Column("complaint_id", String(128), primary_key=True),
    Column("event_id", String(128), primary_key=True),
    Column("action", String(32), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(200), nullable=False, server_default=""),
    Column("month", String(7), nullable=False),
)

incidents = Table(
    "incidents", metadata,
    Column("id", String(128), primary_key=True),
    Column("source", String(16), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("area", String(128), nullable=False, server_default=""),
    Column("title", String(500), nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("month", String(7), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("acknowledged_at", UtcDateTime),
    Column("acknowledged_by", String(200), nullable=False, server_default=""),
    Column("resolved_at", UtcDateTime),
    Column("parent_id", String(128), nullable=False, server_default=""),
    Column("count", Integer, nullable=False, server_default="1"),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("incidents_month_source", "month", "source"),
)

incident_timeline = Table(
    "incident_timeline", metadata,
    Column("incident_id", String(128), primary_key=True),
    Column("entry", String(64), primary_key=True),  # a digest of the entry: the same entry in a later state is one row
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("actor", String(200), nullable=False, server_default=""),
    Column("text", Text, nullable=False, server_default=""),
)

incident_pages = Table(
    "incident_pages", metadata,
    Column("event_id", String(128), primary_key=True),
    Column("incident_id", String(128), nullable=False, index=True),
    Column("step", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("target", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

app_hours = Table(
    "app_hours", metadata,
    Column("app_id", String(128), primary_key=True),
    Column("hour", UtcDateTime, primary_key=True),
    Column("month", String(7), nullable=False),
    Column("checks", Integer, nullable=False),
    Column("ok", Integer, nullable=False),
    Column("latency_ms_sum", Float, nullable=False),
    Column("latency_ms_max", Float, nullable=False),
    Index("app_hours_month", "month", "app_id"),
)

sensor_hours = Table(
    "sensor_hours", metadata,
    Column("sensor_id", String(128), primary_key=True),
    Column("quantity", String(64), primary_key=True),
    Column("hour", UtcDateTime, primary_key=True),
    Column("month", String(7), nullable=False),
    Column("unit", String(32), nullable=False, server_default=""),
    Column("count", Integer, nullable=False),
    Column("min", Float, nullable=False),
    Column("max", Float, nullable=False),
    Column("sum", Float, nullable=False),
)

sensor_alarms = Table(
    "sensor_alarms", metadata,
    Column("event_id", String(128), primary_key=True),
    Column("sensor_id", String(128), nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("month", String(7), nullable=False),
)

audit = Table(
    "audit", metadata,
    Column("event_id", String(128), primary_key=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("actor", String(200), nullable=False),
    Column("role", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target_kind", String(64), nullable=False),
    Column("target_id", String(200), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
)

# Event ids already applied (a rerun batch applies nothing). The roll-ups' (checks, readings: most of the volume)
# are forgotten after `archive.dedupe_hours`; the others are kept, so that even a replay of old offsets (a group
# reset) cannot reopen a complaint twice.
counted = Table(
    "counted_events", metadata,
    Column("event_id", String(128), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("rollup", Boolean, nullable=False, server_default="0"),
    Index("counted_events_rollup_at", "rollup", "at"),
)

# What the database holds, for the tables a rebuild compares (not the roll-ups' bookkeeping).
HISTORY = (complaints, complaint_changes, incidents, incident_timeline, incident_pages, app_hours, sensor_hours,
           sensor_alarms, audit)
