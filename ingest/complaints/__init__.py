"""Citizen complaints from every channel (Open311, SMS, social media, phone), normalised into one event."""
