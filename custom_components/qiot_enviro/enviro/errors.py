"""Exceptions of the board layer.

The integration catches :class:`BoardError` and turns it into a translated
``UpdateFailed``; nothing in here knows about Home Assistant.
"""

from .models import Detection


class BoardError(Exception):
    """The board could not be opened or read."""


class BoardNotFoundError(BoardError):
    """No Enviro or Enviro+ chip answered; ``detection`` tells what was probed."""

    def __init__(self, detection: Detection) -> None:
        """Keep the detection so callers can explain which bus was missing."""
        problems = [
            f"{probe.path}: {probe.status.value}"
            for probe in detection.devices.values()
            if probe.status.value != "ok"
        ]
        detail = f" ({', '.join(problems)})" if problems else ""
        super().__init__(f"no Enviro board answered on I2C{detail}")
        self.detection = detection


class BoardClosedError(BoardError):
    """The board was used after :meth:`Board.close`."""


class GPIOUnavailableError(BoardError):
    """A GPIO line could not be claimed (busy, or no suitable GPIO chip)."""
