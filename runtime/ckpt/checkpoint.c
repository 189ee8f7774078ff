/*
 * Checkpoint: CKPT_SIGNAL (default SIGUSR2) writes the whole process to CKPT_IMAGE and lets the
 * program go on; CKPT_VACATE_SIGNAL does the same, then exits CKPT_EXIT_VACATED ("requeue me");
 * CKPT_INTERVAL=N sends CKPT_SIGNAL every N seconds. docs/image-format.md is the format; the
 * image is made and written by writer.c.
 *
 * The thread that takes the signal stops the process's other threads for the checkpoint, which
 * holds them all (threads.c). A checkpoint signal that arrives while its thread is inside the
 * runtime's own bookkeeping (a dispatch) is held and raised again when the dispatch ends
 * (base/restartable.c). A blocking call that the
 * signal interrupted with EINTR is made again, here and after a restart (rt_rewind_interrupted_call,
 * rt_call_restartable), since the program would not have seen that EINTR without the checkpoint.
 */
#include "ckpt/save.h"

int rt_ckpt_signal;
int rt_vacate_signal;
uint32_t rt_ckpt_interval;
long rt_ckpt_timer = -1;	/* 8 bytes: the restorer pokes it */
static int rt_ckpt_in_child;		/* a forked child: see rt_checkpoint_forked */

/* names inline, not pointers: the runtime may hold no absolute relocations */
static const struct { char name[8]; int sig; } rt_signal_names[] = {
	{ "HUP", 1 }, { "INT", 2 }, { "QUIT", 3 }, { "USR1", 10 }, { "USR2", 12 },
	{ "ALRM", 14 }, { "TERM", 15 }, { "XCPU", 24 }, { "VTALRM", 26 }, { "PROF", 27 },
};

static int rt_parse_signal(const char *v)
{
	if (v[0] == 'S' && v[1] == 'I' && v[2] == 'G')
		v += 3;
	for (unsigned i = 0; i < sizeof rt_signal_names / sizeof rt_signal_names[0]; i++)
		if (rt_streq(v, rt_signal_names[i].name))
			return rt_signal_names[i].sig;
	int n = 0;
	for (; *v >= '0' && *v <= '9'; v++)
		n = n * 10 + (*v - '0');
	return (*v || n < 1 || n > 64 || n == 9 || n == 19) ? 0 : n;
}

/*
 * The shim's fast path keeps the call's number on the stack across its syscall. A call that the
 * checkpoint signal broke off with EINTR (nanosleep, pause, poll...: the kernel does not restart
 * those even with SA_RESTART) is made again when the handler returns, and in a restarted process.
 */
void rt_rewind_interrupted_call(void *uc)
{
	uint64_t *g = (uint64_t *)((char *)uc + RT_UC_GREGS);
	if (g[RT_REG_RIP] == (uint64_t)rt_shim_after_syscall && (long)g[RT_REG_RAX] == -EINTR) {
		g[RT_REG_RIP] -= 2;	/* the syscall instruction */
		g[RT_REG_RAX] = *(const uint64_t *)g[RT_REG_RSP];
	}
}

/* The program may send itself the reserved signal, or have a timer of its own send it */
static int rt_signal_is_programs(struct rt_thread *self, int sig, const void *si)
{
	int code = *(const int *)((const char *)si + RT_SI_CODE);
	if (rt_raised_by_busy_leave(self, sig))
		return 0;
	if (code == SI_TIMER)
		return (long)*(const int *)((const char *)si + RT_SI_TIMERID) != rt_ckpt_timer;
	if (code == SI_USER || code == SI_TKILL || code == SI_QUEUE)
		return *(const int *)((const char *)si + RT_SI_PID) == (int)rt_ids_real.pid;
	return 0;
}

/* After the vacate signal's checkpoint the process ends; if it failed, the signal does its default */
static _Noreturn void rt_vacate(int sig, long result)
{
	if (!result)
		result = rt_wait_writer(0);
	if (!result)
		rt_exit(CKPT_EXIT_VACATED);
	struct rt_kernel_sigaction dfl = { RT_SIG_DFL, 0, 0, 0 };
	uint64_t set = RT_SIGBIT(sig);
	rt_syscall4(__NR_rt_sigaction, sig, (long)&dfl, 0, RT_SIGSET_SIZE);
	rt_syscall3(__NR_tgkill, (long)rt_ids_real.pid, rt_syscall0(__NR_gettid), sig);
	rt_syscall4(__NR_rt_sigprocmask, SIG_UNBLOCK, (long)&set, 0, RT_SIGSET_SIZE);
	rt_exit(128 + sig);
}

/*
 * A child the program forked has the same CKPT_IMAGE: were it to checkpoint, it would overwrite
 * its parent's image. It does not: the checkpoint signal does nothing in it (unless the program
 * handles that signal itself), and the vacate signal does what it would have done to it.
 */
void rt_checkpoint_forked(void)
{
	rt_ckpt_in_child = 1;
	rt_ckpt_timer = -1;	/* timers are not inherited */
	rt_writer_forget();	/* nor is the parent's writer a child of this one */
	rt_track_forked();	/* nor does the kernel track its memory */
}

/*
 * Sent to the process or to one thread, the signal runs in one thread, which leads the checkpoint:
 * it stops the others (threads.c). One that comes while another thread leads is that checkpoint's
 * (a vacate signal then makes it a vacate), unless it comes after the snapshot was taken: then the
 * leader takes another checkpoint when this one is done, as a signal that came a moment later would.
 */
static void rt_on_checkpoint_signal(int sig, void *si, void *uc)
{
	struct rt_thread *self = rt_thread_self();
	if (rt_signal_is_programs(self, sig, si) ||
	    (rt_ckpt_in_child && (sig == rt_vacate_signal || rt_has_own_action(sig)))) {
		rt_chain(sig, si, uc);
		return;
	}
	rt_checkpoint_signal_taken();
	rt_rewind_interrupted_call(uc);
	if (rt_ckpt_in_child)
		return;		/* and the call it broke off is made again, as in a checkpoint */
	if (rt_hold_while_busy(self, sig))
		return;
	if (!rt_stop_lead()) {
		if (sig == rt_vacate_signal)
			rt_stop_note_vacate();
		else
			rt_stop_note_request();
		return;
	}
	for (;;) {
		long r = rt_checkpoint(sig, uc, self);
		int again;
		if (rt_stop_end(&again) || sig == rt_vacate_signal)
			rt_vacate(rt_vacate_signal, r);
		if (!again || r || !rt_stop_lead())
			return;
	}
}

/* A tag for the binary an image belongs to: same relinked file, same config block */
uint64_t rt_binary_id(void)
{
	return rt_crc32c(0, &rt_config, sizeof rt_config);
}

/* Every SECONDS, the checkpoint signal: a POSIX timer, so the program keeps its itimers */
long rt_ckpt_timer_arm(uint32_t seconds, int sig)
{
	struct { uint64_t value; int signo, notify; char pad[48]; } ev = { 0, sig, SIGEV_SIGNAL, { 0 } };
	struct { int64_t interval_sec, interval_nsec, value_sec, value_nsec; } spec = { seconds, 0, seconds, 0 };
	int id = -1;
	if (!seconds || rt_syscall3(__NR_timer_create, CLOCK_MONOTONIC, (long)&ev, (long)&id) < 0)
		return -1;
	rt_syscall4(__NR_timer_settime, id, 0, (long)&spec, 0);
	return id;
}

static int rt_install_checkpoint_signal(int sig)
{
	if (sig)
		rt_reserve_signal(sig, rt_on_checkpoint_signal, SA_RESTART);
	return sig;
}

void rt_checkpoint_init(char **envp)
{
	const char *path = rt_getenv(envp, "CKPT_IMAGE"), *sig = rt_getenv(envp, "CKPT_SIGNAL");
	const char *vacate = rt_getenv(envp, "CKPT_VACATE_SIGNAL"), *interval = rt_getenv(envp, "CKPT_INTERVAL");
	rt_stream_environment(envp);
	if (!rt_writer_target(path))
		return;
	rt_job_begin();
	rt_chain_init(envp);
	rt_ckpt_signal = rt_install_checkpoint_signal(sig && *sig ? rt_parse_signal(sig) : SIGUSR2);
	if (vacate && *vacate)
		rt_vacate_signal = rt_install_checkpoint_signal(rt_parse_signal(vacate));
	for (; interval && *interval >= '0' && *interval <= '9'; interval++)
		rt_ckpt_interval = rt_ckpt_interval * 10 + (uint32_t)(*interval - '0');
	if (rt_ckpt_signal)
		rt_ckpt_timer = rt_ckpt_timer_arm(rt_ckpt_interval, rt_ckpt_signal);
	rt_threads_init();
	rt_note_inherited_fds();
}
