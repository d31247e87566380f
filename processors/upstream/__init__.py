"""Forwarding complaints to an upstream system (SP4N-LAPOR!, a province's instance) and its answers back."""
