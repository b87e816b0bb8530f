"""sisock benchmarks (issue 5): ``python -m bench`` or ``make bench``; see `bench.run`."""
