"""Running a loaded 4M model: one-pass predictions, chained generation, fusion across spaces."""
