"""Benchmarks (not tests): ``python -m bench.thoonk_bench``."""
