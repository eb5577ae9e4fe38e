"""The domain: events, ids, ranking rules and errors. Plain Python, no I/O."""
