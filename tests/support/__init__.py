"""Helpers for tests (proxies, fakes, builders)."""
