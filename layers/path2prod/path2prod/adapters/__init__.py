"""Adapters: the only modules that talk to AWS. Each takes an optional client for tests."""
