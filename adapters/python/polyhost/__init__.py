"""polyhost: the Python runtime for polyhost plugin workers."""
