"""The benchmarks: `make bench` (bench/handlers.py), `make bench-scale` (bench/ledger_scale.py) and
`make fuzz` (bench/fuzz_figures.py) run as scripts; the other modules are their parts, by job."""
