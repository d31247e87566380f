"""The websocket hub: the latest view of every entity from cc.views, pushed to the wall by role and channel."""
