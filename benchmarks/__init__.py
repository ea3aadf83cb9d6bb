"""`make bench`: sparsekit against its baselines, measured side by side."""
