"""Session fixtures for the Neon stand-in and its PostgreSQL server (loaded by conftest.py)."""
