"""Config flow for QIoT Enviro: probe the Pi, confirm the board, or pick the simulator."""

from typing import Any, override

import voluptuous as vol
from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.core import callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo

from .const import (
    BOARD_HARDWARE,
    BOARD_REMOTE,
    CONF_BOARD,
    CONF_BOARD_ID,
    CONF_COMPENSATION_FACTOR,
    CONF_CPU_AVERAGE_SAMPLES,
    CONF_GAS_BASELINE_TRACKING,
    CONF_GAS_LEARN_SAMPLES,
    CONF_IDLE_SCREEN,
    CONF_LEGACY_NOTIFY_NAME,
    CONF_NOISE_OFFSET,
    CONF_PARTICULATE_SAMPLING,
    CONF_PM25_CORRECTION,
    CONF_STARTUP_MESSAGE,
    CONF_TAP_THRESHOLD,
    CONF_TEMPERATURE_COMPENSATION,
    CONF_UART_PATH,
    DEFAULT_COMPENSATION_FACTOR,
    DEFAULT_CPU_AVERAGE_SAMPLES,
    DEFAULT_GAS_BASELINE_TRACKING,
    DEFAULT_GAS_LEARN_SAMPLES,
    DEFAULT_IDLE_SCREEN,
    DEFAULT_NOISE_OFFSET,
    DEFAULT_PARTICULATE_SAMPLING,
    DEFAULT_PM25_CORRECTION,
    DEFAULT_STARTUP_MESSAGE,
    DEFAULT_TAP_THRESHOLD,
    DEFAULT_TEMPERATURE_COMPENSATION,
    DOMAIN,
    IDLE_SCREENS,
    LOGGER,
    NOISE_OFFSET_LIMIT,
    SAMPLING_OPTIONS,
    SIMULATED_BOARDS,
)
from .coordinator import QiotEnviroConfigEntry, QiotEnviroCoordinator, create_provider
from .entity import MODELS
from .enviro.board import detect
from .enviro.bus import DEFAULT_UART, BusProvider
from .enviro.models import BusDevice, Detection, DeviceProbe, DeviceStatus, Variant
from .notify import allocate_legacy_notify_name
from .remote import Announcement, announced_board, async_announced_boards

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
    "noise": "MEMS microphone (dB(A))",
}


# Why a serial port cannot be used, as an error key naming the path.
_UART_ERRORS = {
    DeviceStatus.NOT_PRESENT: "uart_not_found",
    DeviceStatus.PERMISSION_DENIED: "uart_permission_denied",
    DeviceStatus.BUSY: "uart_busy",
    DeviceStatus.ERROR: "uart_error",
}


def _probe(data: dict[str, Any]) -> Detection:
    """Probe the buses of an entry's board (runs in the executor)."""
    provider, _simulator = create_provider(data)
    return detect(provider, data.get(CONF_UART_PATH, DEFAULT_UART))


def _probe_uart(provider: BusProvider, path: str) -> DeviceProbe:
    """Open and close a serial port node, nothing more (runs in the executor).

    Probing the node reads nothing from it, so a running board's particulate reader
    keeps every frame.
    """
    return next(p for p in provider.probe(path) if p.device is BusDevice.UART)


def _uart_error(probe: DeviceProbe) -> str | None:
    """Return why a serial port cannot be used, or None if it can."""
    return _UART_ERRORS.get(probe.status)


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


def _remote_title(announcement: Announcement) -> str:
    """Return a remote board's title: the model and the Pi it is on."""
    where = announcement.hostname or announcement.board_id
    return f"{_title(announcement.detection)} on {where}"


# How long the user step listens for retained announcements.
ANNOUNCE_LISTEN = 1.0


class QiotEnviroConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a board from the UI."""

    VERSION = 1
    # 1.2: the legacy notify service's name is stored in the entry.
    MINOR_VERSION = 2

    def __init__(self) -> None:
        """Start with nothing detected."""
        self._data: dict[str, Any] = {}
        self._detection: Detection | None = None
        self._announcement: Announcement | None = None
        self._announced: dict[str, Announcement] = {}

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
                        options=[BOARD_HARDWARE, BOARD_REMOTE, *SIMULATED_BOARDS],
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
        if user_input is not None and user_input[CONF_BOARD] == BOARD_REMOTE:
            return await self.async_step_remote()
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
        """Show what was found; let the user check the serial port; create the entry."""
        detection = self._detection
        assert detection is not None
        await self.async_set_unique_id(detection.identity)
        self._abort_if_unique_id_configured()
        plus = detection.variant is Variant.ENVIRO_PLUS
        uart_path = self._data[CONF_UART_PATH]
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            wanted = str(user_input.get(CONF_UART_PATH, uart_path)).strip() or DEFAULT_UART
            if wanted != uart_path:
                # A path the user typed must exist; the probed default may be missing
                # (the board is added and a repair explains how to enable the UART).
                provider, _simulator = create_provider(self._data)
                probe = await self.hass.async_add_executor_job(_probe_uart, provider, wanted)
                if (error := _uart_error(probe)) is not None:
                    errors[CONF_UART_PATH] = error
                    placeholders = {"path": wanted, "detail": probe.detail or probe.status}
                uart_path = wanted
            if not errors:
                data = {**self._data, CONF_UART_PATH: uart_path}
                data[CONF_LEGACY_NOTIFY_NAME] = allocate_legacy_notify_name(self.hass, None)
                return self.async_create_entry(title=_title(detection), data=data)
        sensors = ", ".join(_GROUP_CHIPS[group] for group in sorted(detection.groups))
        schema = vol.Schema({})
        if plus:
            schema = vol.Schema({vol.Required(CONF_UART_PATH, default=uart_path): TextSelector()})
        return self.async_show_form(
            step_id="confirm",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "model": _title(detection),
                "sensors": sensors or "-",
                "display": "ST7735 160x80" if detection.has_display else "—",
                "path": placeholders.get("path", uart_path),
                "detail": placeholders.get("detail", ""),
            },
        )

    async def async_step_remote(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """List the boards whose agents announce themselves over MQTT; add the chosen one."""
        if user_input is not None and user_input.get(CONF_BOARD_ID) in self._announced:
            self._announcement = self._announced[user_input[CONF_BOARD_ID]]
            return await self._async_create_remote(self._announcement)
        try:
            announced = await async_announced_boards(self.hass, ANNOUNCE_LISTEN)
        except HomeAssistantError:
            return self._user_form(BOARD_REMOTE, "mqtt_not_set_up")
        configured = self._async_current_ids(include_ignore=False)
        self._announced = {
            board_id: announcement
            for board_id, announcement in sorted(announced.items())
            if board_id not in configured
        }
        if not self._announced:
            return self._user_form(BOARD_REMOTE, "no_remote_boards")
        return self.async_show_form(
            step_id="remote",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_BOARD_ID): SelectSelector(
                        SelectSelectorConfig(
                            options=[
                                SelectOptionDict(
                                    value=board_id,
                                    label=f"{_remote_title(announcement)} ({board_id})",
                                )
                                for board_id, announcement in self._announced.items()
                            ],
                            mode=SelectSelectorMode.LIST,
                        )
                    )
                }
            ),
        )

    def _user_form(self, board: str, error: str) -> ConfigFlowResult:
        """Show the first form again with an error."""
        return self.async_show_form(
            step_id="user",
            data_schema=self._user_schema(board, DEFAULT_UART),
            errors={"base": error},
        )

    async def async_step_mqtt(self, discovery_info: MqttServiceInfo) -> ConfigFlowResult:
        """Offer to add a board whose agent announced itself on the broker."""
        announcement = announced_board(discovery_info.topic, discovery_info.payload)
        if announcement is None:
            return self.async_abort(reason="invalid_discovery_info")
        await self.async_set_unique_id(announcement.board_id)
        self._abort_if_unique_id_configured()
        self._announcement = announcement
        self.context["title_placeholders"] = {"name": _remote_title(announcement)}
        return await self.async_step_remote_confirm()

    async def async_step_remote_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the discovered board; add it on confirmation."""
        announcement = self._announcement
        assert announcement is not None
        if user_input is not None:
            return await self._async_create_remote(announcement)
        self._set_confirm_only()
        detection = announcement.detection
        return self.async_show_form(
            step_id="remote_confirm",
            description_placeholders={
                "model": _title(detection),
                "host": announcement.hostname or "-",
                "sensors": ", ".join(_GROUP_CHIPS[g] for g in sorted(detection.groups)) or "-",
                "display": "ST7735 160x80" if detection.has_display else "—",
                "version": announcement.agent_version,
            },
        )

    async def _async_create_remote(self, announcement: Announcement) -> ConfigFlowResult:
        """Create the entry of a remote board (unique by its board id)."""
        await self.async_set_unique_id(announcement.board_id, raise_on_progress=False)
        self._abort_if_unique_id_configured()
        return self.async_create_entry(
            title=_remote_title(announcement),
            data={
                CONF_BOARD: BOARD_REMOTE,
                CONF_BOARD_ID: announcement.board_id,
                CONF_LEGACY_NOTIFY_NAME: allocate_legacy_notify_name(self.hass, None),
            },
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the UART path after checking it, and reload.

        While the entry runs, the running board answers for itself: only the new
        port's node is probed, so nothing opens the UART or talks to the ADC a second
        time. An entry that is not running is detected in full.
        """
        entry = self._get_reconfigure_entry()
        if entry.data.get(CONF_BOARD) == BOARD_REMOTE:
            # Nothing to change here: the agent's own config file holds its settings.
            return self.async_abort(reason="remote_not_reconfigurable")
        errors: dict[str, str] = {}
        uart_path = entry.data.get(CONF_UART_PATH, DEFAULT_UART)
        placeholders = {"path": uart_path, "detail": ""}
        if user_input is not None:
            uart_path = str(user_input[CONF_UART_PATH]).strip() or DEFAULT_UART
            data = {**entry.data, CONF_UART_PATH: uart_path}
            placeholders["path"] = uart_path
            error: str | None
            coordinator = entry.runtime_data if entry.state is ConfigEntryState.LOADED else None
            if isinstance(coordinator, QiotEnviroCoordinator):
                probe = await self.hass.async_add_executor_job(
                    _probe_uart, coordinator.board.provider, uart_path
                )
                error = _uart_error(probe)
                placeholders["detail"] = probe.detail or probe.status
                identity = coordinator.detection.identity if coordinator.detection else None
            else:
                detection, error = await self._async_detect(data)
                identity = detection.identity if detection is not None else None
                if error is None and detection is not None:
                    probe = detection.devices[BusDevice.UART]
                    error = _uart_error(probe)
                    placeholders["detail"] = probe.detail or probe.status
            if error is None and identity is not None:
                await self.async_set_unique_id(identity)
                self._abort_if_unique_id_mismatch(reason="wrong_board")
                return self.async_update_reload_and_abort(entry, data_updates=data)
            if error is not None and error in _UART_ERRORS.values():
                errors[CONF_UART_PATH] = error
            else:
                errors["base"] = error or "unknown"
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=vol.Schema(
                {vol.Required(CONF_UART_PATH, default=uart_path): TextSelector()}
            ),
            errors=errors,
            description_placeholders=placeholders,
        )


class QiotEnviroOptionsFlow(OptionsFlowWithReload):
    """Temperature compensation, gas baseline, PM2.5 correction and display options."""

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
                    CONF_PM25_CORRECTION,
                    default=options.get(CONF_PM25_CORRECTION, DEFAULT_PM25_CORRECTION),
                ): BooleanSelector(),
                vol.Required(
                    CONF_NOISE_OFFSET,
                    default=options.get(CONF_NOISE_OFFSET, DEFAULT_NOISE_OFFSET),
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=-NOISE_OFFSET_LIMIT,
                        max=NOISE_OFFSET_LIMIT,
                        step=0.1,
                        unit_of_measurement="dB",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Required(
                    CONF_PARTICULATE_SAMPLING,
                    default=options.get(CONF_PARTICULATE_SAMPLING, DEFAULT_PARTICULATE_SAMPLING),
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=list(SAMPLING_OPTIONS),
                        translation_key=CONF_PARTICULATE_SAMPLING,
                        mode=SelectSelectorMode.DROPDOWN,
                    )
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
