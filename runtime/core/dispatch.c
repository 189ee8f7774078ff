/*
 * The dispatcher: every system call the shim cannot pass straight to the kernel, and every call
 * the SUD net traps, arrives here as a struct rt_ctx. For now every call is executed locally.
 */
#include "core/core.h"

/* Atomic: threads count at the same time (the shim's fast path counts with lock add too) */
static void rt_count(long nr, enum rt_via via)
{
	if ((unsigned long)nr < RT_NR_MAX)
		__atomic_add_fetch(&rt_counts[nr], 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&rt_count_other, 1, __ATOMIC_RELAXED);
	if (via == RT_VIA_SUD)
		__atomic_add_fetch(&rt_trapped, 1, __ATOMIC_RELAXED);
}

static long rt_local(const struct rt_ctx *c, long nr)
{
	return rt_call_restartable(nr, (long)c->rdi, (long)c->rsi, (long)c->rdx, (long)c->r10,
				   (long)c->r8, (long)c->r9);
}

/* execve replaces the image, runtime included: its counts are written first */
static long rt_exec(const struct rt_ctx *c, long nr)
{
	int own = !rt_in_shared_child();
	if (own)
		rt_stats_flush("exec");
	long r = nr == __NR_execve
		? rt_syscall3(nr, (long)c->rdi, (long)c->rsi, (long)rt_vfiles_exec_env((char **)c->rdx))
		: rt_syscall5(nr, (long)c->rdi, (long)c->rsi, (long)c->rdx, (long)rt_vfiles_exec_env((char **)c->r10), (long)c->r8);
	if (own)
		rt_stats_reset();	/* the exec failed: what follows is a new record */
	return r;
}

/* Calls no case of rt_handle names: the loader's windows, virtual pids, remote files, the kernel */
static long rt_handle_other(const struct rt_ctx *c, long nr)
{
	long r;
	if (rt_loader_call(c, nr, &r))
		return r;
	if ((unsigned long)nr < RT_NR_MAX && rt_syscall_class[nr] == RT_CLASS_PIDS && rt_pids_take(c, nr) &&
	    !(nr == __NR_fcntl && rt_remote_placeholder((long)(int)c->rdi)))	/* a remote file has no owner */
		r = rt_sys_pids(c, nr);
	else if (rt_remote_handles(nr))
		r = rt_sys_remote(c, nr);
	else
		r = rt_local(c, nr);
	rt_loader_after(c, nr, r);
	return r;
}

/*
 * munmap of the stack the calling thread runs on, made by a thread that is not the last: the
 * thread is ending (musl's detached threads unmap their stack, then exit, touching no memory
 * between), and the shim's path back would touch that stack, so the runtime ends the thread itself
 */
static void rt_unmap_own_stack(struct rt_thread *self, const struct rt_ctx *c)
{
	if (c->rsp - c->rdi >= c->rsi || __atomic_load_n(&rt_threads, __ATOMIC_RELAXED) <= 1)
		return;
	__atomic_sub_fetch(&rt_threads, 1, __ATOMIC_RELAXED);
	rt_thread_release(self);
	rt_unmap_stack_and_exit(c->rdi, c->rsi);
}

static long rt_handle(struct rt_thread *self, struct rt_ctx *c, long nr)
{
	switch (nr) {
	case __NR_munmap:
		rt_unmap_own_stack(self, c);
		return rt_local(c, nr);
	case __NR_madvise:
		return rt_sys_madvise(c->rdi, c->rsi, (long)c->rdx);
	case __NR_mremap:
		return rt_sys_mremap(c->rdi, c->rsi, c->rdx, (long)c->r10, c->r8);
	case __NR_exit:
		/* one thread ends, and gives its slot back; the process ends with its last thread */
		if (__atomic_sub_fetch(&rt_threads, 1, __ATOMIC_RELAXED) > 0) {
			rt_robust_exit(self);	/* what the kernel does not see of a thread of an image */
			rt_thread_release(self);
			return rt_syscall1(nr, (long)c->rdi);
		}
		/* fall through */
	case __NR_exit_group:
		if (!rt_in_shared_child())
			rt_stats_flush("exit");
		else
			rt_thread_release(self);	/* a vfork child's slot is in its parent's table */
		rt_vfiles_exit();
		rt_remote_exit((long)(c->rdi & 0xff) << 8);
		return rt_local(c, nr);
	case __NR_execve:
	case __NR_execveat:
		return rt_exec(c, nr);
	case __NR_clone:
	case __NR_clone3:
	case __NR_fork:
	case __NR_vfork:
		return rt_dispatch_clone(c, nr);
	case __NR_rt_sigaction:
		return rt_sys_sigaction((long)c->rdi, (const void *)c->rsi, (void *)c->rdx,
					(long)c->r10);
	case __NR_rt_sigprocmask:
		return rt_sys_sigprocmask(self, (long)c->rdi, (const void *)c->rsi, (void *)c->rdx,
					  (long)c->r10);
	case __NR_brk: {
		long r = rt_sys_brk(c->rdi);
		rt_track_after_brk(r);
		return r;
	}
	case __NR_rseq:
		return rt_sys_rseq(self, c->rdi, (uint32_t)c->rsi, (int)c->rdx, (uint32_t)c->r10);
	case __NR_nanosleep:
		return rt_sleep_restartable(nr, 0, 0, (const void *)c->rdi, (void *)c->rsi);
	case __NR_clock_nanosleep:
		return rt_sleep_restartable(nr, (long)c->rdi, (long)c->rsi, (const void *)c->rdx, (void *)c->r10);
	case __NR_inotify_add_watch:	/* recorded for a checkpoint, unless the table refuses it for a remote file */
		return rt_remote_refusal(c, nr) ?: rt_sys_inotify_add_watch((long)c->rdi, (const char *)c->rsi, (uint32_t)c->rdx);
	case __NR_inotify_rm_watch:
		return rt_remote_refusal(c, nr) ?: rt_sys_inotify_rm_watch((long)c->rdi, (long)c->rsi);
	case __NR_msgget: case __NR_msgsnd: case __NR_msgrcv: case __NR_msgctl:
	case __NR_semget: case __NR_semop: case __NR_semtimedop: case __NR_semctl: {
		rt_sysv_before(c, nr);	/* noted for a checkpoint (sys/sysvipc.c) */
		long r = rt_handle_other(c, nr);
		rt_sysv_after(c, nr, r);
		return r;
	}
	case __NR_rt_sigsuspend:
		return rt_sys_sigsuspend((const void *)c->rdi, (long)c->rsi);
	case __NR_rt_sigreturn:
		self->busy = 0;
		rt_sigreturn_at(c->rsp);	/* only the SUD net gets here: the shim has its own */
	default:
		return rt_handle_other(c, nr);
	}
}

void rt_dispatch(struct rt_ctx *c, enum rt_via via)
{
	long nr = (long)c->rax;
	rt_count(nr, via);
	struct rt_thread *self = rt_thread_self();
	self->busy++;
	/* the write tracking gives up what the call may change unseen */
	rt_track_before_call(nr, &(struct rt_call_args){ c->rdi, c->rsi, c->rdx, c->r10, c->r8 });
	c->rax = (uint64_t)rt_handle(self, c, nr);
	rt_checkpoint_reap_writer();
	rt_busy_leave(self);	/* a checkpoint signal held meanwhile runs now */
}

/* From the shim's slow path: complete the frame into a full context, dispatch, write back */
void rt_shim_dispatch(struct rt_ctx *frame)
{
	struct rt_ctx c;
	rt_memcpy(&c, frame, RT_SHIM_FRAME);
	c.rsp = (uint64_t)frame + RT_SHIM_FRAME + CKPT_RED_ZONE;
	c.rip = frame->rip + CKPT_TRAMP_RESUME_SKIP;
	rt_dispatch(&c, RT_VIA_PATCH);
	frame->rax = c.rax;
	frame->r11 = frame->flags;	/* as the syscall instruction leaves r11 */
}
