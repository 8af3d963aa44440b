"""The coordinator: one executor job per cycle reads the board, then derives values."""

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import (
    BOARD_SIMULATED_ENVIRO,
    CONF_BOARD,
    CONF_COMPENSATION_FACTOR,
    CONF_CPU_AVERAGE_SAMPLES,
    CONF_GAS_BASELINE_TRACKING,
    CONF_GAS_LEARN_SAMPLES,
    CONF_NOISE_OFFSET,
    CONF_PARTICULATE_SAMPLING,
    CONF_PM25_CORRECTION,
    CONF_TEMPERATURE_COMPENSATION,
    CONF_UART_PATH,
    DEFAULT_COMPENSATION_FACTOR,
    DEFAULT_CPU_AVERAGE_SAMPLES,
    DEFAULT_GAS_BASELINE_TRACKING,
    DEFAULT_GAS_LEARN_SAMPLES,
    DEFAULT_NOISE_OFFSET,
    DEFAULT_PARTICULATE_SAMPLING,
    DEFAULT_PM25_CORRECTION,
    DEFAULT_TEMPERATURE_COMPENSATION,
    DOMAIN,
    HISTORY_STORAGE_VERSION,
    LOGGER,
    PARTICULATES_STALE_AFTER,
    SIMULATED_BOARDS,
    STORAGE_SAVE_INTERVAL,
    STORAGE_VERSION,
    UPDATE_INTERVAL,
    sampling_interval,
)
from .derived import (
    GASES,
    AirQualityCategory,
    GasBaseline,
    HourlyHistory,
    PM25Input,
    RollingAverage,
    air_quality_category,
    compensate_temperature,
    correct_pm25,
    corrected_humidity,
    dew_point,
    nowcast,
    pm10_index,
    pm25_index,
)
from .display.screens import Readings
from .enviro.board import Board
from .enviro.bus import DEFAULT_UART, BusProvider
from .enviro.emulator.board import EmulatedBoard, create_simulated
from .enviro.emulator.scenarios import CLEAR, apply_scenario
from .enviro.errors import BoardError, BoardNotFoundError
from .enviro.linux import LinuxBusProvider
from .enviro.models import (
    BusDevice,
    Detection,
    DeviceProbe,
    DeviceStatus,
    GroupHealth,
    GroupResult,
    SensorGroup,
    Snapshot,
    Variant,
)

if TYPE_CHECKING:
    from .lcd import LcdController
    from .remote import RemoteLcd

type QiotEnviroConfigEntry = ConfigEntry[EnviroCoordinator]

# Groups read over I2C: when all of them fail together the bus itself is gone.
I2C_GROUPS = (SensorGroup.CLIMATE, SensorGroup.LIGHT, SensorGroup.GAS)
# Re-probe the bus devices every this many cycles (repairs clear when fixed).
PROBE_EVERY = 30
_MISSING = {DeviceStatus.NOT_PRESENT}
# Options of the simulated board's Board (tests shorten the PMS5003 warm-up).
SIMULATED_BOARD_OPTIONS: dict[str, float] = {}


@dataclass(frozen=True, slots=True)
class QiotEnviroData:
    """One cycle's readings and the values derived from them."""

    snapshot: Snapshot
    temperature: float | None
    humidity: float | None
    dew_point: float | None
    cpu_temperature: float | None
    gas_ratios: dict[str, float | None]
    # The NowCast AQI (None until the NowCast is valid) and the PM2.5 it used.
    air_quality_index: int | None
    air_quality_category: AirQualityCategory | None
    pm2_5_input: PM25Input = PM25Input.RAW
    # The PM2.5 AQI of the latest reading alone (2024 breakpoints).
    instant_pm2_5_index: int | None = None
    # The latest PM2.5 with the EPA's correction (None when the option is off).
    pm2_5_corrected: float | None = None
    # The PMS5003 fan's total running time (None without the particulate sensor).
    fan_hours: float | None = None
    # The cycle's A-weighted equivalent and maximum Fast levels in dB(A), calibrated.
    noise_level: float | None = None
    noise_max: float | None = None

    def group(self, group: SensorGroup) -> GroupResult[Any] | None:
        """Return one sensor group's result, None if the board lacks it."""
        result: GroupResult[Any] | None = getattr(self.snapshot, group.value)
        return result

    def readings(self) -> Readings:
        """Return the values the LCD's idle readings pages show (local or remote LCD)."""
        particulates = self.snapshot.particulates
        pm25 = particulates.value.pm2_5 if particulates and particulates.value else None
        return Readings(
            temperature=self.temperature,
            humidity=self.humidity,
            pm2_5=pm25,
            aqi=self.air_quality_index,
            aqi_category=self.air_quality_category.value if self.air_quality_category else None,
        )


def create_provider(entry_data: dict[str, Any]) -> tuple[BusProvider, EmulatedBoard | None]:
    """Return the bus provider for an entry: the Pi's buses or a simulated board."""
    board = entry_data.get(CONF_BOARD)
    if board in SIMULATED_BOARDS:
        variant = Variant.ENVIRO if board == BOARD_SIMULATED_ENVIRO else Variant.ENVIRO_PLUS
        # Distinct seeds give the two simulated boards distinct identities.
        simulated = create_simulated(variant, seed=0 if variant is Variant.ENVIRO_PLUS else 1)
        return simulated.provider, simulated
    return LinuxBusProvider(), None


def create_board(entry_data: dict[str, Any]) -> tuple[Board, EmulatedBoard | None]:
    """Return the (unopened) board of an entry and, when simulated, its emulator."""
    provider, simulator = create_provider(entry_data)
    uart_path = entry_data.get(CONF_UART_PATH, DEFAULT_UART)
    if simulator is None:
        return Board(provider, uart_path=uart_path), None
    return Board(provider, uart_path=uart_path, **SIMULATED_BOARD_OPTIONS), simulator


def baseline_store(hass: HomeAssistant, entry: ConfigEntry) -> Store[dict[str, Any]]:
    """Return the store that holds an entry's learned gas baseline."""
    return Store(
        hass, STORAGE_VERSION, f"{DOMAIN}.{entry.unique_id or entry.entry_id}.gas_baseline"
    )


def fan_store(hass: HomeAssistant, entry: ConfigEntry) -> Store[dict[str, Any]]:
    """Return the store that holds a local board's PMS5003 fan running time."""
    return Store(
        hass, STORAGE_VERSION, f"{DOMAIN}.{entry.unique_id or entry.entry_id}.particulate_fan"
    )


def history_store(hass: HomeAssistant, entry: ConfigEntry) -> Store[dict[str, Any]]:
    """Return the store that holds an entry's hourly particulate history (NowCast)."""
    return Store(
        hass,
        HISTORY_STORAGE_VERSION,
        f"{DOMAIN}.{entry.unique_id or entry.entry_id}.particulate_history",
    )


class EnviroCoordinator(DataUpdateCoordinator[QiotEnviroData]):
    """What every board's coordinator does, local or remote.

    Derives compensation, humidity, dew point, gas ratios and the AQI from a board's
    snapshot, keeps the gas baseline on disk, logs each group's losses and recoveries
    once, and raises the repairs. How a snapshot arrives is the subclass's business:
    read in the executor (:class:`QiotEnviroCoordinator`) or pushed over MQTT
    (:class:`~.remote.RemoteCoordinator`).
    """

    config_entry: QiotEnviroConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: QiotEnviroConfigEntry,
        version: str | None = None,
        *,
        update_interval: timedelta | None,
    ) -> None:
        """Prepare the derivations of a config entry; nothing is opened yet."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=DOMAIN,
            update_interval=update_interval,
        )
        self.detection: Detection | None = None
        self.version = version
        self.lcd: LcdController | RemoteLcd | None = None
        options = entry.options
        self.compensation = bool(
            options.get(CONF_TEMPERATURE_COMPENSATION, DEFAULT_TEMPERATURE_COMPENSATION)
        )
        self.factor = float(options.get(CONF_COMPENSATION_FACTOR, DEFAULT_COMPENSATION_FACTOR))
        self.baseline_tracking = bool(
            options.get(CONF_GAS_BASELINE_TRACKING, DEFAULT_GAS_BASELINE_TRACKING)
        )
        self.learn_samples = int(options.get(CONF_GAS_LEARN_SAMPLES, DEFAULT_GAS_LEARN_SAMPLES))
        self._cpu = RollingAverage(
            int(options.get(CONF_CPU_AVERAGE_SAMPLES, DEFAULT_CPU_AVERAGE_SAMPLES))
        )
        self.baseline = GasBaseline(learn_samples=self.learn_samples)
        self._store: Store[dict[str, Any]] = baseline_store(hass, entry)
        # The baseline on disk is loaded before the board opens; until then nothing may
        # be saved over it (a failed start must not erase a calibration).
        self._baseline_loaded = False
        self._baseline_dirty = False
        self._save_scheduled = False
        self.pm25_correction = bool(options.get(CONF_PM25_CORRECTION, DEFAULT_PM25_CORRECTION))
        self.noise_offset = float(options.get(CONF_NOISE_OFFSET, DEFAULT_NOISE_OFFSET))
        self.history = HourlyHistory()
        self._history_store: Store[dict[str, Any]] = history_store(hass, entry)
        # Same discipline as the baseline: nothing is written before the stored history
        # was loaded, so a failed start never replaces it with an empty one.
        self._history_loaded = False
        self._history_dirty = False
        self._history_save_scheduled = False
        self._group_ok: dict[SensorGroup, bool] = {}
        self._cycles = 0
        self.cycle_durations: deque[float] = deque(maxlen=20)
        self.probes: dict[BusDevice, DeviceProbe] = {}
        self.serial_console = False
        self.closed = False
        self.opened_at: datetime | None = None
        self._particulates_ok_at: datetime | None = None

    @property
    def uart_path(self) -> str:
        """Return the serial port the PMS5003 is read on (as the board reported it)."""
        probe = self.probes.get(BusDevice.UART)
        return probe.path if probe is not None else DEFAULT_UART

    def current_detection(self) -> Detection | None:
        """Return what the board says about itself now (the PMS5003 counts once it sends)."""
        return self.detection

    def health(self) -> dict[SensorGroup, GroupHealth]:
        """Return each sensor group's health counters."""
        return {}

    @property
    def simulated(self) -> bool:
        """Tell whether the board is a simulated one (it then takes injected faults)."""
        return self.detection is not None and self.detection.simulated

    async def async_set_fault(self, scenario: str) -> None:
        """Inject one fault scenario into a simulated board (``CLEAR`` clears)."""
        raise NotImplementedError

    async def _async_load_baseline(self) -> None:
        """Restore the gas baseline and the hourly history, once, before the board opens."""
        if not self._baseline_loaded:
            if (stored := await self._store.async_load()) is not None:
                self.baseline = GasBaseline.from_dict(stored, learn_samples=self.learn_samples)
            self._baseline_loaded = True
        if not self._history_loaded:
            if (history := await self._history_store.async_load()) is not None:
                self.history = HourlyHistory.from_dict(history)
            self._history_loaded = True

    def _derive(self, snapshot: Snapshot) -> QiotEnviroData:
        """Compute compensation, humidity, dew point, gas ratios and AQI."""
        cpu = None
        if snapshot.cpu_temperature is not None:
            cpu = self._cpu.add(snapshot.cpu_temperature)
        temperature = humidity = dew = None
        if snapshot.climate is not None and (climate := snapshot.climate.value) is not None:
            temperature = climate.temperature
            if self.compensation and cpu is not None:
                temperature = compensate_temperature(climate.temperature, cpu, self.factor)
            humidity = corrected_humidity(climate.temperature, climate.humidity, temperature)
            dew = dew_point(climate.temperature, climate.humidity)
        ratios: dict[str, float | None] = dict.fromkeys(GASES)
        if snapshot.gas is not None and (gas := snapshot.gas.value) is not None:
            if self.baseline_tracking or self.baseline.learning:
                was_learning = self.baseline.learning
                if self.baseline.add(gas.oxidising, gas.reducing, gas.nh3):
                    self._baseline_changed(urgent=was_learning and not self.baseline.learning)
            ratios = {
                "oxidising": self.baseline.ratio("oxidising", gas.oxidising),
                "reducing": self.baseline.ratio("reducing", gas.reducing),
                "nh3": self.baseline.ratio("nh3", gas.nh3),
            }
        now = dt_util.now()
        instant = corrected = None
        if (
            snapshot.particulates is not None
            and (particulates := snapshot.particulates.value) is not None
        ):
            # pm2_5 is the PMS5003's CF=1 ("standard particle") field, the input the
            # EPA's correction was fitted on.
            closed = self.history.add(now, particulates.pm2_5, particulates.pm10, humidity)
            self._history_dirty = True
            if closed:
                self._history_changed()
            instant = pm25_index(particulates.pm2_5)
            if self.pm25_correction and humidity is not None:
                corrected = correct_pm25(particulates.pm2_5, humidity)
        elif self.history.close(now):
            self._history_changed()
        aqi = self._nowcast_index(now)
        noise_level = noise_max = None
        if snapshot.noise is not None and (noise := snapshot.noise.value) is not None:
            noise_level = round(noise.laeq + self.noise_offset, 1)
            noise_max = round(noise.lafmax + self.noise_offset, 1)
        return QiotEnviroData(
            snapshot=snapshot,
            temperature=temperature,
            humidity=humidity,
            dew_point=dew,
            cpu_temperature=cpu,
            gas_ratios=ratios,
            air_quality_index=aqi,
            air_quality_category=None if aqi is None else air_quality_category(aqi),
            pm2_5_input=PM25Input.CORRECTED if self.pm25_correction else PM25Input.RAW,
            instant_pm2_5_index=instant,
            pm2_5_corrected=corrected,
            noise_level=noise_level,
            noise_max=noise_max,
        )

    def _nowcast_index(self, now: datetime) -> int | None:
        """Return the AQI of the PM2.5 and PM10 NowCasts; None while neither is valid.

        With the correction on, each hour's mean CF=1 PM2.5 is corrected with that
        hour's mean humidity before the NowCast, in the order the AirNow Fire and Smoke
        Map uses (hourly average, correction, NowCast); an hour without humidity is
        then missing for PM2.5.
        """
        hours = self.history.recent(now)
        pm25_hours: list[float | None]
        if self.pm25_correction:
            pm25_hours = [
                None
                if hour is None or hour.humidity is None
                else correct_pm25(hour.pm2_5, hour.humidity)
                for hour in hours
            ]
        else:
            pm25_hours = [None if hour is None else hour.pm2_5 for hour in hours]
        indices: list[int] = []
        if (pm25 := nowcast(pm25_hours)) is not None:
            indices.append(pm25_index(pm25))
        if (pm10 := nowcast([None if h is None else h.pm10 for h in hours])) is not None:
            indices.append(pm10_index(pm10))
        return max(indices) if indices else None

    def _log_transitions(self, snapshot: Snapshot) -> None:
        """Log once when a sensor group stops answering and once when it is back."""
        for group in SensorGroup:
            result: GroupResult[Any] | None = getattr(snapshot, group.value)
            if result is None:
                continue
            if result.warming_up:
                # An expected warm-up after a start is neither a loss nor a recovery.
                continue
            was_ok = self._group_ok.get(group, True)
            if was_ok and not result.ok:
                LOGGER.warning("The %s sensors are unavailable: %s", group.value, result.error)
            elif not was_ok and result.ok:
                LOGGER.info("The %s sensors are back", group.value)
            self._group_ok[group] = result.ok

    def _set_issue(
        self,
        suffix: str,
        translation_key: str,
        placeholders: dict[str, str] | None,
        severity: ir.IssueSeverity = ir.IssueSeverity.WARNING,
    ) -> None:
        """Raise this entry's repair ``suffix`` (with placeholders), or clear it (None)."""
        issue_id = f"{self.config_entry.entry_id}_{suffix}"
        if placeholders is None:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            return
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=severity,
            translation_key=translation_key,
            translation_placeholders=placeholders,
        )

    def _update_bus_issues(self) -> None:
        """Raise or clear one repair per bus device and one for a serial console."""
        for device in BusDevice:
            probe = self.probes.get(device)
            status = probe.status if probe is not None else DeviceStatus.OK
            for kind, active in (
                ("missing", status in _MISSING),
                ("inaccessible", status not in _MISSING and status is not DeviceStatus.OK),
            ):
                placeholders = None
                if active and probe is not None:
                    placeholders = {"path": probe.path, "detail": probe.detail or status.value}
                self._set_issue(f"{device.value}_{kind}", f"{device.value}_{kind}", placeholders)
        self._set_issue(
            "serial_console",
            "serial_console",
            {"path": self.uart_path} if self.serial_console else None,
        )

    def _update_particulate_issue(self, snapshot: Snapshot) -> None:
        """Raise a repair when particulate data has been stale for several minutes."""
        result = snapshot.particulates
        if result is None or result.warming_up:
            return
        now = dt_util.utcnow()
        if result.ok:
            self._particulates_ok_at = now
            self._set_issue("particulates_stale", "particulates_stale", None)
            return
        since = self._particulates_ok_at or self.opened_at or now
        if now - since > PARTICULATES_STALE_AFTER:
            self._set_issue(
                "particulates_stale",
                "particulates_stale",
                {
                    "minutes": str(int(PARTICULATES_STALE_AFTER.total_seconds() // 60)),
                    "error": result.error or "",
                },
            )

    def _baseline_changed(self, *, urgent: bool) -> None:
        """Write a changed baseline: at once when learning ends, else within minutes.

        ``Store.async_delay_save`` restarts its delay on every call, so calling it each
        cycle would never write; it is called once and the write clears the flag, so
        at most ``STORAGE_SAVE_INTERVAL`` of learning or tracking is lost in a power cut.
        """
        self._baseline_dirty = True
        if urgent:
            self.hass.async_create_task(self._async_save_baseline(), eager_start=True)
            return
        if not self._save_scheduled:
            self._save_scheduled = True
            self._store.async_delay_save(
                self._baseline_to_write, STORAGE_SAVE_INTERVAL.total_seconds()
            )

    @callback
    def _baseline_to_write(self) -> dict[str, Any]:
        """Return the baseline for a delayed write (called by the store when it writes)."""
        self._save_scheduled = False
        self._baseline_dirty = False
        return self.baseline.as_dict()

    async def _async_save_baseline(self) -> None:
        """Write the baseline now (this also cancels a pending delayed write)."""
        self._save_scheduled = False
        self._baseline_dirty = False
        await self._store.async_save(self.baseline.as_dict())

    def _history_changed(self) -> None:
        """Write the history within STORAGE_SAVE_INTERVAL of an hour closing.

        Only a closed hour schedules a write (once, as for the baseline), so the card
        sees one write an hour; the open hour's running sums go with it and at unload.
        """
        self._history_dirty = True
        if not self._history_save_scheduled:
            self._history_save_scheduled = True
            self._history_store.async_delay_save(
                self._history_to_write, STORAGE_SAVE_INTERVAL.total_seconds()
            )

    @callback
    def _history_to_write(self) -> dict[str, Any]:
        """Return the history for a delayed write (called by the store when it writes)."""
        self._history_save_scheduled = False
        self._history_dirty = False
        return self.history.as_dict()

    async def _async_save_history(self) -> None:
        """Write the history now (this also cancels a pending delayed write)."""
        self._history_save_scheduled = False
        self._history_dirty = False
        await self._history_store.async_save(self.history.as_dict())

    async def async_reset_baseline(self) -> None:
        """Forget the learned gas baseline and learn it again from now."""
        self.baseline.reset()
        await self._async_save_baseline()
        if self.data is not None:
            # The ratios are unknown again until the new baseline is learned.
            self.async_set_updated_data(replace(self.data, gas_ratios=dict.fromkeys(GASES)))

    async def async_close(self) -> None:
        """Save a changed baseline; subclasses then release the board."""
        if self.closed:
            return
        self.closed = True
        if self._baseline_loaded and self._baseline_dirty:
            await self._async_save_baseline()
        # The open hour's running sums changed with every reading since the last write.
        if self._history_loaded and self._history_dirty:
            await self._async_save_history()


class QiotEnviroCoordinator(EnviroCoordinator):
    """A board on this Pi's buses, read once per cycle in one executor job."""

    def __init__(
        self, hass: HomeAssistant, entry: QiotEnviroConfigEntry, version: str | None = None
    ) -> None:
        """Prepare the board of a config entry; nothing is opened yet."""
        super().__init__(hass, entry, version, update_interval=UPDATE_INTERVAL)
        self.board, self.simulator = create_board(dict(entry.data))
        self.sampling = sampling_interval(
            entry.options.get(CONF_PARTICULATE_SAMPLING, DEFAULT_PARTICULATE_SAMPLING)
        )
        # The fan's running time is the board's; it is kept on disk like the baseline.
        self._fan_store: Store[dict[str, Any]] = fan_store(hass, entry)
        self._fan_loaded = False
        self._fan_seconds = 0.0
        self._fan_saved = 0.0
        self._fan_save_scheduled = False
        self._open_lock = threading.Lock()
        self._open_done = False
        self._abandoned = False

    @property
    @override
    def uart_path(self) -> str:
        """Return the serial port the PMS5003 is read on."""
        return self.board.uart_path

    @override
    def current_detection(self) -> Detection | None:
        """Return the board's live detection (the PMS5003 counts once it sends)."""
        return self.board.detection or self.detection

    @override
    def health(self) -> dict[SensorGroup, GroupHealth]:
        """Return each sensor group's health counters, from the board."""
        return self.board.health()

    @property
    @override
    def simulated(self) -> bool:
        """Tell whether this is the simulated board."""
        return self.simulator is not None

    @override
    async def async_set_fault(self, scenario: str) -> None:
        """Clear the previous fault and inject ``scenario`` (``CLEAR`` only clears)."""
        simulator = self.simulator
        assert simulator is not None
        apply_scenario(simulator.faults, CLEAR)
        if scenario != CLEAR:
            apply_scenario(simulator.faults, scenario)

    @override
    async def _async_setup(self) -> None:
        """Restore the stored state, then open the board (in the executor)."""
        await self._async_load_baseline()
        if not self._fan_loaded:
            stored = await self._fan_store.async_load()
            seconds = stored.get("seconds") if isinstance(stored, dict) else None
            if isinstance(seconds, int | float) and seconds >= 0:
                self._fan_seconds = self._fan_saved = float(seconds)
            self._fan_loaded = True
        try:
            self.detection = await self.hass.async_add_executor_job(self._open_board)
        except asyncio.CancelledError:
            # Home Assistant is stopping while the board opens in its thread: make
            # sure whatever that thread opens gets released.
            with self._open_lock:
                self._abandoned = True
                opened = self._open_done
            if opened:
                self.hass.async_add_executor_job(self.board.close)
            raise
        except BoardNotFoundError as err:
            # Say which bus is missing (e.g. I2C disabled after an OS update); the
            # repair clears once a later setup attempt finds the bus again.
            self.probes = dict(err.detection.devices)
            self._update_bus_issues()
            raise UpdateFailed(
                translation_domain=DOMAIN, translation_key="board_not_found"
            ) from err
        except (BoardError, OSError) as err:
            # OSError: a device node that changed between probing and opening it.
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="board_open_failed",
                translation_placeholders={"error": str(err)},
            ) from err
        self.opened_at = dt_util.utcnow()
        self.probes = dict(self.detection.devices)
        self.serial_console = self.detection.serial_console
        self._update_bus_issues()

    def _open_board(self) -> Detection:
        """Open the board (executor); close it again if setup was abandoned meanwhile.

        An Enviro+ gets its stored fan time and its particulate sampling mode.
        """
        detection = self.board.open()
        if SensorGroup.PARTICULATES in detection.groups:
            self.board.restore_particulate_fan_seconds(self._fan_seconds)
            if self.sampling is not None:
                self.board.set_particulate_sampling(self.sampling)
        with self._open_lock:
            self._open_done = True
            if self._abandoned:
                self.board.close()
        return detection

    @override
    async def _async_update_data(self) -> QiotEnviroData:
        """Read the board once and derive the values of this cycle."""
        self._cycles += 1
        probe = self._cycles % PROBE_EVERY == 0
        try:
            snapshot, probes, console = await self.hass.async_add_executor_job(
                self._read_cycle, probe
            )
        except BoardError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="read_failed",
                translation_placeholders={"error": str(err)},
            ) from err
        self.cycle_durations.append(snapshot.duration)
        if probes is not None:
            self._apply_probes(probes, console)
        self._log_transitions(snapshot)
        i2c_results = [r for g in I2C_GROUPS if (r := getattr(snapshot, g.value)) is not None]
        if i2c_results and not any(r.ok for r in i2c_results):
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="i2c_failed",
                translation_placeholders={"error": str(i2c_results[0].error)},
            )
        data = self._derive(snapshot)
        if snapshot.particulates is not None:
            self._fan_seconds = self.board.particulate_fan_seconds()
            data = replace(data, fan_hours=round(self._fan_seconds / 3600, 2))
            self._fan_changed()
        self._update_particulate_issue(snapshot)
        return data

    def _fan_changed(self) -> None:
        """Write the fan's running time within minutes of a change (at most that is lost)."""
        if self._fan_save_scheduled or self._fan_seconds == self._fan_saved:
            return
        self._fan_save_scheduled = True
        self._fan_store.async_delay_save(self._fan_to_write, STORAGE_SAVE_INTERVAL.total_seconds())

    @callback
    def _fan_to_write(self) -> dict[str, Any]:
        """Return the fan time for a delayed write (called by the store when it writes)."""
        self._fan_save_scheduled = False
        self._fan_saved = self._fan_seconds
        return {"seconds": self._fan_seconds}

    def _read_cycle(self, probe: bool) -> tuple[Snapshot, list[DeviceProbe] | None, bool | None]:
        """Read the board, and every few minutes probe its devices: one executor job."""
        snapshot = self.board.read()
        if not probe:
            return snapshot, None, None
        uart = self.board.uart_path
        return snapshot, self.board.probe(), self.board.provider.serial_console_on(uart)

    def _apply_probes(self, probes: list[DeviceProbe], console: bool | None) -> None:
        """Refresh the repairs; reload when a missing bus device has appeared."""
        appeared = [
            p.device
            for p in probes
            if p.status is DeviceStatus.OK
            and self.probes.get(p.device, p).status is not DeviceStatus.OK
        ]
        self.probes = {p.device: p for p in probes}
        if console is not None:
            self.serial_console = console
        self._update_bus_issues()
        if appeared:
            LOGGER.info("Bus devices became reachable (%s): reloading", ", ".join(appeared))
            self.hass.config_entries.async_schedule_reload(self.config_entry.entry_id)

    @override
    async def async_close(self) -> None:
        """Save a changed baseline and release every hardware resource (in the executor)."""
        if self.closed:
            return
        await super().async_close()
        await self.hass.async_add_executor_job(self.board.close)
        if self._fan_loaded and self.board.particulate_fan_seconds() != self._fan_saved:
            self._fan_seconds = self.board.particulate_fan_seconds()
            await self._fan_store.async_save(self._fan_to_write())
