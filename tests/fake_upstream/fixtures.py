"""Pytest fixtures that start the fake upstream server (see server.py)."""
