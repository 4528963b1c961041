"""The operator process: mapping reconciliation, the pollers and the decisions they apply."""
