"""Small CPU helpers every model uses: thread counts, bfloat16 support, fusion across spaces."""
