/*
 * Kernel numbers the assembly needs (pie/restorer.S, syscall-shim/) whose UAPI headers declare
 * structs too, so that the assembler cannot include them. ckpt/restore.c checks them against the
 * UAPI headers at compile time.
 */
#ifndef RT_ARCH_ASM_NUMBERS_H
#define RT_ARCH_ASM_NUMBERS_H

#define RT_PR_SET_SYSCALL_USER_DISPATCH	59	/* linux/prctl.h */
#define RT_PR_SYS_DISPATCH_ON		1
#define RT_FUTEX_WAIT_PRIVATE		128	/* linux/futex.h: FUTEX_WAIT | FUTEX_PRIVATE_FLAG */
#define RT_FUTEX_WAKE_PRIVATE		129	/* FUTEX_WAKE | FUTEX_PRIVATE_FLAG */

#endif
