"""Prometheus metrics shared by every service in a process, labelled by processor or service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter("cc_events_consumed_total", "Records consumed", ["processor", "topic"])
EVENTS_PRODUCED = Counter("cc_events_produced_total", "Records produced", ["processor", "topic"])
ERRORS = Counter(
    "cc_processor_errors_total",
    "Errors by kind: decode and handler go to the dead-letter topic, unavailable is retried",
    ["processor", "kind"],
)
LAG = Gauge("cc_consumer_lag", "Records behind the end of the partition", ["processor", "topic", "partition"])
HANDLER_SECONDS = Histogram(
    "cc_handler_seconds",
    "Time to handle one event",
    ["processor"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
BATCH_SECONDS = Histogram(
    "cc_batch_seconds", "Time from poll to commit for one batch", ["processor"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DEPENDENCY_UP = Gauge("cc_dependency_up", "1 when a dependency answers", ["dependency"])
HTTP_REQUESTS = Counter("cc_http_requests_total", "HTTP requests answered, by route template and status",
                        ["method", "route", "status"])
HTTP_SECONDS = Histogram(
    "cc_http_request_duration_seconds", "Time to answer an HTTP request, by route template", ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
ENTITY_STATE = Gauge("cc_entity_state", "1 for the state each camera, application or sensor is in (one series per "
                     "entity: the state it left is removed)", ["channel", "entity", "state"])
REBUILD_LEFT = Gauge("cc_state_rebuild_records", "Records a processor still has to read again to derive lost state",
                     ["processor"])
REBUILDS = Counter("cc_state_rebuilds_total", "Partitions whose state was derived again from the log",
                   ["processor", "topic"])
