"""Program loaders: parse and check an executable file (elf.py; bflt.py for
bFLT flat files, chosen by the file's magic; fdpic.py for an ELF-FDPIC
program's load map), lay out the initial stack (stack.py). The kernel's
exec places what they describe in RAM."""
