"""The bottom layer: run-folder and small-file I/O on a local path or an s3:// URI (one implementation)."""
