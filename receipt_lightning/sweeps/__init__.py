"""Hyperparameter sweeps on the job queue: one job per combination, a sweep record in the sweeps
table, and status aggregation for ``receipt-lightning sweep-status``.

Modules: ``ids`` (sweep and job ids, parameter space; pure), ``records`` (the sweeps table),
``submit`` (queue the combinations), ``summary`` (counts, metrics, best trial), ``render`` (the
table), ``watch`` (refresh until every trial has ended).
"""
