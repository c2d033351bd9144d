"""Running a loaded 4M model: one-pass predictions and chained generation."""
