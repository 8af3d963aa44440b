"""The Enviro / Enviro+ board: drivers, buses, display and an emulator.

This package never imports Home Assistant. It is the only code that touches buses.
"""
