/* Internal interface of the runtime. Every symbol is hidden (-fvisibility=hidden) and named rt_. */
#ifndef RT_H
#define RT_H

/* extern declarations too, so that every reference is PC-relative and needs no GOT */
#pragma GCC visibility push(hidden)

#include <stdint.h>
#include <stddef.h>
#include <asm/unistd_64.h>
#include "ckpt_contract.h"
#include "rt_ctx.h"
#include "../arch/x86_64/syscall.h"

/* RT_NR_MAX lives in rt_ctx.h: the shim needs it too */
#define RT_PATH_MAX	4096

/* How a call arrived: through a patched site, or trapped by the SUD net */
enum rt_via { RT_VIA_PATCH, RT_VIA_SUD };

/* Kernel ABI structures the runtime needs (no libc headers in a freestanding build) */
struct rt_kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};
#define RT_SA_SIGINFO	0x00000004UL
#define RT_SA_ONSTACK	0x08000000UL
#define RT_SA_RESTART	0x10000000UL
#define RT_SA_NODEFER	0x40000000UL
#define RT_SA_RESTORER	0x04000000UL
#define RT_SIG_DFL	((void *)0)
#define RT_SIG_IGN	((void *)1)
#define RT_SIGTRAP	5
#define RT_SIGSYS	31
#define RT_SIG_BLOCK	0
#define RT_SIG_UNBLOCK	1
#define RT_SIG_SETMASK	2
#define RT_SIGBIT(s)	(1ULL << ((s) - 1))

/* struct stat as the x86-64 kernel fills it */
struct rt_stat {
	uint64_t dev, ino, nlink;
	uint32_t mode, uid, gid, pad0;
	uint64_t rdev;
	int64_t size, blksize, blocks;
	uint64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
	int64_t reserved[3];
};
#define RT_TCGETS	0x5401
#define RT_TCSETS	0x5402
#define RT_TIOCGWINSZ	0x5413
#define RT_SIGWINCH	28

/* ucontext_t and siginfo_t as the kernel lays them out on x86-64 */
#define RT_UC_GREGS	40	/* byte offset of mcontext.gregs in ucontext */
#define RT_UC_SIGMASK	296
enum rt_greg { RT_REG_R8, RT_REG_R9, RT_REG_R10, RT_REG_R11, RT_REG_R12, RT_REG_R13, RT_REG_R14,
	RT_REG_R15, RT_REG_RDI, RT_REG_RSI, RT_REG_RBP, RT_REG_RBX, RT_REG_RDX, RT_REG_RAX,
	RT_REG_RCX, RT_REG_RSP, RT_REG_RIP, RT_REG_EFL };
#define RT_SI_CODE	8
#define RT_SI_PID	16	/* sent by kill, tgkill, sigqueue */
#define RT_SI_TIMERID	16	/* SI_TIMER: the kernel's timer id */
#define RT_SI_USER	0
#define RT_SI_QUEUE	(-1)
#define RT_SI_TIMER	(-2)
#define RT_SI_TKILL	(-6)
#define RT_SYS_USER_DISPATCH 2	/* si_code of a SIGSYS raised by the SUD net */

/* start.c */
extern const struct ckpt_config rt_config;
extern uint64_t rt_load_bias;
extern uint64_t rt_entry_target;
extern long rt_sud_on;	/* the SUD net is armed in this process (8 bytes: the restorer pokes it) */
void rt_arm_sud(void);

/* dispatch.c */
void rt_dispatch(struct rt_ctx *c, enum rt_via via);
void rt_shim_dispatch(struct rt_ctx *frame);

/* fork.c and syscall-shim/fork.S */
long rt_dispatch_clone(struct rt_ctx *c, long nr);
long rt_clone_on_stack(const struct rt_ctx *c, uint64_t child_sp);
_Noreturn void rt_vfork_parent(const struct rt_ctx *c);
_Noreturn void rt_sigreturn_at(uint64_t rsp);
void rt_child_started(int shares_memory);
extern volatile uint8_t rt_in_shared_child;
extern int32_t rt_threads;
extern uint8_t rt_child_shares_memory;
extern uint64_t rt_vfork_resume;

/* stats.c */
extern uint64_t rt_counts[RT_NR_MAX];
extern uint64_t rt_count_other;
extern uint64_t rt_trapped;
/* rt_syscall_class values: 0 the shim makes the call itself, otherwise the dispatcher does */
#define RT_CLASS_DISPATCH	1
#define RT_CLASS_PIDS		2	/* only in processes made from an image: see pids.c */
#define RT_CLASS_REMOTE		3	/* file calls of a job on the shadow: see vfiles.c */
extern uint8_t rt_syscall_class[RT_NR_MAX];
void rt_stats_init(char **envp);
void rt_stats_flush(const char *end);
void rt_stats_reset(void);

/* pids.c: ids as the program sees them (8-byte fields: the restorer pokes the real ones) */
struct rt_ids { uint64_t pid, ppid, tid; };
extern struct rt_ids rt_ids_virtual, rt_ids_real;
void rt_pids_init(void);
void rt_pids_child(void);
void rt_pids_route(int for_image);
long rt_sys_pids(const struct rt_ctx *c, long nr);

/* signals.c */
void rt_chain(int sig, void *si, void *uc);
int rt_has_own_action(int sig);
void rt_signals_init(void);
long rt_sys_sigaction(long sig, const struct rt_kernel_sigaction *act,
		      struct rt_kernel_sigaction *old, long size);
long rt_sys_sigprocmask(long how, const uint64_t *set, uint64_t *old, long size);
long rt_sys_sigsuspend(const uint64_t *set, long size);
void rt_restorer(void);

/* maps.c */
struct rt_map {
	uint64_t start, end, offset;
	uint32_t prot, shared;
	char path[256];
};
long rt_read_maps(struct rt_map *out, long max, char *buf, size_t size);
uint32_t rt_map_role(const struct rt_map *m);
int rt_map_is_vsyscall(const struct rt_map *m);
int rt_streq(const char *a, const char *b);
int rt_starts_with(const char *s, const char *prefix);

/* crc32c.c */
uint32_t rt_crc32c(uint32_t crc, const void *data, size_t n);

/* checkpoint.c, restore.c */
void rt_checkpoint_init(char **envp);
_Noreturn void rt_restart(const char *path, char **envp);
extern volatile uint32_t rt_dispatch_busy;	/* runtime bookkeeping under way: checkpoints wait */
void rt_busy_leave(void);
void rt_checkpoint_forked(void);
long rt_call_restartable(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
long rt_sleep_restartable(long nr, long clock, long flags, const void *req, void *rem);
extern long rt_ckpt_timer;		/* the CKPT_INTERVAL timer's kernel id, -1 when none */
long rt_ckpt_timer_arm(uint32_t seconds, int sig);
void rt_restart_finish(void);
extern const char rt_shim_after_syscall[];
uint64_t rt_binary_id(void);
extern int rt_ckpt_signal;
extern uint64_t rt_reserved_mask;
extern volatile uint64_t rt_restarted;	/* poked to 1 by the restorer */
extern volatile uint64_t rt_brk_top;	/* after a restart the runtime owns brk */
long rt_sys_brk(uint64_t addr);
void rt_call_on_stack(void (*fn)(void *), void *arg, void *stack_top);
extern const char rt_restorer_code_start[], rt_restorer_code_end[];
extern volatile uint8_t rt_sud_selector;

/* rseq.c: the program's rseq registration, which the kernel writes to at any reschedule */
struct rt_rseq { uint64_t addr; uint32_t len, sig; };
extern struct rt_rseq rt_rseq_reg;
long rt_sys_rseq(uint64_t addr, uint32_t len, int flags, uint32_t sig);
void rt_rseq_pause(void);
void rt_rseq_resume(void);

/* util.c */
size_t rt_strlen(const char *s);
const char *rt_getenv(char **envp, const char *name);
void *rt_memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int rt_memcmp(const void *a, const void *b, size_t n);
char *rt_utoa(uint64_t v, char *buf);
void rt_write_all(int fd, const char *buf, size_t len);
void rt_write_line(const char *const *parts, unsigned n);
char *rt_fd_path(char *out, long fd);
long rt_high_fd(long fd, long below, int cloexec);
long rt_read_file(const char *path, char *buf, size_t size);
int rt_absolute_path(char *out, const char *path);
uint64_t rt_xgetbv0(void);
int rt_each_fd(char *buf, size_t size, int (*fn)(void *arg, long fd), void *arg);

#pragma GCC visibility pop
#endif
