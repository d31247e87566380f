"""Simulated sources for the demo: government applications, cameras, complaints and sensors."""
