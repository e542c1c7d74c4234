"""Speed benchmarks. Run ``python -m benchmarks [name ...]``; each prints rows with a
baseline measured in the same run. Goals live here, not in timed tests."""
