"""Program loaders: parse and check an executable file (elf.py), lay out the
initial stack (stack.py). The kernel's exec places what they describe in RAM."""
