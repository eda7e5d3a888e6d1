"""The kernel: one module per concept (tasks, scheduling, memory, files...)."""
