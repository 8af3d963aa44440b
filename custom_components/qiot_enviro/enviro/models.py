"""Typed results of the board layer: detection, readings, snapshots and health."""

import errno
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class BusDevice(StrEnum):
    """A Linux device node the board needs."""

    I2C = "i2c"
    SPI = "spi"
    UART = "uart"
    GPIO = "gpio"
    # The microphone's ALSA capture device (path: the ALSA device name).
    AUDIO = "audio"


class DeviceStatus(StrEnum):
    """What probing one bus device found, in terms a user can act on."""

    OK = "ok"
    NOT_PRESENT = "not_present"
    PERMISSION_DENIED = "permission_denied"
    BUSY = "busy"
    ERROR = "error"


_NOT_PRESENT = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO})
_DENIED = frozenset({errno.EACCES, errno.EPERM})


def status_for_errno(err: int | None) -> DeviceStatus:
    """Map the errno of opening a device (node or ALSA PCM) to what a user can act on."""
    if err in _NOT_PRESENT:
        return DeviceStatus.NOT_PRESENT
    if err in _DENIED:
        return DeviceStatus.PERMISSION_DENIED
    if err == errno.EBUSY:
        return DeviceStatus.BUSY
    return DeviceStatus.ERROR


class Variant(StrEnum):
    """Which Pimoroni board answered."""

    ENVIRO = "enviro"
    ENVIRO_PLUS = "enviro_plus"


class SensorGroup(StrEnum):
    """Sensors read together and failing together."""

    CLIMATE = "climate"
    LIGHT = "light"
    GAS = "gas"
    PARTICULATES = "particulates"
    NOISE = "noise"


class Chip(StrEnum):
    """Chips on the board that can be found by probing."""

    BME280 = "bme280"
    LTR559 = "ltr559"
    ADS1015 = "ads1015"
    ADS1115 = "ads1115"
    PMS5003 = "pms5003"
    ST7735 = "st7735"


@dataclass(frozen=True, slots=True)
class DeviceProbe:
    """The result of probing one bus device node."""

    device: BusDevice
    path: str
    status: DeviceStatus
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Detection:
    """What was found on this machine: bus devices, chips, variant, identity."""

    devices: dict[BusDevice, DeviceProbe]
    chips: frozenset[Chip]
    variant: Variant | None
    identity: str
    simulated: bool = False
    particulate_frames: bool = False
    serial_console: bool = False

    @property
    def board_found(self) -> bool:
        """Tell whether an Enviro or Enviro+ answered."""
        return self.variant is not None

    @property
    def groups(self) -> frozenset[SensorGroup]:
        """Sensor groups this board can provide with the buses that are reachable."""
        groups: set[SensorGroup] = set()
        if Chip.BME280 in self.chips:
            groups.add(SensorGroup.CLIMATE)
        if Chip.LTR559 in self.chips:
            groups.add(SensorGroup.LIGHT)
        if Chip.ADS1015 in self.chips or Chip.ADS1115 in self.chips:
            groups.add(SensorGroup.GAS)
        if self.variant is Variant.ENVIRO_PLUS and (
            self.devices[BusDevice.UART].status is DeviceStatus.OK
        ):
            groups.add(SensorGroup.PARTICULATES)
        # Both variants carry the microphone; a detection from before it was probed
        # (an older agent's announcement) has no audio device.
        audio = self.devices.get(BusDevice.AUDIO)
        if self.board_found and audio is not None and audio.status is DeviceStatus.OK:
            groups.add(SensorGroup.NOISE)
        return frozenset(groups)

    @property
    def has_display(self) -> bool:
        """Tell whether the LCD can be driven (it needs SPI and the GPIO chip)."""
        return (
            self.board_found
            and self.devices[BusDevice.SPI].status is DeviceStatus.OK
            and self.devices[BusDevice.GPIO].status is DeviceStatus.OK
        )


@dataclass(frozen=True, slots=True)
class ClimateReading:
    """BME280: temperature in °C, pressure in hPa, relative humidity in %."""

    temperature: float
    pressure: float
    humidity: float


@dataclass(frozen=True, slots=True)
class LightReading:
    """LTR559: illuminance in lx and raw proximity counts (0-2047)."""

    lux: float
    proximity: int


@dataclass(frozen=True, slots=True)
class GasReading:
    """MICS6814 sensing resistances in ohms."""

    oxidising: float
    reducing: float
    nh3: float


@dataclass(frozen=True, slots=True)
class ParticulateReading:
    """PMS5003 frame: mass in µg/m³ (standard particle) and counts per 0.1 L of air."""

    pm1: int
    pm2_5: int
    pm10: int
    gt0_3um: int
    gt0_5um: int
    gt1_0um: int
    gt2_5um: int
    gt5_0um: int
    gt10um: int


@dataclass(frozen=True, slots=True)
class NoiseReading:
    """Microphone: A-weighted levels over one cycle in dB(A) re 20 µPa, uncalibrated.

    ``laeq`` is the equivalent continuous level, ``lafmax`` the highest level with the
    Fast (125 ms) time weighting; both follow the microphone's datasheet sensitivity.
    """

    laeq: float
    lafmax: float


@dataclass(frozen=True, slots=True)
class GroupResult[T]:
    """One sensor group's outcome in a cycle: a value, or the error that replaced it.

    ``read_at`` is when the value was measured (for particulates: when the frame
    arrived), ``None`` when there is no value. ``warming_up``: no value yet because the
    sensor is still in its expected warm-up after a start, which is not an error.

    ``sleeping`` (particulates only): the sensor is duty-cycled and ``value`` is its last
    sample, taken at ``read_at`` and held until the next sample is complete, while the
    sensor sleeps with its fan off (or wakes up for that sample). An old ``read_at``
    is then expected, not stale: the board itself reports an error instead once the
    next sample is overdue.
    """

    value: T | None
    error: str | None = None
    read_at: datetime | None = None
    warming_up: bool = False
    sleeping: bool = False

    @property
    def ok(self) -> bool:
        """Tell whether this group delivered a value."""
        return self.value is not None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one polling cycle read. A group the board lacks is ``None``."""

    read_at: datetime
    duration: float
    climate: GroupResult[ClimateReading] | None = None
    light: GroupResult[LightReading] | None = None
    gas: GroupResult[GasReading] | None = None
    particulates: GroupResult[ParticulateReading] | None = None
    noise: GroupResult[NoiseReading] | None = None
    cpu_temperature: float | None = None


@dataclass(slots=True)
class GroupHealth:
    """Running health of one sensor group, for diagnostics and repairs."""

    last_good: datetime | None = None
    error_count: int = 0
    consecutive_errors: int = 0
    last_error: str | None = None
    recoveries: int = 0
    extra: dict[str, int] = field(default_factory=dict)
