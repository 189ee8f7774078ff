/*
 * The C side of syscall-shim/: the assembly that the trampolines, the kernel's signal delivery and
 * the fork paths enter. The shim calls up into core/ by symbol (it is the entry, as a kernel calls
 * a program's start); C reaches these helpers of the shim through this header.
 */
#ifndef RT_ARCH_SHIM_H
#define RT_ARCH_SHIM_H

#include <stdint.h>
#include "arch/x86_64/ctx.h"

#pragma GCC visibility push(hidden)

/* entry.S */
extern const char rt_shim_after_syscall[];	/* the fast path's return from its syscall */
void rt_restorer(void);			/* sa_restorer of the runtime's own handlers */
void rt_restart_finish(void);		/* rt_sigreturn from the allowed region after a restart */
void rt_thread_restart_finish(void);	/* the same for every other thread (pie/restorer.S) */
void rt_restart_own_signals(void);	/* C, from rt_thread_restart_finish: before any thread runs the program */

/* fork.S */
long rt_clone_on_stack(const struct rt_ctx *c, uint64_t child_sp);
_Noreturn void rt_vfork_parent(const struct rt_ctx *c);
_Noreturn void rt_sigreturn_at(uint64_t rsp);
_Noreturn void rt_unmap_stack_and_exit(uint64_t addr, uint64_t len);

/* stack.S */
void rt_call_on_stack(void (*fn)(void *), void *arg, void *stack_top);

#pragma GCC visibility pop
#endif
