"""`make bench`: every case of docs/performance.md, measured on this machine, printed as one table.

Each case module has `async def run(lab: Lab) -> list[Figure]`; `bench/run.py` runs them in order on
one API server and writes the figures to bench/results/<date>.json and docs/performance.md.
"""
