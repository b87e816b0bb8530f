"""sisock benchmarks: ``python -m bench`` or ``make bench``; see `bench.run`."""
