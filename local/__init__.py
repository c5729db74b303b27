"""Offline development tooling: local Data API, model stand-in, runner, packaging. Never deployed."""
