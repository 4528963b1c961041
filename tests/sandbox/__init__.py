"""The real external-service clients against the sandboxes, over loopback HTTP."""
