"""Broker URLs, config files and redaction."""

from pathlib import Path

import pytest

from custom_components.qiot_enviro.agent.settings import (
    Settings,
    SettingsError,
    load_config,
    parse_broker_url,
)


def test_broker_url_defaults_and_decoding() -> None:
    url = parse_broker_url("mqtt://us%40er:p%3Ass%2Fw@broker.local")
    assert (url.host, url.port, url.tls) == ("broker.local", 1883, False)
    assert (url.username, url.password) == ("us@er", "p:ss/w")
    assert "p:ss" not in url.redacted
    assert "p%3A" not in url.redacted
    assert url.redacted == "mqtt://us@er:***@broker.local:1883"
    assert "p:ss/w" not in repr(url)
    tls = parse_broker_url("mqtts://host:9000")
    assert (tls.port, tls.tls, tls.username) == (9000, True, None)
    assert parse_broker_url("mqtts://host").port == 8883


@pytest.mark.parametrize(
    "url", ["http://host", "mqtt://", "mqtt://host:99999", "mqtt://host/path", "host:1883"]
)
def test_bad_broker_urls(url: str) -> None:
    with pytest.raises(SettingsError):
        parse_broker_url(url)


def test_settings_checks() -> None:
    broker = parse_broker_url("mqtt://host")
    with pytest.raises(SettingsError, match="simulated"):
        Settings(broker=broker, board_id="x")
    with pytest.raises(SettingsError, match="mqtts"):
        Settings(broker=broker, ca_file=Path("/ca.pem"))
    with pytest.raises(SettingsError, match="cycle"):
        Settings(broker=broker, cycle=0)


def test_config_file(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('broker = "mqtt://u:pw@host"\ncycle = 5\n')
    config.chmod(0o600)
    assert load_config(config) == {"broker": "mqtt://u:pw@host", "cycle": 5}


def test_config_file_readable_password_refused(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('broker = "mqtt://u:secret@host"\n')
    config.chmod(0o644)
    with pytest.raises(SettingsError, match="chmod 600") as err:
        load_config(config)
    assert "secret" not in str(err.value)
    # Without a password the file may be world-readable.
    config.write_text('broker = "mqtt://host"\n')
    assert load_config(config)["broker"] == "mqtt://host"


def test_config_file_unknown_key_and_bad_toml(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('brokr = "mqtt://host"\n')
    with pytest.raises(SettingsError, match="unknown key 'brokr'"):
        load_config(config)
    config.write_text("cycle = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_config(config)
    config.write_text('cycle = "ten"\n')
    with pytest.raises(SettingsError, match="wrong type"):
        load_config(config)
    with pytest.raises(SettingsError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
