"""The agent's settings: broker URL, TOML config file, redaction for logs."""

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

DEFAULT_CONFIG = Path("/etc/qiot-enviro-agent.toml")
DEFAULT_STATE_FILE = Path("/var/lib/qiot-enviro-agent/state.json")
DEFAULT_CYCLE = 10.0
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
# The keys a config file may hold, and the type each must have.
CONFIG_KEYS: dict[str, tuple[type, ...]] = {
    "broker": (str,),
    "ca_file": (str,),
    "simulated": (str,),
    "board_id": (str,),
    "cycle": (int, float),
    "state_file": (str,),
    "log_level": (str,),
    "birth_delay": (int, float),
}
SIMULATED_VARIANTS = ("enviro_plus", "enviro")


class SettingsError(ValueError):
    """Settings the agent cannot run with; the message says what to change."""


@dataclass(frozen=True, slots=True)
class BrokerURL:
    """Where the broker is and how to log in."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def redacted(self) -> str:
        """Return the URL for logs: the password is never shown."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = (
            f"{self.username}:***@"
            if self.password
            else (f"{self.username}@" if self.username else "")
        )
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"


def parse_broker_url(url: str) -> BrokerURL:
    """Parse ``mqtt://user:password@host:port`` (or ``mqtts://``); raise SettingsError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        # urlsplit's message quotes the URL's text, which may be part of the password.
        raise SettingsError(
            "invalid broker URL: write it as mqtt://user:password@host:port, with "
            "% @ : / # ? in the user name or password percent-encoded"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise SettingsError("the broker URL must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise SettingsError("the broker URL names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SettingsError("the broker URL must not have a path, query or fragment")
    return BrokerURL(
        host=parts.hostname,
        port=port or DEFAULT_PORTS[scheme],
        tls=scheme == "mqtts",
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything ``run`` needs."""

    broker: BrokerURL
    ca_file: Path | None = None
    simulated: str | None = None
    board_id: str | None = None
    cycle: float = DEFAULT_CYCLE
    state_file: Path = DEFAULT_STATE_FILE
    log_level: str = "INFO"
    birth_delay: float = 5.0  # at most this many seconds after Home Assistant's birth
    simulated_frame_interval: float | None = None
    # Tests: the simulated PMS5003's clock (and the board's particulate timings) run
    # this much faster than real time.
    simulated_pms_speed: float = 1.0

    def __post_init__(self) -> None:
        """Check what cannot work."""
        if self.simulated is not None and self.simulated not in SIMULATED_VARIANTS:
            raise SettingsError(f"--simulated must be one of {', '.join(SIMULATED_VARIANTS)}")
        if self.board_id is not None and self.simulated is None:
            raise SettingsError("--board-id is for a simulated board only (a Pi's is its serial)")
        if not 0.1 <= self.cycle <= 3600:
            raise SettingsError("the cycle must be between 0.1 and 3600 seconds")
        if not 0 <= self.birth_delay <= 60:
            raise SettingsError("birth_delay must be between 0 and 60 seconds")
        if self.ca_file is not None and not self.broker.tls:
            raise SettingsError("a CA file needs an mqtts:// broker URL")


def load_config(path: Path) -> dict[str, Any]:
    """Read a TOML config file; refuse unknown keys and a readable password."""
    try:
        with path.open("rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            data = tomllib.load(file)
    except OSError as err:
        raise SettingsError(f"cannot read config file {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"config file {path} is not valid TOML: {err}") from None
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise SettingsError(
            f"config file {path}: unknown key {unknown[0]!r} "
            f"(known: {', '.join(sorted(CONFIG_KEYS))})"
        )
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, CONFIG_KEYS[key]):
            raise SettingsError(f"config file {path}: {key} has the wrong type")
    broker = data.get("broker")
    if broker is not None and parse_broker_url(broker).password and mode & 0o077:
        raise SettingsError(
            f"config file {path} holds a broker password and other users can read it "
            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
        )
    return data
