"""A stateful local stand-in for the Neon API v2, backed by real PostgreSQL (placeholder docstring)."""
from .server import NeonStandIn

__all__ = ["NeonStandIn"]
