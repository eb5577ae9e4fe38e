#!/usr/bin/env bash
# Make sure Redis (127.0.0.1:6379) and RabbitMQ (127.0.0.1:5672) answer,
# starting them with the machine's own packages if they are installed but
# stopped.  Never touches data in them.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
    local port=$1 name=$2 seconds=$3
    for _ in $(seq 1 $((seconds * 2))); do
        port_open "$port" && return 0
        sleep 0.5
    done
    echo "error: $name did not come up on port $port within ${seconds}s" >&2
    return 1
}

if port_open 6379; then
    echo "Redis answering on 127.0.0.1:6379"
elif command -v redis-server >/dev/null 2>&1; then
    echo "Starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_port 6379 Redis 30
else
    echo "error: Redis is not running and redis-server is not installed." >&2
    echo "  Debian/Ubuntu: sudo apt-get install redis-server   or: docker compose up -d redis" >&2
    exit 1
fi

if port_open 5672; then
    echo "RabbitMQ answering on 127.0.0.1:5672"
elif command -v rabbitmq-server >/dev/null 2>&1; then
    echo "Starting RabbitMQ"
    rabbitmq-server -detached
    wait_port 5672 RabbitMQ 90
else
    echo "error: RabbitMQ is not running and rabbitmq-server is not installed." >&2
    echo "  Debian/Ubuntu: sudo apt-get install rabbitmq-server   or: docker compose up -d rabbitmq" >&2
    exit 1
fi
