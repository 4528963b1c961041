"""One module per revision, applied in the order of their `down_revision` links."""
