"""Tests of the board layer against the emulator."""
