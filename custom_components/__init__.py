"""Custom components folder, importable for the tests."""
