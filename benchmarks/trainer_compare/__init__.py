"""Training-throughput benchmark: this project's Lightning training against a plain
``transformers.Trainer`` on the same tokenised windows (``python -m benchmarks.throughput``,
``benchmarks/throughput.py``). Each side runs in its own subprocess (``bench.worker``) so peak
memory does not mix; ``bench.runner`` alternates sides and reports medians."""
