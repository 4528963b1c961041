"""Alembic migrations of the store; a package so that they ship in the wheel with `env.py`."""
