"""Ingest services: cameras, application checks, complaints and sensors into the bus."""
