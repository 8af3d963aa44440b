# Environment for running Home Assistant and pip/uv from this project's venv.
# Sourced by scripts/develop and scripts/test.

# PyPI may sit behind a TLS-intercepting proxy; uv (used by Home Assistant to install
# the packages of default_config at first start) reads SSL_CERT_FILE only.
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    export SSL_CERT_FILE="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
fi
# With the private Python from .toolchain, C/C++ extensions Home Assistant builds at first
# start (pymicro-vad, pyspeex-noise) need its headers; -idirafter keeps newer system
# headers first (see ../shared/docs/TOOLCHAIN.md).
_qiot_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -d "$_qiot_root/.toolchain/python3.14/usr/include" ]]; then
    export CPPFLAGS="${CPPFLAGS:-} -idirafter $_qiot_root/.toolchain/python3.14/usr/include"
    export CFLAGS="${CFLAGS:-} -I$_qiot_root/.toolchain/python3.14/usr/include"
fi
unset _qiot_root
