"""Application health ingest: probes (HTTP, TCP, DNS, TLS, heartbeats) on a schedule, every result published."""
