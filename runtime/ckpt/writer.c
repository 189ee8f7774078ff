/*
 * The checkpoint writer. The records of the kernel's view of the process (records.c) are made on a
 * scratch mapping left out of the image, then a writer is forked that shares nothing with the
 * program afterwards: the child's copy-on-write snapshot of memory is checksummed and written
 * while the program runs on. The program is stopped only for the records and the fork. The writer
 * writes a temporary file of this checkpoint's own, fsyncs it and puts it in place if it is still
 * the newest state (publish.c), so a crash at any moment leaves the previous image. If the fork
 * fails, the handler writes the image itself.
 */
#include "ckpt/save.h"

#define RT_SCRATCH_STACK (128 * 1024)
#define RT_CHUNK	(4UL << 20)	/* checksum and write granule */
#define RT_WRITEBACK	(64UL << 20)	/* start the disk writing this often, so fsync has less left */
#define RT_GATHER_MAX	(64UL << 10)	/* runs up to this long are copied together before they are written */

static volatile long rt_writer_pid;
static volatile long rt_writer_result;	/* the last writer's, once reaped: see rt_wait_writer */
static volatile int rt_writer_reaping;	/* a thread is in wait4 for the writer */
char rt_image_path[RT_PATH_MAX];
static const char *rt_image_remote;	/* CKPT_IMAGE=shadow:NAME: NAME, kept on the shadow */
static const char *rt_image_command;	/* CKPT_IMAGE='|CMD': CMD, given each image on its stdin (stream.c) */
static char rt_image_tmp[RT_PATH_MAX + 64];

struct rt_ckpt_area {
	struct rt_ckpt_work work;
	unsigned char bounce[RT_CHUNK];		/* shared memory is copied before it is checksummed */
};

#define RT_SCRATCH_SIZE	((sizeof(struct rt_ckpt_area) + RT_SCRATCH_STACK + 4095) & ~4095UL)

/* Images made in a memfd and then sent on, rather than written to a file in place */
static int rt_image_in_memory(void)
{
	return rt_image_remote || rt_image_command;
}

/* Where images go (CKPT_IMAGE): 1, or 0 when the process does not checkpoint */
int rt_writer_target(const char *path)
{
	if (path && rt_starts_with(path, "shadow:")) {
		if (!rt_remote_on) {
			rt_write_all(2, RT_LITERAL("ckpt: CKPT_IMAGE=shadow:... needs CKPT_SHADOW; not checkpointing\n"));
			return 0;
		}
		rt_image_remote = path + RT_LITERAL_LEN("shadow:");
	} else if (path && path[0] == '|' && path[1]) {
		rt_image_command = path + 1;
	} else if (!path || !*path || rt_absolute_path(rt_image_path, path) < 0) {
		return 0;
	}
	if (!rt_image_in_memory())
		rt_publish_target(rt_image_path);
	return 1;
}

/* Bytes at src written at *off, checksummed chunk by chunk as they are written: one pass over memory */
static int rt_write_span(struct rt_ckpt_area *a, long fd, const unsigned char *src, uint64_t size, uint64_t *off,
			 int shared, uint32_t *crc)
{
	for (uint64_t done = 0; done < size;) {
		uint64_t n = size - done < RT_CHUNK ? size - done : RT_CHUNK;
		const unsigned char *chunk = src + done;
		if (shared)	/* another process may change it between checksum and write */
			chunk = rt_memcpy(a->bounce, chunk, n);
		*crc = rt_crc32c(*crc, chunk, n);
		int r = rt_pwrite_all(fd, chunk, n, *off);
		if (r)
			return r;
		done += n;
		*off += n;
		if ((*off & (RT_WRITEBACK - 1)) < n)
			rt_syscall4(__NR_sync_file_range, fd, (long)((*off - n) & ~(RT_WRITEBACK - 1)), RT_WRITEBACK,
				    SYNC_FILE_RANGE_WRITE);
	}
	return 0;
}

/* Runs of pages gathered in the bounce buffer, written with one call when it is full */
struct rt_gathered { uint64_t bytes, off; uint32_t crc; };

static int rt_flush_gathered(struct rt_ckpt_area *a, long fd, struct rt_gathered *g)
{
	int r = g->bytes ? rt_write_span(a, fd, a->bounce, g->bytes, &g->off, 0, &g->crc) : 0;
	g->bytes = 0;
	return r;
}

/*
 * One region's stored pages, extent after extent, back to back. Short runs (an incremental
 * image's scattered written pages) are copied together first: one write for many pages.
 */
static int rt_write_region(struct rt_ckpt_area *a, long fd, unsigned char *h)
{
	const unsigned char *p = h + CKPT_RH_SIZE;
	const unsigned char *base = (const unsigned char *)*(const uint64_t *)(p + CKPT_RG_START);
	uint32_t size = *(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE);
	struct rt_gathered g = { 0, *(uint64_t *)(h + CKPT_RH_DATA_OFFSET), 0 };
	int shared = *(uint32_t *)(h + CKPT_RH_FLAGS) & CKPT_REGION_SHARED, r = 0;
	for (uint32_t at = rt_region_extents_at(p, size); !r && at + CKPT_RE_SIZE <= size; at += CKPT_RE_SIZE) {
		uint64_t first = *(const uint64_t *)(p + at + CKPT_RE_FIRST), pages = *(const uint64_t *)(p + at + CKPT_RE_COUNT);
		const unsigned char *src = base + first * CKPT_IMAGE_PAGE;
		uint64_t len = pages * CKPT_IMAGE_PAGE;
		if (len > RT_GATHER_MAX) {
			r = rt_flush_gathered(a, fd, &g) ?: rt_write_span(a, fd, src, len, &g.off, shared, &g.crc);
			continue;
		}
		if (g.bytes + len > RT_CHUNK)
			r = rt_flush_gathered(a, fd, &g);
		rt_memcpy(a->bounce + g.bytes, src, len);
		g.bytes += len;
	}
	if (!r)
		r = rt_flush_gathered(a, fd, &g);
	*(uint32_t *)(h + CKPT_RH_DATA_CRC) = g.crc;
	return r;
}

/* Contents copied while the program was stopped (fdata.c), from where they are in the snapshot */
static int rt_write_snapshot(struct rt_ckpt_area *a, long fd, unsigned char *h)
{
	uint64_t off = *(uint64_t *)(h + CKPT_RH_DATA_OFFSET), size = *(uint64_t *)(h + CKPT_RH_DATA_SIZE);
	int64_t from = rt_snapshot_at(&a->work, *(uint32_t *)(h + CKPT_RH_SIZE));	/* every such record starts with its fd */
	uint32_t crc = 0;
	if (from < 0)
		return -EIO;
	for (uint64_t done = 0; done < size;) {
		uint64_t want = size - done < RT_CHUNK ? size - done : RT_CHUNK;
		long n = rt_syscall4(__NR_pread64, a->work.snapshot_fd, (long)a->bounce, (long)want, (long)((uint64_t)from + done));
		if (n <= 0)
			return n ? (int)n : -EIO;
		uint64_t at = off + done;
		int r = rt_write_span(a, fd, a->bounce, (uint64_t)n, &at, 0, &crc);
		if (r)
			return r;
		done += (uint64_t)n;
	}
	*(uint32_t *)(h + CKPT_RH_DATA_CRC) = crc;
	return 0;
}

/* Data first (region checksums are known only then), then records and header, then fsync */
static int rt_write_image(struct rt_ckpt_area *a, long fd)
{
	struct rt_ckpt_work *w = &a->work;
	rt_elide_zero_pages(w);		/* before the layout: it changes the records and the data offsets */
	unsigned char header[CKPT_IH_SIZE] = { 0 };
	uint64_t data_start = (CKPT_IH_SIZE + w->used + CKPT_IMAGE_PAGE - 1) & ~(uint64_t)(CKPT_IMAGE_PAGE - 1);
	int r = 0;
	for (size_t at = 0; !r && at < w->used;) {
		unsigned char *h = w->records + at;
		if (*(uint64_t *)(h + CKPT_RH_DATA_SIZE)) {
			*(uint64_t *)(h + CKPT_RH_DATA_OFFSET) += data_start;
			r = *(uint32_t *)(h + CKPT_RH_KIND) == CKPT_REC_REGION ? rt_write_region(a, fd, h)
									    : rt_write_snapshot(a, fd, h);
			*(uint32_t *)(h + CKPT_RH_CRC) = rt_crc32c(0, h, CKPT_RH_CRC);
		}
		at += CKPT_RH_SIZE + *(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE);
	}
	*(uint64_t *)(header + CKPT_IH_MAGIC) = CKPT_IMAGE_MAGIC;
	*(uint32_t *)(header + CKPT_IH_VERSION) = CKPT_IMAGE_VERSION;
	*(uint32_t *)(header + CKPT_IH_RECORDS) = w->count;
	*(uint64_t *)(header + CKPT_IH_FILE_SIZE) = data_start + w->data_end;
	*(uint64_t *)(header + CKPT_IH_BINARY_ID) = rt_binary_id();
	*(uint64_t *)(header + CKPT_IH_JOB_START) = rt_job.start;
	*(uint64_t *)(header + CKPT_IH_JOB_NONCE) = rt_job.nonce;
	*(uint64_t *)(header + CKPT_IH_GENERATION) = rt_job.generation;
	*(uint32_t *)(header + CKPT_IH_CRC) = rt_crc32c(0, header, CKPT_IH_CRC);
	if (!r)
		r = rt_pwrite_all(fd, w->records, w->used, CKPT_IH_SIZE);
	if (!r)
		r = rt_pwrite_all(fd, header, CKPT_IH_SIZE, 0);
	if (!r && rt_syscall2(__NR_ftruncate, fd, (long)(data_start + w->data_end)) < 0)
		r = -EIO;
	if (!r)
		r = (int)rt_syscall1(__NR_fsync, fd);
	return r;
}

static void rt_report_failure(long err)
{
	if (err == -ENOTRECOVERABLE)
		return;		/* refused: the state at fault was named when it was found */
	if (rt_image_command && err == -EIO) {
		const char *parts[] = { "ckpt: checkpoint failed: the image command failed: ", rt_image_command, "\n" };
		rt_write_line(parts, 3);
		return;
	}
	if (err == -ESTALE) {
		const char *parts[] = { "ckpt: checkpoint not put in place: ", rt_image_path, " holds a newer state of the job\n" };
		rt_write_line(parts, 3);
		return;
	}
	char msg[64] = "ckpt: checkpoint failed (error ";
	char *e = rt_utoa((uint64_t)-err, msg + rt_strlen(msg));
	rt_put(e, "), previous image kept\n");
	rt_write_all(2, msg, rt_strlen(msg));
}

/* Writes the image and puts it in place; on failure the previous image is untouched */
static long rt_finish_image(struct rt_ckpt_area *a)
{
	long r = rt_write_image(a, a->work.image_fd);
	if (rt_image_in_memory()) {
		if (!r)
			r = rt_image_remote ? rt_image_upload(a->work.image_fd, rt_image_remote, a->bounce)
					    : rt_image_to_command(a->work.image_fd, rt_image_command, a->bounce, RT_CHUNK);
		rt_syscall1(__NR_close, a->work.image_fd);
	} else {
		rt_syscall1(__NR_close, a->work.image_fd);
		if (!r)
			r = rt_publish(rt_image_tmp, a->work.incremental);
		else
			rt_syscall1(__NR_unlink, (long)rt_image_tmp);
	}
	if (r < 0)
		rt_report_failure(r);
	return r;
}

/* The writer process: a snapshot of the program, with no signals, no rseq and no SUD */
/*
 * Every descriptor but stdio (for its messages) and the writer's own: a copy of one of the
 * program's pipe ends here would keep a reader of the program's from seeing end of file (or a
 * writer from EPIPE) until the image is written, and a copy of a socket would keep it open
 */
static void rt_close_program_fds(const struct rt_ckpt_work *w)
{
	long keep[2] = { w->image_fd < w->snapshot_fd ? w->image_fd : w->snapshot_fd,
			 w->image_fd < w->snapshot_fd ? w->snapshot_fd : w->image_fd };
	long from = 3;
	for (int i = 0; i < 2; i++) {
		if (keep[i] < from)
			continue;
		if (keep[i] > from)
			rt_syscall3(__NR_close_range, from, keep[i] - 1, 0);
		from = keep[i] + 1;
	}
	rt_syscall3(__NR_close_range, from, ~0U, 0);
}

static _Noreturn void rt_writer(struct rt_ckpt_area *a)
{
	uint64_t all = ~0ULL;
	rt_syscall4(__NR_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, RT_SIGSET_SIZE);
	rt_close_program_fds(&a->work);
	rt_writer_reaping = 0;	/* this copy is the image: a stopped thread's reaping never ends in it */
	rt_rseq_pause(&a->work.self->rseq);	/* the kernel would write this copy's rseq area while it is saved */
	if (rt_image_remote)
		rt_remote_forked();	/* a session of its own for the upload */
	long r = rt_finish_image(a);
	rt_exit(r ? 1 : 0);
}

/*
 * The writer's outcome: 0, 1 while it is still writing (WNOHANG), or -EIO (a failed write, or a
 * writer the kernel reaped itself, the program having set SIGCHLD to SIG_IGN). Any thread may
 * reap it (every dispatch tries, rt_checkpoint_reap_writer), one at a time: the one that does
 * keeps the outcome for the others. A thread that finds another reaping and may not wait says
 * "still writing". (A dispatch holds checkpoint signals, so a handler never waits on its own
 * thread's reaping.)
 */
long rt_wait_writer(int options)
{
	int status = 0;
	long r;
	while (__atomic_exchange_n(&rt_writer_reaping, 1, __ATOMIC_ACQUIRE)) {
		if (options & WNOHANG)
			return rt_writer_pid > 0 ? 1 : rt_writer_result;
		rt_syscall0(__NR_sched_yield);
	}
	long pid = rt_writer_pid;
	if (pid > 0) {
		do
			r = rt_syscall4(__NR_wait4, pid, (long)&status, options | __WCLONE /* no SIGCHLD */, 0);
		while (r == -EINTR);
		if (r != 0) {
			rt_writer_result = r < 0 || status ? -EIO : 0;
			rt_writer_pid = 0;
		}
	}
	r = rt_writer_pid > 0 ? 1 : rt_writer_result;
	__atomic_store_n(&rt_writer_reaping, 0, __ATOMIC_RELEASE);
	return r;
}

static int rt_collect(struct rt_ckpt_work *w)
{
	int files = 0;
	rt_chain_begin(w, !rt_image_in_memory());
	if (rt_save_parent(w) || rt_save_process(w) || rt_save_regs(w) || rt_save_sigactions(w) || rt_save_threads(w) || (files = rt_save_files(w)) ||
	    rt_save_cwd_and_exe(w) || rt_save_rlimits(w) || rt_save_itimers(w) || rt_save_queued_signals(w) ||
	    rt_save_posix_timers(w) || rt_save_locks(w) || rt_save_task(w) || rt_save_memory(w))
		return files == RT_SAVE_REFUSED ? -ENOTRECOVERABLE : -ENOMEM;
	rt_chain_end(w);
	return (int)rt_vacate_refusal(w);
}

static void rt_close_snapshot(struct rt_ckpt_work *w)
{
	if (w->snapshot_fd >= 0)
		rt_syscall1(__NR_close, w->snapshot_fd);
	w->snapshot_fd = -1;
}

/* The image, from a writer process when one can be forked, else from here, the program stopped */
static long rt_write_out(struct rt_ckpt_area *a)
{
	rt_advice_around_fork(&a->work, 0);
	long pid = rt_syscall5(__NR_clone, 0 /* no SIGCHLD: the program's wait() never sees it */, 0, 0, 0, 0);
	if (pid == 0)
		rt_writer(a);
	rt_advice_around_fork(&a->work, 1);
	if (pid > 0) {
		rt_syscall1(__NR_close, a->work.image_fd);
		rt_writer_result = 0;
		rt_close_snapshot(&a->work);
		rt_writer_pid = pid;
		return 0;
	}
	rt_rseq_pause(&a->work.self->rseq);
	long r = rt_finish_image(a);
	rt_rseq_resume(&a->work.self->rseq);
	rt_close_snapshot(&a->work);
	return r;
}

/*
 * On the scratch stack. The image has the pid calls routed through the dispatcher (base/pids.c):
 * only a process made from it needs them translated. The other threads are stopped from before
 * the first record to the writer's fork, whose snapshot holds them as they were.
 */
static void rt_checkpoint_on_scratch(void *arg)
{
	struct rt_ckpt_area *a = arg;
	struct rt_ckpt_work *w = &a->work;
	if ((w->result = rt_check_unread_events(w))) {	/* before the temporary image is an event of its own */
		rt_report_failure(w->result);
		return;
	}
	w->image_fd = rt_image_in_memory()
		? rt_syscall2(__NR_memfd_create, (long)"ckpt-image", MFD_CLOEXEC)
		: rt_syscall4(__NR_openat, AT_FDCWD, (long)rt_image_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->image_fd < 0) {
		rt_report_failure(w->result = w->image_fd);
		return;
	}
	rt_pids_route(1);
	w->result = rt_stop_threads(w);
	if (!w->result)
		w->result = rt_collect(w);
	if (!w->result) {
		w->result = rt_write_out(a);	/* which reports its own failure */
		rt_resume_threads();
	} else {
		rt_resume_threads();
		rt_syscall1(__NR_close, w->image_fd);
		rt_close_snapshot(w);
		if (!rt_image_in_memory())
			rt_syscall1(__NR_unlink, (long)rt_image_tmp);
		rt_report_failure(w->result);
	}
	rt_pids_route(0);
}

/* Returns 0 when an image is in place or being written, or -errno */
long rt_checkpoint(int sig, void *uc, struct rt_thread *self)
{
	rt_wait_writer(0);	/* one writer at a time: each holds a copy-on-write snapshot */
	rt_writer_result = 0;
	rt_job.generation++;	/* before the snapshot: a restart from it goes on counting */
	if (!rt_image_in_memory())
		rt_publish_tmp_path(rt_image_tmp, rt_image_path);
	long scratch = rt_syscall6(__NR_mmap, 0, RT_SCRATCH_SIZE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (scratch < 0 && scratch > -4096) {
		rt_report_failure(scratch);
		return scratch;
	}
	struct rt_ckpt_area *a = (void *)scratch;
	a->work.uc = uc;
	a->work.snapshot_fd = -1;
	a->work.sig = sig;
	a->work.self = self;
	a->work.scratch_start = (uint64_t)scratch;
	a->work.scratch_end = (uint64_t)scratch + RT_SCRATCH_SIZE;
	rt_call_on_stack(rt_checkpoint_on_scratch, a, (char *)scratch + RT_SCRATCH_SIZE);
	long r = a->work.result;
	rt_syscall2(__NR_munmap, scratch, RT_SCRATCH_SIZE);
	return r;
}

/* A finished writer is reaped, not left a zombie: at the end of every dispatch */
void rt_checkpoint_reap_writer(void)
{
	if (rt_writer_pid && !rt_in_shared_child)
		rt_wait_writer(WNOHANG);
}

/* A forked child: the parent's writer is not its child */
void rt_writer_forget(void)
{
	rt_writer_pid = 0;
	rt_writer_result = 0;
	rt_writer_reaping = 0;
}
