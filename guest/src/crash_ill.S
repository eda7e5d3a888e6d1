/*
 * crash_ill - an undefined instruction.
 *
 * Usage: crash_ill
 * main executes ud2 at once. Expected: killed by SIGILL (shell status 132),
 * with no output. Written in assembly so the faulting instruction is exactly
 * main's first one (after the frame setup), for stack symbolization tests.
 */
	.text
	.globl main
	.type main, @function
main:
	push %ebp
	mov %esp, %ebp
	ud2
	.size main, . - main

	.section .note.GNU-stack, "", @progbits
