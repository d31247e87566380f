"""The wall page: static files served by the API process (no build step, nothing fetched from outside)."""

from pathlib import Path

WEB_ROOT = Path(__file__).resolve().parent
