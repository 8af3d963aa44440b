"""A bus-level emulator of the Enviro+ board, for tests and the simulated board."""
