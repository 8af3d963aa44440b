"""Config flow for QIoT Enviro: probe the Pi, confirm the board, or pick the simulator."""

from typing import Any, override

import voluptuous as vol
from homeassistant.config_entries import (
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from .const import (
    BOARD_HARDWARE,
    CONF_BOARD,
    CONF_COMPENSATION_FACTOR,
    CONF_CPU_AVERAGE_SAMPLES,
    CONF_GAS_BASELINE_TRACKING,
    CONF_GAS_LEARN_SAMPLES,
    CONF_IDLE_SCREEN,
    CONF_STARTUP_MESSAGE,
    CONF_TAP_THRESHOLD,
    CONF_TEMPERATURE_COMPENSATION,
    CONF_UART_PATH,
    DEFAULT_COMPENSATION_FACTOR,
    DEFAULT_CPU_AVERAGE_SAMPLES,
    DEFAULT_GAS_BASELINE_TRACKING,
    DEFAULT_GAS_LEARN_SAMPLES,
    DEFAULT_IDLE_SCREEN,
    DEFAULT_STARTUP_MESSAGE,
    DEFAULT_TAP_THRESHOLD,
    DEFAULT_TEMPERATURE_COMPENSATION,
    DOMAIN,
    IDLE_SCREENS,
    LOGGER,
    SIMULATED_BOARDS,
)
from .coordinator import QiotEnviroConfigEntry, create_provider
from .entity import MODELS
from .hardware.board import detect
from .hardware.bus import DEFAULT_UART
from .hardware.models import BusDevice, Detection, DeviceStatus, Variant

# What stops the board from answering, as an error key the form can translate.
_I2C_ERRORS = {
    DeviceStatus.NOT_PRESENT: "i2c_not_enabled",
    DeviceStatus.PERMISSION_DENIED: "i2c_permission_denied",
    DeviceStatus.BUSY: "i2c_busy",
    DeviceStatus.ERROR: "i2c_error",
}
# Chip names read the same in every language, unlike "temperature" or "yes".
_GROUP_CHIPS = {
    "climate": "BME280 (°C, %, hPa)",
    "light": "LTR559 (lx)",
    "gas": "MICS6814 (Ω)",
    "particulates": "PMS5003 (µg/m³)",
}


def _probe(data: dict[str, Any]) -> Detection:
    """Probe the buses of an entry's board (runs in the executor)."""
    provider, _simulator = create_provider(data)
    return detect(provider, data.get(CONF_UART_PATH, DEFAULT_UART))


def _error_for(detection: Detection) -> str | None:
    """Return why no board answered, or None if one did."""
    if detection.board_found:
        return None
    i2c = detection.devices.get(BusDevice.I2C)
    if i2c is not None and i2c.status in _I2C_ERRORS:
        return _I2C_ERRORS[i2c.status]
    return "no_board"


def _title(detection: Detection) -> str:
    """Return the entry title: the model, marked when simulated."""
    model = MODELS[detection.variant or Variant.ENVIRO_PLUS]
    return f"{model} (simulated)" if detection.simulated else model


class QiotEnviroConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a board from the UI."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing detected."""
        self._data: dict[str, Any] = {}
        self._detection: Detection | None = None

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: QiotEnviroConfigEntry) -> QiotEnviroOptionsFlow:
        """Return the options flow."""
        return QiotEnviroOptionsFlow()

    async def _async_detect(self, data: dict[str, Any]) -> tuple[Detection | None, str | None]:
        """Probe in the executor; return the detection or an error key."""
        try:
            detection = await self.hass.async_add_executor_job(_probe, data)
        except Exception:  # noqa: BLE001 - last resort: the flow must show a form
            LOGGER.exception("Unexpected error while probing the board")
            return None, "unknown"
        return detection, _error_for(detection)

    def _user_schema(self, board: str, uart_path: str) -> vol.Schema:
        """Return the form: hardware or simulator, and the UART path."""
        return vol.Schema(
            {
                vol.Required(CONF_BOARD, default=board): SelectSelector(
                    SelectSelectorConfig(
                        options=[BOARD_HARDWARE, *SIMULATED_BOARDS],
                        translation_key=CONF_BOARD,
                        mode=SelectSelectorMode.LIST,
                    )
                ),
                vol.Required(CONF_UART_PATH, default=uart_path): TextSelector(),
            }
        )

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Probe the Pi; without a board, say why and offer the simulated board."""
        data = {CONF_BOARD: BOARD_HARDWARE, CONF_UART_PATH: DEFAULT_UART}
        if user_input is not None:
            data = {
                CONF_BOARD: user_input[CONF_BOARD],
                CONF_UART_PATH: user_input.get(CONF_UART_PATH, DEFAULT_UART).strip()
                or DEFAULT_UART,
            }
        detection, error = await self._async_detect(data)
        if detection is not None and error is None:
            self._data = data
            self._detection = detection
            return await self.async_step_confirm()
        default_board = BOARD_HARDWARE if user_input is not None else SIMULATED_BOARDS[0]
        return self.async_show_form(
            step_id="user",
            data_schema=self._user_schema(
                data[CONF_BOARD] if user_input is not None else default_board,
                data[CONF_UART_PATH],
            ),
            errors={"base": error or "unknown"},
        )

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what was found and create the entry on confirmation."""
        detection = self._detection
        assert detection is not None
        await self.async_set_unique_id(detection.identity)
        self._abort_if_unique_id_configured()
        if user_input is not None:
            return self.async_create_entry(title=_title(detection), data=self._data)
        sensors = ", ".join(_GROUP_CHIPS[group] for group in sorted(detection.groups))
        return self.async_show_form(
            step_id="confirm",
            description_placeholders={
                "model": _title(detection),
                "sensors": sensors or "-",
                "display": "ST7735 160x80" if detection.has_display else "—",
            },
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the UART path (or nothing, for the simulator) and reload."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        uart_path = entry.data.get(CONF_UART_PATH, DEFAULT_UART)
        if user_input is not None:
            uart_path = user_input[CONF_UART_PATH].strip() or DEFAULT_UART
            data = {**entry.data, CONF_UART_PATH: uart_path}
            detection, error = await self._async_detect(data)
            if detection is not None and error is None:
                await self.async_set_unique_id(detection.identity)
                self._abort_if_unique_id_mismatch(reason="wrong_board")
                return self.async_update_reload_and_abort(entry, data_updates=data)
            errors["base"] = error or "unknown"
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=vol.Schema(
                {vol.Required(CONF_UART_PATH, default=uart_path): TextSelector()}
            ),
            errors=errors,
        )


class QiotEnviroOptionsFlow(OptionsFlowWithReload):
    """Temperature compensation and gas baseline options."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and save the options; the entry reloads to apply them."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        options = self.config_entry.options
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_TEMPERATURE_COMPENSATION,
                    default=options.get(
                        CONF_TEMPERATURE_COMPENSATION, DEFAULT_TEMPERATURE_COMPENSATION
                    ),
                ): BooleanSelector(),
                vol.Required(
                    CONF_COMPENSATION_FACTOR,
                    default=options.get(CONF_COMPENSATION_FACTOR, DEFAULT_COMPENSATION_FACTOR),
                ): NumberSelector(
                    NumberSelectorConfig(min=0.5, max=10, step=0.05, mode=NumberSelectorMode.BOX)
                ),
                vol.Required(
                    CONF_CPU_AVERAGE_SAMPLES,
                    default=options.get(CONF_CPU_AVERAGE_SAMPLES, DEFAULT_CPU_AVERAGE_SAMPLES),
                ): NumberSelector(
                    NumberSelectorConfig(min=1, max=60, step=1, mode=NumberSelectorMode.BOX)
                ),
                vol.Required(
                    CONF_GAS_BASELINE_TRACKING,
                    default=options.get(CONF_GAS_BASELINE_TRACKING, DEFAULT_GAS_BASELINE_TRACKING),
                ): BooleanSelector(),
                vol.Required(
                    CONF_GAS_LEARN_SAMPLES,
                    default=options.get(CONF_GAS_LEARN_SAMPLES, DEFAULT_GAS_LEARN_SAMPLES),
                ): NumberSelector(
                    NumberSelectorConfig(min=6, max=360, step=1, mode=NumberSelectorMode.BOX)
                ),
                vol.Required(
                    CONF_IDLE_SCREEN,
                    default=options.get(CONF_IDLE_SCREEN, DEFAULT_IDLE_SCREEN),
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=list(IDLE_SCREENS),
                        translation_key=CONF_IDLE_SCREEN,
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Required(
                    CONF_STARTUP_MESSAGE,
                    default=options.get(CONF_STARTUP_MESSAGE, DEFAULT_STARTUP_MESSAGE),
                ): BooleanSelector(),
                vol.Required(
                    CONF_TAP_THRESHOLD,
                    default=options.get(CONF_TAP_THRESHOLD, DEFAULT_TAP_THRESHOLD),
                ): NumberSelector(
                    NumberSelectorConfig(min=100, max=2047, step=1, mode=NumberSelectorMode.BOX)
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema)
