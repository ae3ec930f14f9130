"""The flight recorder: a session's raw exchange traffic to a JSONL file, and its replay."""
