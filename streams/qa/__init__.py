"""Tools that drive a pipeline from outside, for QA and model engineers, demos and tests:
recording files (and the labelled transactions they hold), record, replay, verify, the
pipeline benchmark, the soak run, the demo, the worker supervisor and test helpers."""

__all__ = [
    "batch_scores",
    "bench",
    "data_bench",
    "data_feed",
    "demo",
    "memory_samples",
    "recorded_data",
    "recorder",
    "recording_file",
    "replay",
    "soak_feed",
    "soak_report",
    "soak_run",
    "supervisor",
    "testing",
    "verify",
]
