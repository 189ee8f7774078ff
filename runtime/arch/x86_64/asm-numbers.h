/*
 * Kernel numbers the assembly needs (pie/restorer.S, syscall-shim/) whose UAPI headers declare
 * structs too, so that the assembler cannot include them (ckpt/restore.c checks them against the
 * UAPI headers at compile time), and the futex wait both use.
 */
#ifndef RT_ARCH_ASM_NUMBERS_H
#define RT_ARCH_ASM_NUMBERS_H

#define RT_PR_SET_SYSCALL_USER_DISPATCH	59	/* linux/prctl.h */
#define RT_PR_SYS_DISPATCH_ON		1
#define RT_FUTEX_WAIT_PRIVATE		128	/* linux/futex.h: FUTEX_WAIT | FUTEX_PRIVATE_FLAG */
#define RT_FUTEX_WAKE_PRIVATE		129	/* FUTEX_WAKE | FUTEX_PRIVATE_FLAG */

#ifdef __ASSEMBLER__
	/* Until the 32-bit word at \word (a memory operand lea takes) is not 0, futex waits on it */
	.macro	WAIT_WHILE_ZERO word
.Lwait\@:
	cmpl	$0, \word
	jne	.Lwaited\@
	lea	\word, %rdi
	mov	$RT_FUTEX_WAIT_PRIVATE, %esi
	xor	%edx, %edx
	xor	%r10d, %r10d
	mov	$__NR_futex, %eax
	syscall
	jmp	.Lwait\@
.Lwaited\@:
	.endm
#endif

#endif
