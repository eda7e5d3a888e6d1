"""Guest architectures: one module each, holding everything the kernel must
not know about a particular CPU (registers, the syscall trap, TLS descriptors,
how a program starts). Only i386 exists today."""
