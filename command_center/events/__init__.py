"""Typed events: the CloudEvents envelope and the payload structs (see types.py for the table)."""

from command_center.events.envelope import Event, decode, derive_id, encode, new_event, to_builtins
from command_center.events.types import EVENT_TYPES

__all__ = ["EVENT_TYPES", "Event", "decode", "derive_id", "encode", "new_event", "to_builtins"]
