"""Tickets and polling: the mapping index, the pure decision, dispatching, the pollers and webhook wake-ups,
and a mapping's own status."""
