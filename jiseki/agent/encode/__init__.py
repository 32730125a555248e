"""From captured frames to UPDATE operations: change detection, rectangles, codecs (pure, no I/O)."""
