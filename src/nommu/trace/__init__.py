"""Watching the machine: syscall traces, kernel events, fault reports."""
