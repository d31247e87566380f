"""Replies to citizens: each step of a complaint sent back on the channel it came by, in order, once each."""
