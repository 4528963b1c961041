"""The operator process: one Lease, kopf's handlers for all three kinds, and the leader's periodic work.

The composition root (`main`, `handlers`, `runtime`) wires the domain packages (`tickets`, `runs`,
`sessions`, `reaper`, `reviews`) together; the machinery (`leadership`, `periodic`, `retrying`,
`wakeups`, `endpoints`, `housekeeping`) knows no domain. `pyproject.toml` holds the layers.
"""
