"""The textbook platform's chat service (FastAPI): `uvicorn chat_api.app:app`."""
__version__ = "1.1.0"
