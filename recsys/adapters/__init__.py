"""Adapters to the outside: Redis (the serving cache), RabbitMQ, object storage,
the event log, the MovieLens files and health probes.  Each takes its client or
settings as arguments; nothing here decides what to recommend."""
