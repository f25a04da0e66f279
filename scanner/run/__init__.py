"""Running a scan: planning work units, the one per-unit loop, the local executor."""
