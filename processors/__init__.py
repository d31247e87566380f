"""Processors: one Kafka consumer group each, in the package of the feature that owns it. The composition
root (processors/composition.py) names every feature."""
