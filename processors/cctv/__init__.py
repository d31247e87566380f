"""CCTV: frames into camera states, tamper anomalies and activity (see decide.py for what each means)."""

from processors.cctv.processor import CCTV

__all__ = ["CCTV"]
