/*
 * The program's registers at a system call, as the shim saves them and the C dispatcher sees them.
 * Shared by C and assembly: the offsets are the contract, the struct checks them.
 *
 * The shim pushes flags then rax..r15, on top of the trampoline's return address, so a shim frame
 * is the first RT_CTX_RIP + 8 bytes of a struct rt_ctx whose rip is that return address.
 */
#ifndef RT_CTX_H
#define RT_CTX_H

#define RT_CTX_R15	0
#define RT_CTX_R14	8
#define RT_CTX_R13	16
#define RT_CTX_R12	24
#define RT_CTX_RBP	32
#define RT_CTX_RBX	40
#define RT_CTX_R11	48
#define RT_CTX_R10	56
#define RT_CTX_R9	64
#define RT_CTX_R8	72
#define RT_CTX_RCX	80
#define RT_CTX_RDX	88
#define RT_CTX_RSI	96
#define RT_CTX_RDI	104
#define RT_CTX_RAX	112
#define RT_CTX_FLAGS	120
#define RT_CTX_RIP	128	/* where the program resumes after the call */
#define RT_CTX_RSP	136	/* the program's rsp at the call */
#define RT_CTX_SIZE	144

#define RT_SHIM_FRAME	136	/* bytes the shim pushes, return address included */
/* Kinds of child for rt_child_started (core/fork.c), shared with the assembly */
#define RT_CHILD_KIND_OWN	0	/* its own memory: a new statistics record */
#define RT_CHILD_KIND_VFORK	1	/* borrows the parent's memory until exec or exit */
#define RT_CHILD_KIND_THREAD	2	/* shares memory for good */
#define RT_NR_MAX	512	/* x86-64 system call numbers are below this */

#ifndef __ASSEMBLER__
#include <stdint.h>
struct rt_ctx {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rcx, rdx, rsi, rdi, rax;
	uint64_t flags, rip, rsp;
};
_Static_assert(__builtin_offsetof(struct rt_ctx, rax) == RT_CTX_RAX, "rax");
_Static_assert(__builtin_offsetof(struct rt_ctx, flags) == RT_CTX_FLAGS, "flags");
_Static_assert(__builtin_offsetof(struct rt_ctx, rip) == RT_CTX_RIP, "rip");
_Static_assert(__builtin_offsetof(struct rt_ctx, rsp) == RT_CTX_RSP, "rsp");
_Static_assert(sizeof(struct rt_ctx) == RT_CTX_SIZE, "size");
#endif

#endif
