"""System call handlers: thin `sys_<name>` functions that fetch and check
their arguments and call the kernel mechanism (xv6's two layers).
`table.py` maps each syscall number to its row; `dispatch.py` is the
crossing from the CPU into them."""
