/*
 * Process ids as the program sees them. Until a restart they are the kernel's. A restarted process
 * keeps answering getpid, getppid and gettid with the values of the run that made the image (libc
 * caches the tid in its thread block and passes it to tgkill), and translates those values back to
 * the kernel's wherever the program names itself or its parent in a call.
 *
 * The calls that need this go through the dispatcher only in processes made from an image: the
 * checkpoint sets their class while it saves memory, so the image has them routed and the running
 * program keeps its fast path (rt_pids_route).
 */
#include "base/base.h"

/* 8 bytes each: the restorer pokes the real ones */
struct rt_ids rt_ids_virtual, rt_ids_real;

/* Calls whose first argument (and second, for the tg* calls) may be the program's own id */
static const uint16_t rt_pid_calls[] = {
	__NR_getpid, __NR_getppid, __NR_gettid, __NR_set_tid_address, __NR_kill, __NR_tkill,
	__NR_tgkill, __NR_rt_sigqueueinfo, __NR_rt_tgsigqueueinfo, __NR_getpgid, __NR_setpgid,
	__NR_getsid, __NR_prlimit64, __NR_sched_setaffinity, __NR_sched_getaffinity,
	__NR_sched_setparam, __NR_sched_getparam, __NR_sched_setscheduler, __NR_sched_getscheduler,
	__NR_sched_rr_get_interval, __NR_sched_setattr, __NR_sched_getattr, __NR_pidfd_open,
	__NR_fcntl,	/* its owner commands only (rt_pids_take): the others may be remote files' */
};
/* Each call's class when not routed here (remote/ may route fcntl to itself) */
static uint8_t rt_pid_call_base[sizeof rt_pid_calls / sizeof rt_pid_calls[0]];

static void rt_ids_read(struct rt_ids *ids)
{
	ids->pid = (uint64_t)rt_syscall0(__NR_getpid);
	ids->ppid = (uint64_t)rt_syscall0(__NR_getppid);
	ids->tid = (uint64_t)rt_syscall0(__NR_gettid);
}

void rt_pids_init(void)
{
	rt_ids_read(&rt_ids_real);
	rt_ids_virtual = rt_ids_real;
}

/* A child with its own memory: its own id is new, its parent is the caller as the caller saw itself */
void rt_pids_child(void)
{
	uint64_t parent_virtual = rt_ids_virtual.pid;
	rt_ids_read(&rt_ids_real);
	rt_ids_virtual = rt_ids_real;
	rt_ids_virtual.ppid = parent_virtual;
}

/* for_image: the image being written needs them routed; a process made from one always does */
void rt_pids_route(int for_image)
{
	int through_dispatch = for_image || rt_restarted || rt_ids_virtual.pid != rt_ids_real.pid ||
			       rt_ids_virtual.ppid != rt_ids_real.ppid || rt_ids_virtual.tid != rt_ids_real.tid;
	for (unsigned i = 0; i < sizeof rt_pid_calls / sizeof rt_pid_calls[0]; i++) {
		uint8_t *k = &rt_syscall_class[rt_pid_calls[i]];
		if (*k != RT_CLASS_PIDS)
			rt_pid_call_base[i] = *k;
		*k = through_dispatch ? RT_CLASS_PIDS : rt_pid_call_base[i];
	}
}

static int rt_fcntl_names_owner(long cmd)
{
	return cmd == F_SETOWN || cmd == F_GETOWN || cmd == F_SETOWN_EX || cmd == F_GETOWN_EX;
}

/* A call routed here that is about ids: every one but fcntl's other commands */
int rt_pids_take(const struct rt_ctx *c, long nr)
{
	return nr != __NR_fcntl || rt_fcntl_names_owner((long)(int)c->rsi);
}

/*
 * An id the program names, as the kernel knows it. A thread's id is looked up among the threads'
 * slots (base/threads.c); for the calls that take a tid (tid_first) before the pid, since after a
 * restart the thread that the old process's first thread was need not be the new process's first.
 */
static long rt_to_real(long id, int tid_first)
{
	long thread;
	if (id <= 0)
		return id;
	if (tid_first && (thread = rt_thread_real(id)))
		return thread;
	if ((uint64_t)id == rt_ids_virtual.pid)
		return (long)rt_ids_real.pid;
	if ((uint64_t)id == rt_ids_virtual.tid)
		return (long)rt_ids_real.tid;
	if ((uint64_t)id == rt_ids_virtual.ppid)
		return (long)rt_ids_real.ppid;
	if ((thread = rt_thread_real(id)))
		return thread;
	return id;
}

/* Calls whose first argument is a thread's id before it is a process's */
static int rt_names_thread_first(long nr)
{
	return nr == __NR_tkill || (nr >= __NR_sched_setparam && nr <= __NR_sched_rr_get_interval) ||
	       nr == __NR_sched_setaffinity || nr == __NR_sched_getaffinity || nr == __NR_sched_setattr ||
	       nr == __NR_sched_getattr;
}

/* A kernel id on its way back to the program */
static long rt_to_virtual(long id, uint64_t real, uint64_t virtual)
{
	return (uint64_t)id == real ? (long)virtual : id;
}

/* The kernel's id of this process or one of its threads, as the program knows it */
static long rt_own_to_virtual(long id)
{
	struct rt_thread *t;
	if ((uint64_t)id == rt_ids_real.pid)
		return (long)rt_ids_virtual.pid;
	return id > 0 && (t = rt_thread_find(id)) ? (long)t->vtid : id;
}

/* A signed owner of F_SETOWN/F_GETOWN: a pid, or a process group as its negative */
static long rt_owner_to_real(long owner)
{
	return owner < 0 ? -rt_to_real(-owner, 0) : rt_to_real(owner, 0);
}

static long rt_owner_to_virtual(long owner)
{
	return owner < 0 ? -rt_own_to_virtual(-owner) : rt_own_to_virtual(owner);
}

/*
 * fcntl's owner commands on any descriptor: the owner the program names (its own pid, a thread's
 * tid, its group) is made the kernel's, and the kernel's answer the program's
 */
static long rt_fcntl_owner(long fd, long cmd, long arg)
{
	struct { int type, pid; } *o = (void *)arg, ex;
	long r;
	switch (cmd) {
	case F_SETOWN:
		return rt_syscall3(__NR_fcntl, fd, cmd, rt_owner_to_real((long)(int)arg));
	case F_GETOWN:
		r = rt_syscall2(__NR_fcntl, fd, cmd);
		return r == -EBADF ? r : rt_owner_to_virtual(r);
	case F_SETOWN_EX:
		ex = *o;
		ex.pid = (int)(ex.type == F_OWNER_TID ? rt_to_real(ex.pid, 1) : rt_to_real(ex.pid, 0));
		return rt_syscall3(__NR_fcntl, fd, cmd, (long)&ex);
	default:	/* F_GETOWN_EX */
		r = rt_syscall3(__NR_fcntl, fd, cmd, arg);
		if (r == 0)
			o->pid = (int)rt_own_to_virtual(o->pid);
		return r;
	}
}

long rt_sys_pids(const struct rt_ctx *c, long nr)
{
	long a0 = (long)c->rdi, a1 = (long)c->rsi;
	switch (nr) {
	case __NR_getpid:
		return (long)rt_ids_virtual.pid;
	case __NR_getppid:
		/* the parent that made the image may be gone: then the kernel's answer is the truth */
		return rt_to_virtual(rt_syscall0(nr), rt_ids_real.ppid, rt_ids_virtual.ppid);
	case __NR_gettid:
		return (long)rt_thread_self()->vtid;
	case __NR_set_tid_address:
		rt_syscall1(nr, a0);
		return (long)rt_thread_self()->vtid;
	case __NR_fcntl:
		return rt_fcntl_owner((long)(int)a0, (long)(int)a1, (long)c->rdx);
	case __NR_tgkill:
	case __NR_rt_tgsigqueueinfo:
		a1 = rt_to_real(a1, 1);
		/* fall through */
	default:
		return rt_syscall6(nr, rt_to_real(a0, rt_names_thread_first(nr)), a1, (long)c->rdx, (long)c->r10,
				   (long)c->r8, (long)c->r9);
	}
}
