"""Diagnostics download: what was detected, how each sensor group is doing, timings."""

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .coordinator import QiotEnviroConfigEntry

# The board identity is the Pi's serial number: personal enough to keep out of reports.
TO_REDACT = {"board_id", "identity", "serial_number", "unique_id"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: QiotEnviroConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    coordinator = entry.runtime_data
    # The board's own detection is kept up to date (the PMS5003 counts once it sends).
    detection = coordinator.current_detection()
    data = coordinator.data
    return {
        "entry": async_redact_data(
            {
                "data": dict(entry.data),
                "options": dict(entry.options),
                "unique_id": entry.unique_id,
            },
            TO_REDACT,
        ),
        "detection": async_redact_data(
            {
                "variant": detection.variant if detection else None,
                "simulated": detection.simulated if detection else None,
                "identity": detection.identity if detection else None,
                "chips": sorted(detection.chips) if detection else [],
                "groups": sorted(detection.groups) if detection else [],
                "particulate_frames": detection.particulate_frames if detection else None,
                "has_display": detection.has_display if detection else None,
            },
            TO_REDACT,
        ),
        "devices": {
            device.value: {"path": probe.path, "status": probe.status.value, "detail": probe.detail}
            for device, probe in coordinator.probes.items()
        },
        "serial_console": coordinator.serial_console,
        "health": {
            group.value: {
                **asdict(health),
                "last_good": health.last_good.isoformat() if health.last_good else None,
            }
            for group, health in coordinator.health().items()
        },
        "cycles": {
            "last_durations_ms": [round(d * 1000, 2) for d in coordinator.cycle_durations],
            "last_update_success": coordinator.last_update_success,
            "update_interval_s": coordinator.update_interval.total_seconds()
            if coordinator.update_interval
            else None,
        },
        "gas_baseline": {
            "learning": coordinator.baseline.learning,
            "r0_ohm": coordinator.baseline.r0,
        },
        "last_values": {
            "temperature": data.temperature if data else None,
            "humidity": data.humidity if data else None,
            "air_quality_index": data.air_quality_index if data else None,
        },
    }
