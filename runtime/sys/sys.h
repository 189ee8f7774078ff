/*
 * sys/: system calls the runtime emulates or must watch, each keeping the state the program's
 * calls built: brk after a restart (brk.c), the reserved signals' dispositions and mask
 * (signals.c), the kind of child a clone makes (clone.c), the rseq registration (rseq.c), the
 * paths of inotify watches (inotify.c), the System V queues and semaphore sets used (sysvipc.c),
 * the robust mutexes of a thread of an image that exits (robust.c).
 */
#ifndef RT_SYS_H
#define RT_SYS_H

#include "base/base.h"
#include "arch/x86_64/shim.h"

#pragma GCC visibility push(hidden)

/* brk.c */
extern volatile uint64_t rt_brk_top;	/* after a restart the runtime owns brk */
long rt_sys_brk(uint64_t addr);

/* signals.c */
typedef void (*rt_signal_handler)(int sig, void *si, void *uc);
extern uint64_t rt_reserved_mask;
void rt_reserve_signal(int sig, rt_signal_handler handler, unsigned long flags);
void rt_reserve_signal_masked(int sig, rt_signal_handler handler, unsigned long flags, uint64_t mask);
void rt_chain(int sig, void *si, void *uc);
int rt_has_own_action(int sig);
long rt_sys_sigaction(long sig, const struct rt_kernel_sigaction *act,
		      struct rt_kernel_sigaction *old, long size);
long rt_sys_sigprocmask(struct rt_thread *self, long how, const uint64_t *set, uint64_t *old, long size);
long rt_sys_sigsuspend(const uint64_t *set, long size);

/* clone.c */
enum rt_child_kind { RT_CHILD_OWN_MEMORY = RT_CHILD_KIND_OWN, RT_CHILD_VFORK = RT_CHILD_KIND_VFORK,
	RT_CHILD_THREAD = RT_CHILD_KIND_THREAD };
enum rt_child_kind rt_child_kind(uint64_t flags);
int rt_clone_shape(const struct rt_ctx *c, long nr, uint64_t *flags, uint64_t *stack);

/* rseq.c: the program's rseq registration, which the kernel writes to at any reschedule */
long rt_sys_rseq(struct rt_thread *self, uint64_t addr, uint32_t len, int flags, uint32_t sig);
void rt_rseq_pause(const struct rt_rseq *r);
void rt_rseq_resume(const struct rt_rseq *r);

/* sysvipc.c: the System V message queues and semaphore sets the program uses */
#define RT_SYSV_MSG	1
#define RT_SYSV_SEM	2
struct rt_sysv_use { uint32_t kind; int32_t id; uint32_t undo; };	/* kind 0: a free entry */
void rt_sysv_before(const struct rt_ctx *c, long nr);
void rt_sysv_after(const struct rt_ctx *c, long nr, long r);
const struct rt_sysv_use *rt_sysv_use(int i);

/* inotify.c: the paths of the program's inotify watches, which the kernel does not show */
long rt_sys_inotify_add_watch(long fd, const char *path, uint32_t mask);
long rt_sys_inotify_rm_watch(long fd, long wd);
const char *rt_watch_candidate(int *i, int32_t wd, uint32_t *flags);

/* robust.c */
void rt_robust_exit(const struct rt_thread *self);

#pragma GCC visibility pop
#endif
