"""``qiot-enviro-agent``: run the agent for one board against an MQTT broker.

``run`` runs it in the foreground; ``install-service`` and ``uninstall-service`` make it
a systemd service (see :mod:`.service`).
"""

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .service import (
    DEFAULT_USER,
    ServiceError,
    System,
    agent_command,
    install_service,
    uninstall_service,
)
from .settings import (
    DEFAULT_CONFIG,
    DEFAULT_CYCLE,
    DEFAULT_STATE_FILE,
    SIMULATED_VARIANTS,
    Settings,
    SettingsError,
    load_config,
    parse_broker_url,
)
from .wire import valid_board_id

EXIT_FAILED = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qiot-enviro-agent",
        description="Publish a Pimoroni Enviro / Enviro+ board to Home Assistant over MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="read the board every cycle and publish")
    run.add_argument("--broker", help="mqtt://user:password@host:1883 or mqtts://...")
    run.add_argument("--ca-file", type=Path, help="CA certificate file for mqtts://")
    run.add_argument("--simulated", choices=SIMULATED_VARIANTS, help="run on the emulator")
    run.add_argument("--board-id", help="board id of a simulated board")
    run.add_argument("--cycle", type=float, help=f"seconds per cycle (default {DEFAULT_CYCLE:g})")
    run.add_argument("--state-file", type=Path, help=f"default {DEFAULT_STATE_FILE}")
    run.add_argument("--config", type=Path, help=f"TOML config file (default {DEFAULT_CONFIG})")
    run.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    run.add_argument("--simulated-frame-interval", type=float, help=argparse.SUPPRESS)
    run.add_argument("--birth-delay", type=float, help=argparse.SUPPRESS)
    install = commands.add_parser(
        "install-service", help="run the agent as a systemd service (as root)"
    )
    install.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help=f"default {DEFAULT_CONFIG}"
    )
    install.add_argument(
        "--user",
        default=DEFAULT_USER,
        help=f"system user, created if missing (default {DEFAULT_USER})",
    )
    commands.add_parser(
        "uninstall-service",
        help="stop, disable and remove the systemd service (keeps user, config and state)",
    )
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """Merge the config file (if any) and the command line (which wins); SettingsError."""
    config: dict[str, Any] = {}
    if args.config is not None:
        config = load_config(args.config)
    elif DEFAULT_CONFIG.exists():
        config = load_config(DEFAULT_CONFIG)
    for key in ("broker", "ca_file", "simulated", "board_id", "cycle", "state_file", "log_level"):
        value = getattr(args, key)
        if value is not None:
            config[key] = value
    if args.birth_delay is not None:
        config["birth_delay"] = args.birth_delay
    if "broker" not in config:
        raise SettingsError("no broker: give --broker mqtt://user:password@host or a config file")
    board_id = config.get("board_id")
    if board_id is not None and not valid_board_id(board_id):
        raise SettingsError(f"invalid board id {board_id!r} (letters, digits, _ . -; 64 at most)")
    simulated = config.get("simulated")
    if simulated is not None and simulated not in SIMULATED_VARIANTS:
        raise SettingsError(f"simulated must be one of {', '.join(SIMULATED_VARIANTS)}")
    level = str(config.get("log_level", "INFO")).upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"unknown log level {level!r}")
    return Settings(
        broker=parse_broker_url(config["broker"]),
        ca_file=Path(config["ca_file"]) if config.get("ca_file") else None,
        simulated=simulated,
        board_id=board_id,
        cycle=float(config.get("cycle", DEFAULT_CYCLE)),
        state_file=Path(config.get("state_file", DEFAULT_STATE_FILE)),
        log_level=level,
        birth_delay=float(config.get("birth_delay", 5.0)),
        simulated_frame_interval=args.simulated_frame_interval,
    )


def _say(line: str) -> None:
    """Tell the user what install-service / uninstall-service did."""
    print(line)  # noqa: T201


def _service(args: argparse.Namespace, system: System) -> int:
    """Install or uninstall the systemd service; a refusal is one line on stderr."""
    try:
        if args.command == "install-service":
            install_service(system, agent_command(), _say, config=args.config, user=args.user)
        else:
            uninstall_service(system, _say)
    except (ServiceError, SettingsError) as err:
        print(f"qiot-enviro-agent: {err}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    return 0


def main(argv: Sequence[str] | None = None, system: System | None = None) -> int:
    """Run the command line; return the exit code (``system``: the OS, for tests)."""
    args = _parser().parse_args(argv)
    if args.command != "run":
        return _service(args, system or System())
    try:
        settings = settings_from(args)
    except SettingsError as err:
        print(f"qiot-enviro-agent: {err}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from .runner import Agent  # noqa: PLC0415 - the board side loads only to run

    try:
        return asyncio.run(Agent(settings).run())
    except KeyboardInterrupt:
        return 0
