/*
 * Two i386 vfork wrappers, used by main.c to show why a vfork stub must not
 * keep its return address on the stack.
 *
 * Both return the raw syscall result (child pid, 0 in the child, or -errno)
 * and leave errno alone.
 *
 * naive_vfork: "mov $190,%eax; int $0x80; ret". Parent and child share the
 * stack, so the return address stays in a slot both will pop. The child
 * returns first (the parent is suspended), and its next call pushes its own
 * return address into that very slot. When the child execs or exits the
 * parent resumes inside this stub, and its `ret` pops the child's value.
 *
 * safe_vfork: the uClibc-ng / musl shape. The return address is popped into
 * %ecx before the syscall; registers are per task (the kernel restores each
 * task's own copy), so each task pushes back its own copy and returns
 * correctly whatever the other did to the stack.
 */
	.text

	.globl naive_vfork
	.type naive_vfork, @function
naive_vfork:
	mov $190, %eax		/* __NR_vfork */
	int $0x80
	ret
	.size naive_vfork, . - naive_vfork

	.globl safe_vfork
	.type safe_vfork, @function
safe_vfork:
	pop %ecx		/* return address: now private to each task */
	mov $190, %eax
	int $0x80
	push %ecx
	ret
	.size safe_vfork, . - safe_vfork

	.section .note.GNU-stack, "", @progbits
