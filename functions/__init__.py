"""Lambda functions: thin adapters around the ``recsys`` core."""
