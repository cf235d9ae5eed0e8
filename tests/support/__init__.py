"""Scaffolding shared by the unit, integration and e2e tests (and bench/): one Lambda context, one
handler loader, the `LedgerEntry` builders, one `git()` helper and the sample events by name
(`samples`). pyproject's pytest `pythonpath` puts the checkout's root on sys.path, so any test module
imports `tests.support.<module>`; bench/'s scripts put it there themselves."""
