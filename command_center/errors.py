"""Errors that cross module boundaries; third-party errors are translated into these at one place."""


class Unavailable(Exception):
    """A dependency (the bus or the store) cannot be reached right now; the work should be retried."""


class DecodeError(ValueError):
    """Bytes that do not decode into a valid event; the reason is the message."""


class Refused(Exception):
    """An event a processor will not apply (another receipt under an id already taken, say): it goes to the
    dead-letter topic with the reason and is logged as an error, never passed over in silence."""


class StateLost(Exception):
    """The store no longer holds the state a processor last applied (wiped, or rolled back to an older copy):
    the batch in hand is not written, and the processor derives its state again from the log."""
