"""Running a scan: plan the work units (``scan``), the one per-unit loop every executor runs (``unit``), the
local executor (``local``) and progress events (``progress``)."""
