"""Tests for the LCD pictures and the display thread (no Home Assistant involved)."""
