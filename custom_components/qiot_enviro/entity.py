"""The base entity: one device per board, unique ids from the board's identity."""

from typing import override

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, MANUFACTURER
from .coordinator import EnviroCoordinator
from .enviro.models import Variant

MODELS = {Variant.ENVIRO: "Enviro", Variant.ENVIRO_PLUS: "Enviro+"}


def device_info(coordinator: EnviroCoordinator) -> DeviceInfo:
    """Describe the board as a device; the simulated board says so in its name.

    The board runs no software of its own, so the device has no ``sw_version`` (the
    integration's version is not the board's).
    """
    detection = coordinator.detection
    assert detection is not None  # set by the first refresh, before any entity exists
    model = MODELS.get(detection.variant or Variant.ENVIRO_PLUS, "Enviro+")
    name = f"{model} (simulated)" if detection.simulated else model
    return DeviceInfo(
        identifiers={(DOMAIN, detection.identity)},
        manufacturer=MANUFACTURER,
        model=f"{model} (simulated)" if detection.simulated else model,
        name=name,
        serial_number=detection.identity,
    )


class QiotEnviroEntity(CoordinatorEntity[EnviroCoordinator]):
    """An entity of the board's device."""

    _attr_has_entity_name = True
    # What the last coordinator-driven write showed (see _state_signature).
    _written: tuple[object, ...] | None = None

    def __init__(self, coordinator: EnviroCoordinator, description: EntityDescription) -> None:
        """Attach the entity to the board's device with a stable unique id."""
        super().__init__(coordinator)
        self.entity_description = description
        detection = coordinator.detection
        assert detection is not None
        self._attr_unique_id = f"{detection.identity}_{description.key}"
        self._attr_device_info = device_info(coordinator)

    def _state_signature(self) -> tuple[object, ...]:
        """Return what a board update can change in this entity's state.

        Here only the availability: the LCD's entities, the button and the tap event
        write their own state when their part changes.
        """
        return (self.available,)

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        """Write the state only when a board update changed it.

        Home Assistant builds a whole state (unit, precision, attributes) on every write
        before its state machine finds it equal; most of a board's entities stay as they
        were from one cycle to the next (MQTT entities skip such writes too).
        """
        signature = self._state_signature()
        if signature == self._written:
            return
        self._written = signature
        self.async_write_ha_state()


class QiotEnviroLcdEntity(QiotEnviroEntity):
    """An entity of the LCD: available while the LCD works, whatever I2C does.

    The LCD is on SPI; an I2C fault that makes the sensors unavailable leaves it alone.
    """

    @property
    @override
    def available(self) -> bool:
        """Tell whether the LCD takes frames."""
        lcd = self.coordinator.lcd
        return lcd is not None and lcd.available
