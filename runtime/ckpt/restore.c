/*
 * Restart from an image (CKPT_RESTART=PATH or ckpt-restart). Everything is checked before anything
 * is torn down: the image itself (image.c), the vDSO layout (memory.c), the working directory
 * (cwd.c), the files it had open (files.c), the files its memory regions are mapped from
 * (memory.c). Then kernel state that outlives the teardown (files,
 * signal actions, umask, working directory, timers, queued signals) is restored, kind by kind, the
 * plan for the restorer is laid out in a holding area, and the restorer (pie/) replaces the
 * address space.
 */
#include "ckpt/restore.h"

_Static_assert(RT_PR_SET_SYSCALL_USER_DISPATCH == PR_SET_SYSCALL_USER_DISPATCH &&
	       RT_PR_SYS_DISPATCH_ON == PR_SYS_DISPATCH_ON, "pie/plan.h's prctl numbers");
_Static_assert(RT_FUTEX_WAIT_PRIVATE == FUTEX_WAIT_PRIVATE && RT_FUTEX_WAKE_PRIVATE == FUTEX_WAKE_PRIVATE &&
	       RT_THREAD_CLONE_FLAGS == (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
					 CLONE_SYSVSEM | CLONE_SETTLS | CLONE_CHILD_CLEARTID), "pie/plan.h's futex and clone numbers");

/*
 * Kernel state that outlives the teardown. Signals are blocked from the start of the restart;
 * the queued ones are queued again now with their siginfo (images without that record: raised),
 * to be delivered when rt_sigreturn puts the program's mask back.
 */
static void rt_restore_kernel_state(const struct rt_image *im, int terminal)
{
	rt_restore_task(im);
	rt_restore_locks(im);
	rt_restore_sigactions(im);
	rt_restore_umask(im);
	rt_restore_cwd(im);
	rt_restore_itimers(im);
	rt_restore_posix_timers(im);
	rt_restore_queued_signals(im, terminal);
}

static int rt_huge;

/* An address of this runtime, translated into the image's address space */
uint64_t rt_in_image(const struct rt_image *im, const volatile void *here)
{
	return (uint64_t)here - rt_load_bias + u64at(im->process, CKPT_RP_LOAD_BIAS);
}

static void rt_plan_pokes(struct rt_plan_builder *b, const struct rt_image *im, long timer)
{
	int mapped = im->pages != RT_PAGES_READ;	/* the restored runtime knows its image's mappings */
	const volatile void *where[] = { &rt_restarted, &rt_brk_top, &rt_sud_on, &rt_ids_real.pid,
		&rt_ids_real.ppid, &rt_ids_real.tid, &rt_ckpt_timer, &rt_remote_fd, &rt_cursors_fd, &rt_job.generation,
		&rt_remote_lock, &rt_image_dev, &rt_image_ino, &rt_verifier_fd };
	uint64_t what[] = { 1, u64at(im->process, CKPT_RP_BRK), (uint64_t)rt_sud_on, rt_ids_real.pid,
		rt_ids_real.ppid, rt_ids_real.tid, (uint64_t)timer, (uint64_t)-1 /* connect again */,
		(uint64_t)-1 /* the cursor table is shared again at the next fork */,
		rt_job_restarted(u64at(im->base, CKPT_IH_GENERATION)), 0 /* no thread holds the remote lock */,
		mapped ? im->dev : 0, mapped ? im->ino : 0, (uint64_t)im->verifier_fd };
	unsigned n = sizeof what / sizeof what[0];
	for (unsigned i = 0; i < n; i++) {
		rt_plan_u64(b, rt_in_image(im, where[i]));
		rt_plan_u64(b, what[i]);
	}
	if (rt_remote_on) {	/* the shadow as this machine reaches it (CKPT_SHADOW at restart) */
		rt_plan_u64(b, rt_in_image(im, &rt_remote_target));
		rt_plan_u64(b, rt_remote_target.word);
		n++;
	}
	n += rt_plan_thread_pokes(b, im);
	*(uint64_t *)(b->plan + RT_PLAN_POKES) = n;
}

static void rt_plan_build(const struct rt_image *im, unsigned char *plan, const struct rt_vdso_check *v,
			  const struct rt_frame *f, long timer)
{
	static struct rt_plan_builder b;
	b = (struct rt_plan_builder){ .plan = plan, .next = plan + RT_PLAN_ENTRIES, .im = im,
				      .huge = rt_huge && im->pages == RT_PAGES_READ, .map_image = im->pages != RT_PAGES_READ };
	uint64_t hold = (uint64_t)plan - RT_HOLD_CODE;
	for (int i = 0; i < RT_PLAN_ENTRIES; i++)
		plan[i] = 0;
	rt_prepare_unmaps(&b, hold);
	rt_prepare_remaps(&b, v);
	rt_prepare_maps(&b);
	/* the restored runtime learns it was restarted (it then owns brk) and its real ids */
	rt_plan_pokes(&b, im, timer);
	rt_prepare_closes(&b);
	if (im->verifier_go >= 0) {	/* the verifier starts once memory is in place (lazy.c) */
		rt_plan_u64(&b, (uint64_t)im->verifier_go);
		(*(uint64_t *)(plan + RT_PLAN_CLOSES))++;
	}
	rt_prepare_advice(&b);
	*(uint64_t *)(plan + RT_PLAN_FS_BASE) = u64at(im->process, CKPT_RP_FS_BASE);
	*(uint64_t *)(plan + RT_PLAN_IMAGE_FD) = (uint64_t)im->fd;
	*(uint64_t *)(plan + RT_PLAN_SIGRETURN) = rt_in_image(im, (const void *)rt_restart_finish);
	*(uint64_t *)(plan + RT_PLAN_RSEQ_ADDR) = u64at(im->process, CKPT_RP_RSEQ_ADDR);
	*(uint64_t *)(plan + RT_PLAN_RSEQ_LEN) = u32at(im->process, CKPT_RP_RSEQ_LEN);
	*(uint64_t *)(plan + RT_PLAN_RSEQ_SIG) = u32at(im->process, CKPT_RP_RSEQ_SIG);
	if (rt_sud_on) {
		*(uint64_t *)(plan + RT_PLAN_SUD_START) = rt_config.rt_text + u64at(im->process, CKPT_RP_LOAD_BIAS);
		*(uint64_t *)(plan + RT_PLAN_SUD_LEN) = rt_config.rt_text_size;
		*(uint64_t *)(plan + RT_PLAN_SUD_SELECTOR) = rt_in_image(im, &rt_sud_selector);
	}
	*(uint64_t *)(plan + RT_PLAN_FRAME_SRC) = (uint64_t)f->built;
	*(uint64_t *)(plan + RT_PLAN_HOLD) = hold;
	int threads_placed = rt_prepare_threads(im, plan, plan + RT_HOLD_PLAN + RT_HOLD_STACK + RT_HOLD_FRAME);
	if (f->target) {
		*(uint64_t *)(plan + RT_PLAN_FRAME_DST) = f->target;
		*(uint64_t *)(plan + RT_PLAN_FRAME_LEN) = f->len;
		*(uint64_t *)(plan + RT_PLAN_FRAME) = f->target + 8;
		*(uint64_t *)(plan + RT_PLAN_HOLD_SIZE) = threads_placed ? RT_HOLD_SIZE : 0;
	} else {
		*(uint64_t *)(plan + RT_PLAN_FRAME) = (uint64_t)f->built + 8;
	}
}

typedef void (*rt_restorer_fn)(const unsigned char *plan);

static void rt_read_policy(struct rt_image *im, char **envp)
{
	const char *v = rt_getenv(envp, "CKPT_FILES_CHANGED");
	im->warn_only = !(v && rt_streq(v, "refuse"));
	v = rt_getenv(envp, "CKPT_TCP_CLOSE");
	im->tcp_close = v && rt_streq(v, "1");
	v = rt_getenv(envp, "CKPT_HUGE");
	rt_huge = v && rt_streq(v, "1");	/* measured slower here: docs/restart.md */
	im->pages = rt_pages_from_env(envp);
}

_Noreturn void rt_restart(const char *path, const char *name, char **envp)
{
	static struct rt_image im;
	static struct rt_vdso_check v;
	static struct rt_frame frame;
	uint64_t all = ~0ULL;
	rt_syscall4(__NR_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, RT_SIGSET_SIZE);
	im.path = path;
	im.verifier_fd = im.verifier_go = -1;
	im.name = name;
	rt_read_policy(&im, envp);
	rt_check_image(&im);
	rt_resolve_chain(&im);	/* an incremental image becomes the full image its chain makes */
	if (rt_collect_maps() < 0)
		rt_refuse(&im, "cannot read /proc/self/maps");
	rt_check_vdso(&im, &v);
	rt_check_cwd(&im);
	rt_check_sysv_ipc(&im);
	rt_check_threads(&im);
	uint64_t hold = rt_pick_hold(&im);
	long m = rt_syscall6(__NR_mmap, (long)hold, RT_HOLD_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if ((uint64_t)m != hold)
		rt_refuse(&im, "cannot map the restorer's holding area");
	rt_prepare_files(&im);
	rt_prepare_locks(&im);
	rt_prepare_shm(&im, hold);
	rt_prepare_region_files(&im);
	/* past this point the image is known good: kernel state first, then the address space */
	int terminal = rt_restore_files(&im);
	if (im.pages == RT_PAGES_LAZY)
		im.verifier_fd = rt_start_verifier(&im, &im.verifier_go);
	rt_restore_kernel_state(&im, terminal);
	long timer = rt_ckpt_timer_arm(u32at(im.process, CKPT_RP_INTERVAL), (int)u32at(im.process, CKPT_RP_CKPT_SIGNAL));
	unsigned char *code = (unsigned char *)hold, *plan = code + RT_HOLD_CODE;
	unsigned char *stack_top = plan + RT_HOLD_PLAN + RT_HOLD_STACK;
	rt_memcpy(code, rt_restorer_code_start, (size_t)(rt_restorer_code_end - rt_restorer_code_start));
	rt_syscall3(__NR_mprotect, (long)code, RT_HOLD_CODE, PROT_READ | PROT_EXEC);
	rt_prepare_frame(&im, stack_top, &frame);
	rt_plan_build(&im, plan, &v, &frame, timer);
	rt_restore_rlimits(&im);	/* last: a lower RLIMIT_NOFILE must not stop the plan opening files */
	rt_call_on_stack((void (*)(void *))(void *)code, plan, stack_top - 64);
	rt_exit(CKPT_EXIT_RUNTIME);
}
