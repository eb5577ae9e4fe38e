#!/usr/bin/env bash
# Start LocalStack (S3 only) in the background, without Docker, unless something
# already answers on the gateway. Waits until it reports Ready. Idempotent.
#
#   scripts/localstack.sh          # start (or confirm running)
#   scripts/localstack.sh stop     # stop the instance this script started
#   scripts/localstack.sh status
#
# Env: LOCALSTACK_HOST_PORT (default 127.0.0.1:4566), LOCALSTACK_VENV,
#      LOCALSTACK_STATE_DIR (default .localstack/), LOCALSTACK_WAIT_S (default 90).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LOCALSTACK_VENV:-$ROOT/.venv-localstack}"
LISTEN="${LOCALSTACK_HOST_PORT:-127.0.0.1:4566}"
STATE_DIR="${LOCALSTACK_STATE_DIR:-$ROOT/.localstack}"
WAIT_S="${LOCALSTACK_WAIT_S:-90}"
PIDFILE="$STATE_DIR/localstack.pid"
LOGFILE="$STATE_DIR/localstack.log"
HEALTH_URL="http://$LISTEN/_localstack/health"

healthy() {
    # S3 is "available" before its first use and "running" after.
    curl -fsS -m 2 "$HEALTH_URL" 2>/dev/null | grep -Eq '"s3": *"(available|running)"'
}

case "${1:-start}" in
    status)
        if healthy; then echo "LocalStack S3 answering on $LISTEN"; exit 0; fi
        echo "LocalStack not answering on $LISTEN"; exit 1
        ;;
    stop)
        if [[ -f "$PIDFILE" ]]; then
            pid="$(cat "$PIDFILE")"
            if kill -0 "$pid" 2>/dev/null; then
                kill "$pid"
                for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            fi
            rm -f "$PIDFILE"
            echo "LocalStack stopped"
        else
            echo "No LocalStack started by this script (no $PIDFILE)"
        fi
        exit 0
        ;;
    start) ;;
    *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac

if healthy; then
    echo "LocalStack S3 already answering on $LISTEN"
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "error: $VENV missing; run scripts/setup_localstack.sh first" >&2
    exit 1
fi

mkdir -p "$STATE_DIR"
# A pid file from an earlier run whose process is still starting: wait for it
# instead of launching a second gateway on the same port.
if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "LocalStack (pid $(cat "$PIDFILE")) is starting; waiting"
else
    echo "Starting LocalStack S3 on $LISTEN (log: $LOGFILE)"
    SERVICES=s3 \
    GATEWAY_LISTEN="$LISTEN" \
    LOCALSTACK_HOST="$LISTEN" \
    SKIP_SSL_CERT_DOWNLOAD=1 \
    DISABLE_EVENTS=1 \
    FILESYSTEM_ROOT="$STATE_DIR/fs" \
    nohup "$VENV/bin/python" -m localstack.runtime.main >"$LOGFILE" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
fi

pid="$(cat "$PIDFILE")"
deadline=$((SECONDS + WAIT_S))
while (( SECONDS < deadline )); do
    if healthy; then
        echo "LocalStack ready (pid $pid)"
        exit 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "error: LocalStack exited; last log lines:" >&2
        tail -n 30 "$LOGFILE" >&2 || true
        rm -f "$PIDFILE"
        exit 1
    fi
    sleep 0.5
done
echo "error: LocalStack not ready after ${WAIT_S}s; see $LOGFILE" >&2
exit 1
