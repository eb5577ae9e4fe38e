#!/usr/bin/env bash
# Install the Debian packages the tests drive, if they are missing:
#   chromium        the headless browser of tests/e2e (`playwright install`
#                   downloads a browser, which does not work offline; the tests
#                   drive /usr/bin/chromium instead)
#   docker-compose  `docker-compose config -q` in tests/deploy (no engine needed)
#   wrk             the HTTP load generator of `make bench` (C, so it leaves
#                   the CPU to the server under test)
set -euo pipefail

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
missing=()
[[ -x "$CHROMIUM" ]] || missing+=(chromium fonts-dejavu-core)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)

if (( ${#missing[@]} )); then
    SUDO=""
    if [[ "$(id -u)" -ne 0 ]]; then
        SUDO="sudo"
    fi
    echo "Installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "chromium: $("$CHROMIUM" --version 2>/dev/null)"
echo "docker-compose: $(docker-compose version --short 2>/dev/null)"
echo "wrk: $(wrk --version 2>&1 | head -1)"
