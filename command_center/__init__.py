"""command-center: the shared core (events, bus, store, runtime, configuration, API, hub, CLI)."""

__version__ = "0.1.0"
