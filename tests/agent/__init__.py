"""Tests of the remote agent and its wire format (no Home Assistant)."""
