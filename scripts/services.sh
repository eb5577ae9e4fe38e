#!/usr/bin/env bash
# Make sure Redis (127.0.0.1:6379) and RabbitMQ (127.0.0.1:5672) answer,
# starting them with the machine's own packages if they are installed but
# stopped.  Never touches data in them.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ensure NAME PORT BINARY WAIT_S PACKAGE COMMAND...
ensure() {
    local name=$1 port=$2 binary=$3 wait_s=$4 package=$5
    shift 5
    if port_open "$port"; then
        echo "$name answering on 127.0.0.1:$port"
        return 0
    fi
    if ! command -v "$binary" >/dev/null 2>&1; then
        echo "error: $name is not running and $binary is not installed." >&2
        echo "  Debian/Ubuntu: sudo apt-get install $package   or: docker compose up -d ${name,,}" >&2
        return 1
    fi
    echo "Starting $name"
    "$@"
    for _ in $(seq 1 $((wait_s * 2))); do
        port_open "$port" && return 0
        sleep 0.5
    done
    echo "error: $name did not come up on port $port within ${wait_s}s" >&2
    return 1
}

mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
ensure Redis 6379 redis-server 30 redis-server \
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
ensure RabbitMQ 5672 rabbitmq-server 90 rabbitmq-server rabbitmq-server -detached
