/*
 * base/: the process as every room reads it. The config block and where the program was loaded,
 * the SUD net's state, which kind of child this process is, its ids (pids.c), which calls the shim
 * hands to the dispatcher (calls.c), the counts (stats.c), the busy flag and the calls a checkpoint
 * may break off (restartable.c), and the one way the runtime ends a process (exit.c).
 * Every symbol is hidden (-fvisibility=hidden) and named rt_.
 */
#ifndef RT_BASE_H
#define RT_BASE_H

#include <stdint.h>
#include <stddef.h>
#include <asm/unistd_64.h>
#include "include/ckpt_contract.h"
#include "arch/x86_64/abi.h"
#include "arch/x86_64/ctx.h"
#include "arch/x86_64/syscall.h"
#include "lib/lib.h"

/* extern declarations too, so that every reference is PC-relative and needs no GOT */
#pragma GCC visibility push(hidden)

/* self.c (rt_config itself is the block the rewriter writes into the output) */
extern const struct ckpt_config rt_config;
extern uint64_t rt_load_bias;
extern uint64_t rt_entry_target;
extern long rt_sud_on;	/* the SUD net is armed in this process (8 bytes: the restorer pokes it) */
extern volatile uint8_t rt_sud_selector;
void rt_arm_sud(void);
extern int32_t rt_threads;			/* live threads of this process */
extern uint8_t rt_child_shares_memory;		/* RT_CHILD_KIND_* of the child being created */
extern volatile uint64_t rt_restarted;		/* made from an image (poked to 1 by the restorer) */
extern volatile uint64_t rt_restart_released;	/* futex: the restart is done, its threads may run (poked to 0) */

/* calls.c: rt_syscall_class values: 0 the shim makes the call itself, otherwise the dispatcher does */
#define RT_CLASS_DISPATCH	1
#define RT_CLASS_PIDS		2	/* only in processes made from an image: see pids.c */
#define RT_CLASS_REMOTE		3	/* file calls of a job on the shadow: see remote/vfiles.c */
extern uint8_t rt_syscall_class[RT_NR_MAX];

/* stats.c */
extern uint64_t rt_counts[RT_NR_MAX];
extern uint64_t rt_count_other;
extern uint64_t rt_trapped;
void rt_stats_init(char **envp);
void rt_stats_flush(const char *end);
void rt_stats_reset(void);

/* pids.c: ids as the program sees them (8-byte fields: the restorer pokes the real ones) */
struct rt_ids { uint64_t pid, ppid, tid; };
extern struct rt_ids rt_ids_virtual, rt_ids_real;
void rt_pids_init(void);
void rt_pids_child(void);
void rt_pids_route(int for_image);
int rt_pids_take(const struct rt_ctx *c, long nr);
long rt_sys_pids(const struct rt_ctx *c, long nr);

/* threads.c: the runtime's state of each thread, in a table keyed by the kernel's tid */
struct rt_rseq { uint64_t addr; uint32_t len, sig; };	/* a thread's rseq registration */
struct rt_thread {
	int64_t tid;			/* the kernel's (the key); 0 free, -1 freed */
	int64_t vtid;			/* the tid the program knows */
	volatile uint32_t busy;		/* dispatch depth: runtime bookkeeping under way, checkpoints wait */
	volatile int pending;		/* a checkpoint signal held while busy */
	volatile int raised;		/* rt_busy_leave raised it: not the program's own */
	uint32_t remote_depth;		/* inside the remote state's lock (remote/connection.c) */
	struct rt_rseq rseq;
	uint64_t prog_blocked;		/* the runtime's signals the program believes it blocked (sys/signals.c) */
	uint64_t vfork_resume;		/* where the thread goes on after its vfork (core/fork.c) */
	uint64_t remote_mask;		/* its signal mask before it took the remote lock */
	uint8_t shared_child;		/* a vfork child's, running in its parent's memory */
};
#define RT_THREAD_SLOTS	1024
extern struct rt_thread rt_thread_table[RT_THREAD_SLOTS];
extern uint32_t rt_thread_saved[RT_THREAD_SLOTS];	/* slots a checkpoint saved (indices) */
extern uint32_t rt_thread_saved_count;
struct rt_thread *rt_thread_self(void);
struct rt_thread *rt_thread_find(long tid);
void rt_thread_started(void);
void rt_thread_release(struct rt_thread *t);
void rt_threads_forked(uint64_t prog_blocked);
long rt_thread_real(long vtid);
int rt_in_shared_child(void);
void rt_vfork_child_gone(long pid);

/* restartable.c */
void rt_busy_leave(struct rt_thread *self);
int rt_hold_while_busy(struct rt_thread *self, int sig);
void rt_checkpoint_signal_taken(void);
int rt_raised_by_busy_leave(struct rt_thread *self, int sig);
long rt_call_restartable(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
long rt_sleep_restartable(long nr, long clock, long flags, const void *req, void *rem);

/* exit.c */
_Noreturn void rt_exit(int status);
_Noreturn void rt_die(const char *msg);

#pragma GCC visibility pop
#endif
