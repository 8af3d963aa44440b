"""The remote agent: runs the board side on a Pi of its own and talks MQTT (no Home Assistant).

``wire`` is the format both the agent and Home Assistant's MQTT adapter speak.
"""

__version__ = "0.3.0"
