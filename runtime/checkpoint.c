/*
 * Checkpoint: CKPT_SIGNAL (default SIGUSR2) writes the whole process to CKPT_IMAGE and lets the
 * program go on; CKPT_VACATE_SIGNAL does the same, then exits CKPT_EXIT_VACATED ("requeue me");
 * CKPT_INTERVAL=N sends CKPT_SIGNAL every N seconds. docs/image-format.md is the format.
 *
 * The handler records the kernel's view of the process (registers, files, signals, limits, the
 * memory map) on a scratch mapping left out of the image, then forks a writer that shares nothing
 * with the program afterwards: the child's copy-on-write snapshot of memory is checksummed and
 * written while the program runs on. The program is stopped only for the records and the fork. The
 * writer writes PATH.tmp, fsyncs it and renames it, so a crash at any moment leaves the previous
 * image. If the fork fails, the handler writes the image itself.
 *
 * A checkpoint signal that arrives while the runtime is inside its own bookkeeping (a dispatch) is
 * held and raised again when the dispatch ends (rt_busy_leave). A blocking call that the signal
 * interrupted with EINTR is made again, here and after a restart (rt_rewind_interrupted_call,
 * rt_call_restartable), since the program would not have seen that EINTR without the checkpoint.
 */
#include "include/rt_ckpt.h"
#include "include/rt_remote.h"

#define RT_SCRATCH_STACK (128 * 1024)
#define RT_CHUNK	(4UL << 20)	/* checksum and write granule */
#define RT_WRITEBACK	(64UL << 20)	/* start the disk writing this often, so fsync has less left */
#define RT_WCLONE	0x80000000L	/* wait4: children that signal no SIGCHLD, like the writer */

int rt_ckpt_signal;
int rt_vacate_signal;
uint32_t rt_ckpt_interval;
long rt_ckpt_timer = -1;	/* 8 bytes: the restorer pokes it */
volatile uint32_t rt_dispatch_busy;
static volatile int rt_ckpt_pending;		/* a signal held by rt_dispatch_busy */
static volatile int rt_ckpt_raised;		/* rt_busy_leave raised it: not the program's own */
static volatile uint64_t rt_ckpt_generation;	/* checkpoints run so far: see rt_call_restartable */
static long rt_writer_pid;
static int rt_ckpt_in_child;		/* a forked child: see rt_checkpoint_forked */
static char rt_image_path[RT_PATH_MAX];
static const char *rt_image_remote;	/* CKPT_IMAGE=shadow:NAME: NAME, kept on the shadow */
static char rt_image_tmp[RT_PATH_MAX + 8];

struct rt_ckpt_area {
	struct rt_ckpt_work work;
	unsigned char bounce[RT_CHUNK];		/* shared memory is copied before it is checksummed */
};

#define RT_SCRATCH_SIZE	((sizeof(struct rt_ckpt_area) + RT_SCRATCH_STACK + 4095) & ~4095UL)

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

static int rt_write_fully(long fd, const void *buf, uint64_t len, uint64_t off)
{
	const char *p = buf;
	while (len) {
		long n = rt_syscall4(__NR_pwrite64, fd, (long)p, (long)(len > (1UL << 30) ? (1UL << 30) : len), (long)off);
		if (n == -4)
			continue;
		if (n <= 0)
			return n ? (int)n : -28;
		p += n, off += (uint64_t)n, len -= (uint64_t)n;
	}
	return 0;
}

/* One region's contents, checksummed chunk by chunk as they are written: one pass over memory */
static int rt_write_region(struct rt_ckpt_area *a, long fd, unsigned char *h)
{
	const unsigned char *p = h + CKPT_RH_SIZE;
	const unsigned char *src = (const unsigned char *)*(const uint64_t *)(p + CKPT_RG_START);
	uint64_t size = *(uint64_t *)(h + CKPT_RH_DATA_SIZE), off = *(uint64_t *)(h + CKPT_RH_DATA_OFFSET);
	int shared = *(uint32_t *)(h + CKPT_RH_FLAGS) & CKPT_REGION_SHARED;
	uint32_t crc = 0;
	for (uint64_t done = 0; done < size;) {
		uint64_t n = size - done < RT_CHUNK ? size - done : RT_CHUNK;
		const unsigned char *chunk = src + done;
		if (shared)	/* another process may change it between checksum and write */
			chunk = rt_memcpy(a->bounce, chunk, n);
		crc = rt_crc32c(crc, chunk, n);
		int r = rt_write_fully(fd, chunk, n, off + done);
		if (r)
			return r;
		done += n;
		if (((off + done) & (RT_WRITEBACK - 1)) < n)
			rt_syscall4(__NR_sync_file_range, fd, (long)((off + done - n) & ~(RT_WRITEBACK - 1)), RT_WRITEBACK, 2 /* WRITE */);
	}
	*(uint32_t *)(h + CKPT_RH_DATA_CRC) = crc;
	return 0;
}

/* Data first (region checksums are known only then), then records and header, then fsync */
static int rt_write_image(struct rt_ckpt_area *a, long fd)
{
	struct rt_ckpt_work *w = &a->work;
	unsigned char header[CKPT_IH_SIZE] = { 0 };
	uint64_t data_start = (CKPT_IH_SIZE + w->used + CKPT_IMAGE_PAGE - 1) & ~(uint64_t)(CKPT_IMAGE_PAGE - 1);
	int r = 0;
	for (size_t at = 0; !r && at < w->used;) {
		unsigned char *h = w->records + at;
		if (*(uint64_t *)(h + CKPT_RH_DATA_SIZE)) {
			*(uint64_t *)(h + CKPT_RH_DATA_OFFSET) += data_start;
			r = rt_write_region(a, fd, h);
			*(uint32_t *)(h + CKPT_RH_CRC) = rt_crc32c(0, h, CKPT_RH_CRC);
		}
		at += CKPT_RH_SIZE + *(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE);
	}
	*(uint64_t *)(header + CKPT_IH_MAGIC) = CKPT_IMAGE_MAGIC;
	*(uint32_t *)(header + CKPT_IH_VERSION) = CKPT_IMAGE_VERSION;
	*(uint32_t *)(header + CKPT_IH_RECORDS) = w->count;
	*(uint64_t *)(header + CKPT_IH_FILE_SIZE) = data_start + w->data_end;
	*(uint64_t *)(header + CKPT_IH_BINARY_ID) = rt_binary_id();
	*(uint32_t *)(header + CKPT_IH_CRC) = rt_crc32c(0, header, CKPT_IH_CRC);
	if (!r)
		r = rt_write_fully(fd, w->records, w->used, CKPT_IH_SIZE);
	if (!r)
		r = rt_write_fully(fd, header, CKPT_IH_SIZE, 0);
	if (!r && rt_syscall2(__NR_ftruncate, fd, (long)(data_start + w->data_end)) < 0)
		r = -5;
	if (!r)
		r = (int)rt_syscall1(__NR_fsync, fd);
	return r;
}

static void rt_report_failure(long err)
{
	char msg[64] = "ckpt: checkpoint failed (error ";
	char *e = rt_utoa((uint64_t)-err, msg + rt_strlen(msg));
	rt_memcpy(e, "), previous image kept\n", 24);
	rt_write_all(2, msg, rt_strlen(msg));
}

/* Writes the image and puts it in place; on failure the previous image is untouched */
static long rt_finish_image(struct rt_ckpt_area *a)
{
	long r = rt_write_image(a, a->work.image_fd);
	if (rt_image_remote) {
		if (!r)
			r = rt_image_upload(a->work.image_fd, rt_image_remote, a->bounce);
		rt_syscall1(__NR_close, a->work.image_fd);
	} else {
		rt_syscall1(__NR_close, a->work.image_fd);
		if (!r)
			r = rt_syscall2(__NR_rename, (long)rt_image_tmp, (long)rt_image_path);
		if (r < 0)
			rt_syscall1(__NR_unlink, (long)rt_image_tmp);
	}
	if (r < 0)
		rt_report_failure(r);
	return r;
}

/* The writer process: a snapshot of the program, with no signals, no rseq and no SUD */
static _Noreturn void rt_writer(struct rt_ckpt_area *a)
{
	uint64_t all = ~0ULL;
	rt_syscall4(__NR_rt_sigprocmask, RT_SIG_SETMASK, (long)&all, 0, 8);
	rt_rseq_pause();	/* the kernel would write this copy's rseq area while it is saved */
	if (rt_image_remote)
		rt_remote_forked();	/* a session of its own for the upload */
	long r = rt_finish_image(a);
	for (;;)
		rt_syscall1(__NR_exit_group, r ? 1 : 0);
}

static long rt_wait_writer(int options)
{
	int status = 0;
	long r;
	if (rt_writer_pid <= 0)
		return 0;
	do
		r = rt_syscall4(__NR_wait4, rt_writer_pid, (long)&status, options | RT_WCLONE, 0);
	while (r == -4);
	if (r == 0)
		return 1;	/* still writing */
	rt_writer_pid = 0;
	return r < 0 || status ? -5 : 0;
}

static int rt_collect(struct rt_ckpt_work *w)
{
	if (rt_add_process(w) || rt_add_regs(w) || rt_add_sigactions(w) || rt_add_memory(w) ||
	    rt_add_files(w) || rt_add_cwd_and_exe(w) || rt_add_limits_and_timers(w) || rt_add_queued_signals(w))
		return -12;
	return 0;
}

/*
 * On the scratch stack. The image has the pid calls routed through the dispatcher (pids.c): only
 * a process made from it needs them translated.
 */
/* The image, from a writer process when one can be forked, else from here, the program stopped */
static long rt_write_out(struct rt_ckpt_area *a)
{
	long pid = rt_syscall5(__NR_clone, 0 /* no SIGCHLD: the program's wait() never sees it */, 0, 0, 0, 0);
	if (pid == 0)
		rt_writer(a);
	if (pid > 0) {
		rt_syscall1(__NR_close, a->work.image_fd);
		rt_writer_pid = pid;
		return 0;
	}
	rt_rseq_pause();
	long r = rt_finish_image(a);
	rt_rseq_resume();
	return r;
}

static void rt_checkpoint_on_scratch(void *arg)
{
	struct rt_ckpt_area *a = arg;
	struct rt_ckpt_work *w = &a->work;
	w->image_fd = rt_image_remote
		? rt_syscall2(__NR_memfd_create, (long)"ckpt-image", 1 /* MFD_CLOEXEC */)
		: rt_syscall4(__NR_openat, -100, (long)rt_image_tmp, 01 | 0100 | 01000 | 02000000 /* WRONLY CREAT TRUNC CLOEXEC */, 0600);
	if (w->image_fd < 0) {
		rt_report_failure(w->result = w->image_fd);
		return;
	}
	rt_pids_route(1);
	w->result = rt_collect(w);
	if (!w->result) {
		w->result = rt_write_out(a);
	} else {
		rt_syscall1(__NR_close, w->image_fd);
		if (!rt_image_remote)
			rt_syscall1(__NR_unlink, (long)rt_image_tmp);
		rt_report_failure(w->result);
	}
	rt_pids_route(0);
}

/* Returns 0 when an image is in place or being written, or -errno */
static long rt_checkpoint(int sig, void *uc)
{
	rt_wait_writer(0);	/* one writer at a time: they share PATH.tmp */
	long scratch = rt_syscall6(__NR_mmap, 0, RT_SCRATCH_SIZE, 3, 0x22 /* PRIVATE|ANONYMOUS */, -1, 0);
	if (scratch < 0 && scratch > -4096) {
		rt_report_failure(scratch);
		return scratch;
	}
	struct rt_ckpt_area *a = (void *)scratch;
	a->work.uc = uc;
	a->work.sig = sig;
	a->work.scratch_start = (uint64_t)scratch;
	a->work.scratch_end = (uint64_t)scratch + RT_SCRATCH_SIZE;
	rt_call_on_stack(rt_checkpoint_on_scratch, a, (char *)scratch + RT_SCRATCH_SIZE);
	long r = a->work.result;
	rt_syscall2(__NR_munmap, scratch, RT_SCRATCH_SIZE);
	return r;
}

/*
 * The shim's fast path keeps the call's number on the stack across its syscall. A call that the
 * checkpoint signal broke off with EINTR (nanosleep, pause, poll...: the kernel does not restart
 * those even with SA_RESTART) is made again when the handler returns, and in a restarted process.
 */
static void rt_rewind_interrupted_call(void *uc)
{
	uint64_t *g = (uint64_t *)((char *)uc + RT_UC_GREGS);
	if (g[RT_REG_RIP] == (uint64_t)rt_shim_after_syscall && (long)g[RT_REG_RAX] == -4) {
		g[RT_REG_RIP] -= 2;	/* the syscall instruction */
		g[RT_REG_RAX] = *(const uint64_t *)g[RT_REG_RSP];
	}
}

/* One try at a call that a checkpoint may break off; *again: it did (the EINTR is not the program's) */
static long rt_try_call(long nr, long a1, long a2, long a3, long a4, long a5, long a6, int *again)
{
	uint32_t busy = rt_dispatch_busy;
	uint64_t generation = rt_ckpt_generation;
	rt_dispatch_busy = 0;
	if (rt_ckpt_pending)
		rt_busy_leave();
	long r = rt_syscall6(nr, a1, a2, a3, a4, a5, a6);
	rt_dispatch_busy = busy;
	*again = r == -4 && generation != rt_ckpt_generation;
	return r;
}

/* A system call made by the dispatcher: checkpoints may run meanwhile, and do not show as EINTR */
long rt_call_restartable(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	int again;
	long r;
	do
		r = rt_try_call(nr, a1, a2, a3, a4, a5, a6, &again);
	while (again);
	return r;
}

/*
 * nanosleep, and clock_nanosleep without TIMER_ABSTIME: broken off by a checkpoint, the sleep goes
 * on for what was left of it (the kernel writes that to rem before the handler runs, so a restarted
 * process finds it in its memory), not for its whole length again. The time the process was not
 * running (the checkpoint itself, or between the checkpoint and a restart) is not counted. An
 * absolute sleep is made again as it was.
 */
long rt_sleep_restartable(long nr, long clock, long flags, const void *req, void *rem)
{
	struct { int64_t sec, nsec; } left;
	void *out = rem ? rem : &left;
	int again;
	long r;
	if (nr == __NR_clock_nanosleep && (flags & 1 /* TIMER_ABSTIME */))
		return rt_call_restartable(nr, clock, flags, (long)req, (long)rem, 0, 0);
	for (;;) {
		r = nr == __NR_nanosleep ? rt_try_call(nr, (long)req, (long)out, 0, 0, 0, 0, &again)
					 : rt_try_call(nr, clock, flags, (long)req, (long)out, 0, 0, &again);
		if (!again)
			return r;
		rt_memcpy(&left, out, sizeof left);
		req = &left;
	}
}

void rt_busy_leave(void)
{
	if (rt_dispatch_busy)
		rt_dispatch_busy--;
	if (rt_writer_pid && !rt_in_shared_child)
		rt_wait_writer(1 /* WNOHANG */);	/* a finished writer is reaped, not left a zombie */
	if (rt_dispatch_busy || !rt_ckpt_pending)
		return;
	int sig = rt_ckpt_pending;
	rt_ckpt_pending = 0;
	rt_ckpt_raised = sig;
	rt_syscall3(__NR_tgkill, (long)rt_ids_real.pid, (long)rt_ids_real.tid, sig);
}

/* The program may send itself the reserved signal, or have a timer of its own send it */
static int rt_signal_is_programs(int sig, const void *si)
{
	int code = *(const int *)((const char *)si + RT_SI_CODE);
	if (rt_ckpt_raised == sig) {
		rt_ckpt_raised = 0;
		return 0;
	}
	if (code == RT_SI_TIMER)
		return (long)*(const int *)((const char *)si + RT_SI_TIMERID) != rt_ckpt_timer;
	if (code == RT_SI_USER || code == RT_SI_TKILL || code == RT_SI_QUEUE)
		return *(const int *)((const char *)si + RT_SI_PID) == (int)rt_ids_real.pid;
	return 0;
}

/* After the vacate signal's checkpoint the process ends; if it failed, the signal does its default */
static _Noreturn void rt_vacate(int sig, long result)
{
	if (!result)
		result = rt_wait_writer(0);
	if (!result)
		for (;;)
			rt_syscall1(__NR_exit_group, CKPT_EXIT_VACATED);
	struct rt_kernel_sigaction dfl = { RT_SIG_DFL, 0, 0, 0 };
	uint64_t set = RT_SIGBIT(sig);
	rt_syscall4(__NR_rt_sigaction, sig, (long)&dfl, 0, 8);
	rt_syscall3(__NR_tgkill, (long)rt_ids_real.pid, (long)rt_ids_real.tid, sig);
	rt_syscall4(__NR_rt_sigprocmask, RT_SIG_UNBLOCK, (long)&set, 0, 8);
	for (;;)
		rt_syscall1(__NR_exit_group, 128 + sig);
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
	rt_writer_pid = 0;	/* nor is the parent's writer a child of this one */
}

static void rt_on_checkpoint_signal(int sig, void *si, void *uc)
{
	if (rt_signal_is_programs(sig, si) || (rt_ckpt_in_child && (sig == rt_vacate_signal || rt_has_own_action(sig)))) {
		rt_chain(sig, si, uc);
		return;
	}
	rt_ckpt_generation++;
	rt_rewind_interrupted_call(uc);
	if (rt_ckpt_in_child)
		return;		/* and the call it broke off is made again, as in a checkpoint */
	if (rt_dispatch_busy) {
		rt_ckpt_pending = sig;
		return;
	}
	long r = rt_checkpoint(sig, uc);
	if (sig == rt_vacate_signal)
		rt_vacate(sig, r);
}

/* A tag for the binary an image belongs to: same relinked file, same config block */
uint64_t rt_binary_id(void)
{
	return rt_crc32c(0, &rt_config, sizeof rt_config);
}

/* Every SECONDS, the checkpoint signal: a POSIX timer, so the program keeps its itimers */
long rt_ckpt_timer_arm(uint32_t seconds, int sig)
{
	struct { uint64_t value; int signo, notify; char pad[48]; } ev = { 0, sig, 0 /* SIGEV_SIGNAL */, { 0 } };
	struct { int64_t interval_sec, interval_nsec, value_sec, value_nsec; } spec = { seconds, 0, seconds, 0 };
	int id = -1;
	if (!seconds || rt_syscall3(__NR_timer_create, 1 /* CLOCK_MONOTONIC */, (long)&ev, (long)&id) < 0)
		return -1;
	rt_syscall4(__NR_timer_settime, id, 0, (long)&spec, 0);
	return id;
}

static int rt_install_checkpoint_signal(int sig)
{
	struct rt_kernel_sigaction a = { (void *)rt_on_checkpoint_signal,
		RT_SA_SIGINFO | RT_SA_RESTORER | RT_SA_RESTART, (void *)rt_restorer, 0 };
	if (!sig)
		return 0;
	rt_syscall4(__NR_rt_sigaction, sig, (long)&a, 0, 8);
	rt_reserved_mask |= RT_SIGBIT(sig);
	return sig;
}

void rt_checkpoint_init(char **envp)
{
	const char *path = rt_getenv(envp, "CKPT_IMAGE"), *sig = rt_getenv(envp, "CKPT_SIGNAL");
	const char *vacate = rt_getenv(envp, "CKPT_VACATE_SIGNAL"), *interval = rt_getenv(envp, "CKPT_INTERVAL");
	if (path && rt_starts_with(path, "shadow:")) {
		if (!rt_remote_on) {
			rt_write_all(2, "ckpt: CKPT_IMAGE=shadow:... needs CKPT_SHADOW; not checkpointing\n", 66);
			return;
		}
		rt_image_remote = path + 7;
	} else if (!path || !*path || rt_absolute_path(rt_image_path, path) < 0) {
		return;
	}
	size_t len = rt_strlen(rt_image_path);
	rt_memcpy(rt_image_tmp, rt_image_path, len);
	rt_memcpy(rt_image_tmp + len, ".tmp", 5);
	rt_ckpt_signal = rt_install_checkpoint_signal(sig && *sig ? rt_parse_signal(sig) : 12 /* SIGUSR2 */);
	if (vacate && *vacate)
		rt_vacate_signal = rt_install_checkpoint_signal(rt_parse_signal(vacate));
	for (; interval && *interval >= '0' && *interval <= '9'; interval++)
		rt_ckpt_interval = rt_ckpt_interval * 10 + (uint32_t)(*interval - '0');
	if (rt_ckpt_signal)
		rt_ckpt_timer = rt_ckpt_timer_arm(rt_ckpt_interval, rt_ckpt_signal);
	rt_note_inherited_fds();
}
