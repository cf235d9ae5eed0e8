"""Pure domain rules: no boto3, no I/O."""
