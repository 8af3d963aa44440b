"""Sensor entities: one per metric the board has."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    LIGHT_LUX,
    PERCENTAGE,
    EntityCategory,
    UnitOfPressure,
    UnitOfSoundPressure,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .coordinator import EnviroCoordinator, QiotEnviroConfigEntry, QiotEnviroData
from .derived import AirQualityCategory
from .entity import QiotEnviroEntity
from .enviro.models import SensorGroup

try:  # Home Assistant 2026.10 and newer
    from homeassistant.const import UnitOfDensity

    MICROGRAMS_PER_CUBIC_METER: str = UnitOfDensity.MICROGRAMS_PER_CUBIC_METER
except ImportError:  # 2026.3 to 2026.9: the constant deprecated since
    from homeassistant.const import CONCENTRATION_MICROGRAMS_PER_CUBIC_METER

    MICROGRAMS_PER_CUBIC_METER = CONCENTRATION_MICROGRAMS_PER_CUBIC_METER

PARALLEL_UPDATES = 0

UNIT_KILOOHM = "kΩ"


@dataclass(frozen=True, kw_only=True)
class QiotEnviroSensorEntityDescription(SensorEntityDescription):
    """A sensor of the board: which group feeds it and how to read its value."""

    group: SensorGroup | None
    value_fn: Callable[[QiotEnviroData], StateType]
    attributes_fn: Callable[[QiotEnviroData], Mapping[str, Any] | None] | None = None
    # Whether the entry's options create this sensor (all do unless they say otherwise).
    exists_fn: Callable[[EnviroCoordinator], bool] = lambda _: True


def _climate(data: QiotEnviroData) -> object:
    return data.snapshot.climate.value if data.snapshot.climate else None


def _light(data: QiotEnviroData) -> object:
    return data.snapshot.light.value if data.snapshot.light else None


def _gas_kohm(name: str) -> Callable[[QiotEnviroData], StateType]:
    """Return a reader of one gas resistance in kΩ."""

    def value(data: QiotEnviroData) -> StateType:
        gas = data.snapshot.gas.value if data.snapshot.gas else None
        return None if gas is None else getattr(gas, name) / 1000.0

    return value


def _sampled_at(data: QiotEnviroData) -> Mapping[str, Any] | None:
    """Between two samples, say when the held particulate value was measured."""
    result = data.snapshot.particulates
    if result is None or not result.sleeping or result.read_at is None:
        return None
    return {"sampled_at": result.read_at.isoformat()}


def _gas_ratio(name: str) -> Callable[[QiotEnviroData], StateType]:
    """Return a reader of one gas ratio R/R0."""

    def value(data: QiotEnviroData) -> StateType:
        return data.gas_ratios.get(name)

    return value


def _pm(name: str) -> Callable[[QiotEnviroData], StateType]:
    """Return a reader of one particulate field."""

    def value(data: QiotEnviroData) -> StateType:
        particulates = data.snapshot.particulates.value if data.snapshot.particulates else None
        return None if particulates is None else int(getattr(particulates, name))

    return value


def _attr(
    reader: Callable[[QiotEnviroData], object], name: str
) -> Callable[[QiotEnviroData], StateType]:
    """Return a reader of one attribute of a group's value."""

    def value(data: QiotEnviroData) -> StateType:
        reading = reader(data)
        return None if reading is None else getattr(reading, name)

    return value


SENSORS: tuple[QiotEnviroSensorEntityDescription, ...] = (
    QiotEnviroSensorEntityDescription(
        key="temperature",
        group=SensorGroup.CLIMATE,
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda data: data.temperature,
    ),
    QiotEnviroSensorEntityDescription(
        key="raw_temperature",
        translation_key="raw_temperature",
        group=SensorGroup.CLIMATE,
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_attr(_climate, "temperature"),
    ),
    QiotEnviroSensorEntityDescription(
        key="pressure",
        group=SensorGroup.CLIMATE,
        device_class=SensorDeviceClass.ATMOSPHERIC_PRESSURE,
        native_unit_of_measurement=UnitOfPressure.HPA,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_attr(_climate, "pressure"),
    ),
    QiotEnviroSensorEntityDescription(
        key="humidity",
        group=SensorGroup.CLIMATE,
        device_class=SensorDeviceClass.HUMIDITY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda data: data.humidity,
    ),
    QiotEnviroSensorEntityDescription(
        key="dew_point",
        translation_key="dew_point",
        group=SensorGroup.CLIMATE,
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda data: data.dew_point,
    ),
    QiotEnviroSensorEntityDescription(
        key="illuminance",
        group=SensorGroup.LIGHT,
        device_class=SensorDeviceClass.ILLUMINANCE,
        native_unit_of_measurement=LIGHT_LUX,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_attr(_light, "lux"),
    ),
    QiotEnviroSensorEntityDescription(
        key="proximity",
        translation_key="proximity",
        group=SensorGroup.LIGHT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_attr(_light, "proximity"),
    ),
    *(
        QiotEnviroSensorEntityDescription(
            key=gas,
            translation_key=gas,
            group=SensorGroup.GAS,
            native_unit_of_measurement=UNIT_KILOOHM,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=1,
            value_fn=_gas_kohm(gas),
        )
        for gas in ("oxidising", "reducing", "nh3")
    ),
    *(
        QiotEnviroSensorEntityDescription(
            key=f"{gas}_ratio",
            translation_key=f"{gas}_ratio",
            group=SensorGroup.GAS,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=2,
            value_fn=_gas_ratio(gas),
        )
        for gas in ("oxidising", "reducing", "nh3")
    ),
    QiotEnviroSensorEntityDescription(
        key="pm1",
        group=SensorGroup.PARTICULATES,
        device_class=SensorDeviceClass.PM1,
        native_unit_of_measurement=MICROGRAMS_PER_CUBIC_METER,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_pm("pm1"),
        attributes_fn=_sampled_at,
    ),
    QiotEnviroSensorEntityDescription(
        key="pm25",
        group=SensorGroup.PARTICULATES,
        device_class=SensorDeviceClass.PM25,
        native_unit_of_measurement=MICROGRAMS_PER_CUBIC_METER,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_pm("pm2_5"),
        attributes_fn=_sampled_at,
    ),
    QiotEnviroSensorEntityDescription(
        key="pm10",
        group=SensorGroup.PARTICULATES,
        device_class=SensorDeviceClass.PM10,
        native_unit_of_measurement=MICROGRAMS_PER_CUBIC_METER,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_pm("pm10"),
        attributes_fn=_sampled_at,
    ),
    *(
        QiotEnviroSensorEntityDescription(
            key=f"particles_{size}",
            translation_key=f"particles_{size}",
            group=SensorGroup.PARTICULATES,
            # "particles/100 mL" comes from the translations (unit_of_measurement).
            state_class=SensorStateClass.MEASUREMENT,
            entity_registry_enabled_default=False,
            value_fn=_pm(field),
        )
        for size, field in (
            ("0_3", "gt0_3um"),
            ("0_5", "gt0_5um"),
            ("1_0", "gt1_0um"),
            ("2_5", "gt2_5um"),
            ("5_0", "gt5_0um"),
            ("10", "gt10um"),
        )
    ),
    QiotEnviroSensorEntityDescription(
        key="pms_fan_hours",
        translation_key="pms_fan_hours",
        group=SensorGroup.PARTICULATES,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.HOURS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        suggested_display_precision=1,
        value_fn=lambda data: data.fan_hours,
    ),
    QiotEnviroSensorEntityDescription(
        key="pm25_corrected",
        translation_key="pm25_corrected",
        group=SensorGroup.PARTICULATES,
        device_class=SensorDeviceClass.PM25,
        native_unit_of_measurement=MICROGRAMS_PER_CUBIC_METER,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        exists_fn=lambda coordinator: coordinator.pm25_correction,
        value_fn=lambda data: data.pm2_5_corrected,
    ),
    QiotEnviroSensorEntityDescription(
        # The EPA's NowCast AQI; translation_key only names its attribute (the entity
        # keeps its device class name).
        key="aqi",
        translation_key="aqi",
        group=SensorGroup.PARTICULATES,
        device_class=SensorDeviceClass.AQI,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: data.air_quality_index,
        attributes_fn=lambda data: {"pm2_5_input": data.pm2_5_input.value},
    ),
    QiotEnviroSensorEntityDescription(
        key="aqi_pm25_instant",
        translation_key="aqi_pm25_instant",
        group=SensorGroup.PARTICULATES,
        device_class=SensorDeviceClass.AQI,
        state_class=SensorStateClass.MEASUREMENT,
        entity_registry_enabled_default=False,
        value_fn=lambda data: data.instant_pm2_5_index,
    ),
    QiotEnviroSensorEntityDescription(
        key="aqi_category",
        translation_key="aqi_category",
        group=SensorGroup.PARTICULATES,
        device_class=SensorDeviceClass.ENUM,
        options=[category.value for category in AirQualityCategory],
        value_fn=lambda data: (
            data.air_quality_category.value if data.air_quality_category else None
        ),
    ),
    QiotEnviroSensorEntityDescription(
        # LAeq: the A-weighted equivalent continuous level over the cycle.
        key="noise_level",
        translation_key="noise_level",
        group=SensorGroup.NOISE,
        device_class=SensorDeviceClass.SOUND_PRESSURE,
        native_unit_of_measurement=UnitOfSoundPressure.WEIGHTED_DECIBEL_A,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda data: data.noise_level,
    ),
    QiotEnviroSensorEntityDescription(
        # LAFmax: the highest A-weighted level with the Fast (125 ms) time weighting.
        key="noise_max",
        translation_key="noise_max",
        group=SensorGroup.NOISE,
        device_class=SensorDeviceClass.SOUND_PRESSURE,
        native_unit_of_measurement=UnitOfSoundPressure.WEIGHTED_DECIBEL_A,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda data: data.noise_max,
    ),
    QiotEnviroSensorEntityDescription(
        key="cpu_temperature",
        translation_key="cpu_temperature",
        group=None,
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: data.cpu_temperature,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: QiotEnviroConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a sensor for every metric the detected board provides."""
    coordinator = entry.runtime_data
    assert coordinator.detection is not None
    groups = coordinator.detection.groups
    async_add_entities(
        QiotEnviroSensor(coordinator, description)
        for description in SENSORS
        if (description.group is None or description.group in groups)
        and description.exists_fn(coordinator)
    )


class QiotEnviroSensor(QiotEnviroEntity, SensorEntity):
    """One metric of the board."""

    entity_description: QiotEnviroSensorEntityDescription

    @property
    @override
    def available(self) -> bool:
        """Unavailable when the coordinator failed or this sensor's group did.

        A sensor that is still warming up after a start is available with no value
        (unknown): nothing has gone wrong yet.
        """
        if not super().available:
            return False
        group = self.entity_description.group
        if group is None:
            return self.coordinator.data.cpu_temperature is not None
        result = self.coordinator.data.group(group)
        return result is not None and (result.ok or result.warming_up)

    @property
    @override
    def native_value(self) -> StateType:
        """Return the metric from the latest cycle."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return what the metric was computed from, for the sensors that say so."""
        if (attributes_fn := self.entity_description.attributes_fn) is None:
            return None
        return attributes_fn(self.coordinator.data)

    @override
    def _state_signature(self) -> tuple[object, ...]:
        """Return the availability, the value and the attributes."""
        if not (available := self.available):
            return (False,)
        return (available, self.native_value, self.extra_state_attributes)
