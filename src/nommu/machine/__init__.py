"""The hardware: a CPU (Unicorn) over one flat physical RAM, and nothing else.

Only this package and `nommu.arch` import unicorn.
"""
