"""Actions of the integration, registered once in async_setup."""

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv

from .const import DEFAULT_MESSAGE_DURATION, DOMAIN
from .coordinator import QiotEnviroConfigEntry
from .lcd import LcdController, validate_message
from .remote import RemoteLcd

SERVICE_SHOW_MESSAGE = "show_message"
SERVICE_DISMISS_MESSAGE = "dismiss_message"
ATTR_CONFIG_ENTRY_ID = "config_entry_id"

# Structure only: each value is checked by validate_message, whose errors are
# translated and name the field.
SHOW_MESSAGE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required("message"): object,
        vol.Optional("title"): object,
        vol.Optional("duration", default=DEFAULT_MESSAGE_DURATION): object,
        vol.Optional("color"): object,
        vol.Optional("background"): object,
        vol.Optional("size", default="auto"): object,
    }
)
DISMISS_SCHEMA = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string})


def loaded_entry(hass: HomeAssistant, entry_id: str) -> QiotEnviroConfigEntry:
    """Return a loaded entry of this integration or raise a translated error."""
    entry: QiotEnviroConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    return entry


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""

    @callback
    def show_message(call: ServiceCall) -> None:
        """Show a message on a board's LCD; returns once the frame is queued."""
        lcd = _lcd(hass, call.data[ATTR_CONFIG_ENTRY_ID])
        lcd.show(
            validate_message(
                call.data["message"],
                title=call.data.get("title"),
                duration=call.data["duration"],
                color=call.data.get("color"),
                background=call.data.get("background"),
                size=call.data["size"],
            )
        )

    @callback
    def dismiss_message(call: ServiceCall) -> None:
        """Go back to the idle screen."""
        _lcd(hass, call.data[ATTR_CONFIG_ENTRY_ID]).dismiss()

    hass.services.async_register(
        DOMAIN, SERVICE_SHOW_MESSAGE, show_message, schema=SHOW_MESSAGE_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_DISMISS_MESSAGE, dismiss_message, schema=DISMISS_SCHEMA
    )


def _lcd(hass: HomeAssistant, entry_id: str) -> LcdController | RemoteLcd:
    """Return the LCD of a loaded entry, or raise a translated error."""
    entry = loaded_entry(hass, entry_id)
    lcd = entry.runtime_data.lcd
    if lcd is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="lcd_unavailable",
            translation_placeholders={"title": entry.title},
        )
    return lcd
