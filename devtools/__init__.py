"""Developer tooling: the local runner, the scheduler stand-in, the page server and
deploy helper, and the ``recsys`` command line.  Never part of a Lambda zip."""

HOW_TO_START = """\
Redis (127.0.0.1:6379) and RabbitMQ (127.0.0.1:5672) must be running. Start them with
  Debian/Ubuntu:  sudo apt-get install redis-server rabbitmq-server
                  redis-server --daemonize yes && rabbitmq-server -detached
  Docker:         docker compose up -d redis rabbitmq
or point RECSYS_REDIS_URL / RECSYS_RABBITMQ_URL at running servers."""
