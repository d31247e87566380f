"""Sensor ingest: MQTT and HTTP push, validated and rate-limited per sensor, readings published."""
