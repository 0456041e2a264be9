"""Session fixtures for the Qdrant stand-in (loaded by conftest.py)."""
