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
#define RT_GATHER_MAX	(64UL << 10)	/* into a file, runs up to this long are copied together before they are written */

static volatile long rt_writer_pid;
static volatile long rt_writer_result;	/* the last writer's, once reaped: see rt_wait_writer */
static volatile int rt_writer_reaping;	/* a thread is in wait4 for the writer */
char rt_image_path[RT_PATH_MAX];
static const char *rt_image_remote;	/* CKPT_IMAGE=shadow:NAME: NAME, kept on the shadow */
static const char *rt_image_command;	/* CKPT_IMAGE='|CMD': CMD, given each image on its stdin (stream.c) */
static char rt_image_tmp[RT_PATH_MAX + 64];

struct rt_ckpt_area {
	struct rt_ckpt_work work;
	unsigned char bounce[RT_CHUNK];		/* the snapshot's copies pass through it */
};

#define RT_SCRATCH_SIZE	((sizeof(struct rt_ckpt_area) + RT_SCRATCH_STACK + 4095) & ~4095UL)

/* Images not written to a local file: on the shadow, or given to a command */
static int rt_image_elsewhere(void)
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
	if (!rt_image_elsewhere())
		rt_publish_target(rt_image_path);
	return 1;
}


/*
 * Where the image's bytes go. A file takes them at their offsets, data first and header last. A
 * command's pipe (CKPT_IMAGE='|CMD') takes them only in order, header first: the records need
 * their data's checksums, so a first pass checksums the snapshot and a second writes it, reading
 * memory twice rather than staging the whole image (a memfd of the image's size cost as much
 * again as the writing: fresh memory on these machines). Both passes read the same bytes: the
 * writer's memory is a copy-on-write snapshot, and shared memory, which is not, was copied while
 * the program was stopped (fdata.c).
 */
struct rt_sink {
	long fd;
	int in_order;		/* a pipe: bytes at increasing offsets, gaps written as zeros */
	int splice;		/* in_order: the snapshot's memory goes in by reference (rt_splice_all) */
	int pass;		/* RT_PASS_* */
	uint64_t at;		/* in_order: bytes written so far */
	long remote;		/* CKPT_IMAGE=shadow:NAME: the temporary image's handle on the shadow, else -1 */
	unsigned char *copy;	/* remote: a chunk of memory is copied here before it is checksummed and sent */
};

#define RT_PASS_BOTH	0	/* checksum and write (a file) */
#define RT_PASS_SUM	1	/* checksum only: in_order's first pass */
#define RT_PASS_WRITE	2	/* write only: in_order's second pass, the checksums known */

/* A pipe's bytes up to `to`, as zeros: the gaps between an in-order image's parts */
static int rt_sink_pad(struct rt_sink *s, uint64_t to)
{
	static const char zeros[4096];
	while (s->at < to) {
		uint64_t n = to - s->at < sizeof zeros ? to - s->at : sizeof zeros;
		int r = rt_write_all((int)s->fd, zeros, (size_t)n);
		if (r < 0)
			return r;
		s->at += n;
	}
	return 0;
}

/*
 * Memory that stays as it is until the reader has it (the writer's snapshot: the program's writes
 * land in its own copies) goes into the pipe by reference (vmsplice), not copied: the command's
 * read is then the only copy. 0, or -errno; -EINVAL only when the kernel refused the first byte.
 */
static int rt_splice_all(long fd, const unsigned char *buf, uint64_t len)
{
	for (uint64_t done = 0; done < len;) {
		struct { const void *base; uint64_t len; } iov = { buf + done, len - done };
		long n = rt_syscall4(__NR_vmsplice, fd, (long)&iov, 1, 0);
		if (n == -EINTR)
			continue;
		if (n == -EINVAL && !done)
			return -EINVAL;
		if (n <= 0)
			return n && n != -EINVAL ? (int)n : -EIO;
		done += (uint64_t)n;
	}
	return 0;
}

/* len bytes at off; `stable`: buf is the snapshot's memory, not a buffer used again */
static int rt_sink_write(struct rt_sink *s, const void *buf, uint64_t len, uint64_t off, int stable)
{
	if (s->remote >= 0)
		return (int)rt_image_remote_pwrite(s->remote, buf, len, off);
	if (!s->in_order)
		return rt_pwrite_all(s->fd, buf, len, off);
	if (off < s->at)
		return -EIO;	/* the layout is in increasing offsets: anything else is a bug, not an image */
	int r = rt_sink_pad(s, off), by_reference = stable && s->splice;
	if (!r && by_reference && (r = rt_splice_all(s->fd, buf, len)) == -EINVAL) {
		s->splice = by_reference = 0;	/* refused before any byte: copied, from now on */
		r = 0;
	}
	if (!r && !by_reference)
		r = rt_write_all((int)s->fd, buf, (size_t)len);
	if (!r)
		s->at += len;
	return r;
}

/* Bytes at src written at *off, checksummed chunk by chunk as they are written: one pass over memory */
static int rt_write_span(struct rt_sink *s, const unsigned char *src, uint64_t size, uint64_t *off, uint32_t *crc, int stable)
{
	for (uint64_t done = 0; done < size;) {
		uint64_t n = size - done < RT_CHUNK ? size - done : RT_CHUNK;
		const unsigned char *chunk = src + done;
		if (s->remote >= 0 && stable)	/* the shadow's calls write the runtime's buffers: in this snapshot */
			chunk = rt_memcpy(s->copy, chunk, n);
		if (s->pass != RT_PASS_WRITE)
			*crc = rt_crc32c(*crc, chunk, n);
		if (s->pass != RT_PASS_SUM) {
			int r = rt_sink_write(s, chunk, n, *off, stable);
			if (r)
				return r;
		}
		done += n;
		*off += n;
		if (!s->in_order && s->remote < 0 && (*off & (RT_WRITEBACK - 1)) < n)
			rt_syscall4(__NR_sync_file_range, s->fd, (long)((*off - n) & ~(RT_WRITEBACK - 1)), RT_WRITEBACK,
				    SYNC_FILE_RANGE_WRITE);
	}
	return 0;
}

/* A record's data copied while the program was stopped: `size` bytes at `from` in the snapshot */
static int rt_write_from_snapshot(struct rt_ckpt_area *a, struct rt_sink *s, int64_t from, uint64_t off, uint64_t size,
				  uint32_t *crc)
{
	if (from < 0)
		return -EIO;
	for (uint64_t done = 0; done < size;) {
		uint64_t want = size - done < RT_CHUNK ? size - done : RT_CHUNK;
		long n = rt_syscall4(__NR_pread64, a->work.snapshot_fd, (long)a->bounce, (long)want, (long)((uint64_t)from + done));
		if (n <= 0)
			return n ? (int)n : -EIO;
		uint64_t at = off + done;
		int r = rt_write_span(s, a->bounce, (uint64_t)n, &at, crc, 0);
		if (r)
			return r;
		done += (uint64_t)n;
	}
	return 0;
}

/* Short runs of pages gathered in the bounce buffer, written with one call when it is full */
struct rt_gathered { uint64_t bytes, off; };

static int rt_flush_gathered(struct rt_ckpt_area *a, struct rt_sink *s, struct rt_gathered *g, uint32_t *crc)
{
	int r = g->bytes ? rt_write_span(s, a->bounce, g->bytes, &g->off, crc, 0) : 0;
	g->bytes = 0;
	return r;
}

/*
 * One region's stored pages, extent after extent, back to back; shared memory's from its copy.
 * Into a file, short runs (an incremental image's scattered written pages) are copied together
 * first: one write for many pages, not one each.
 */
static int rt_write_region(struct rt_ckpt_area *a, struct rt_sink *s, unsigned char *h, uint32_t *crc)
{
	const unsigned char *p = h + CKPT_RH_SIZE;
	uint64_t start = *(const uint64_t *)(p + CKPT_RG_START);
	uint32_t size = *(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE);
	struct rt_gathered g = { 0, *(uint64_t *)(h + CKPT_RH_DATA_OFFSET) };
	int gather = !s->in_order && s->remote < 0, r = 0;
	if (*(uint32_t *)(h + CKPT_RH_FLAGS) & CKPT_REGION_SHARED)
		return rt_write_from_snapshot(a, s, rt_shared_snapshot_at(&a->work, start), g.off,
					      *(uint64_t *)(h + CKPT_RH_DATA_SIZE), crc);
	for (uint32_t at = rt_region_extents_at(p, size); !r && at + CKPT_RE_SIZE <= size; at += CKPT_RE_SIZE) {
		uint64_t first = *(const uint64_t *)(p + at + CKPT_RE_FIRST), len = *(const uint64_t *)(p + at + CKPT_RE_COUNT) * CKPT_IMAGE_PAGE;
		const unsigned char *src = (const unsigned char *)start + first * CKPT_IMAGE_PAGE;
		if (!gather || len > RT_GATHER_MAX) {
			r = rt_flush_gathered(a, s, &g, crc) ?: rt_write_span(s, src, len, &g.off, crc, 1);
			continue;
		}
		if (g.bytes + len > RT_CHUNK)
			r = rt_flush_gathered(a, s, &g, crc);
		rt_memcpy(a->bounce + g.bytes, src, len);
		g.bytes += len;
	}
	return r ?: rt_flush_gathered(a, s, &g, crc);
}

/* Contents copied while the program was stopped (fdata.c), from where they are in the snapshot */
static int rt_write_snapshot(struct rt_ckpt_area *a, struct rt_sink *s, unsigned char *h, uint32_t *crc)
{
	int64_t from = rt_snapshot_at(&a->work, *(uint32_t *)(h + CKPT_RH_SIZE));	/* every such record starts with its fd */
	return rt_write_from_snapshot(a, s, from, *(uint64_t *)(h + CKPT_RH_DATA_OFFSET), *(uint64_t *)(h + CKPT_RH_DATA_SIZE), crc);
}

/* Every record's data, in record order (which is the data area's order); its checksums once known */
static int rt_write_data(struct rt_ckpt_area *a, struct rt_sink *s, int pass)
{
	struct rt_ckpt_work *w = &a->work;
	s->pass = pass;
	for (size_t at = 0; at < w->used;) {
		unsigned char *h = w->records + at;
		at += CKPT_RH_SIZE + *(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE);
		if (!*(uint64_t *)(h + CKPT_RH_DATA_SIZE))
			continue;
		uint32_t crc = 0;
		int r = *(uint32_t *)(h + CKPT_RH_KIND) == CKPT_REC_REGION ? rt_write_region(a, s, h, &crc)
									   : rt_write_snapshot(a, s, h, &crc);
		if (r)
			return r;
		if (pass != RT_PASS_WRITE) {
			*(uint32_t *)(h + CKPT_RH_DATA_CRC) = crc;
			*(uint32_t *)(h + CKPT_RH_CRC) = rt_crc32c(0, h, CKPT_RH_CRC);
		}
	}
	return 0;
}

/* Zero pages taken out and the data area placed after the records: every data offset final */
static uint64_t rt_lay_out(struct rt_ckpt_work *w)
{
	rt_elide_zero_pages(w);		/* before the layout: it changes the records and the data offsets */
	uint64_t data_start = (CKPT_IH_SIZE + w->used + CKPT_IMAGE_PAGE - 1) & ~(uint64_t)(CKPT_IMAGE_PAGE - 1);
	for (size_t at = 0; at < w->used;) {
		unsigned char *h = w->records + at;
		if (*(uint64_t *)(h + CKPT_RH_DATA_SIZE))
			*(uint64_t *)(h + CKPT_RH_DATA_OFFSET) += data_start;
		at += CKPT_RH_SIZE + *(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE);
	}
	return data_start;
}

static void rt_fill_header(const struct rt_ckpt_work *w, unsigned char *header, uint64_t file_size)
{
	*(uint64_t *)(header + CKPT_IH_MAGIC) = CKPT_IMAGE_MAGIC;
	*(uint32_t *)(header + CKPT_IH_VERSION) = CKPT_IMAGE_VERSION;
	*(uint32_t *)(header + CKPT_IH_RECORDS) = w->count;
	*(uint64_t *)(header + CKPT_IH_FILE_SIZE) = file_size;
	*(uint64_t *)(header + CKPT_IH_BINARY_ID) = rt_binary_id();
	*(uint64_t *)(header + CKPT_IH_JOB_START) = rt_job.start;
	*(uint64_t *)(header + CKPT_IH_JOB_NONCE) = rt_job.nonce;
	*(uint64_t *)(header + CKPT_IH_GENERATION) = rt_job.generation;
	*(uint32_t *)(header + CKPT_IH_CRC) = rt_crc32c(0, header, CKPT_IH_CRC);
}

/* At offsets: data first (region checksums are known only then), then records and header */
static int rt_write_image_at_offsets(struct rt_ckpt_area *a, struct rt_sink *s, uint64_t *file_size)
{
	struct rt_ckpt_work *w = &a->work;
	unsigned char header[CKPT_IH_SIZE] = { 0 };
	*file_size = rt_lay_out(w) + w->data_end;
	int r = rt_write_data(a, s, RT_PASS_BOTH);
	rt_fill_header(w, header, *file_size);
	if (!r)
		r = rt_sink_write(s, w->records, w->used, CKPT_IH_SIZE, 0);
	if (!r)
		r = rt_sink_write(s, header, CKPT_IH_SIZE, 0, 0);
	return r;
}

/* A file, then its size set (the last data may end short of it) and fsync */
static int rt_write_image_file(struct rt_ckpt_area *a, long fd)
{
	struct rt_sink s = { .fd = fd, .remote = -1 };
	uint64_t size;
	int r = rt_write_image_at_offsets(a, &s, &size);
	if (!r && rt_syscall2(__NR_ftruncate, fd, (long)size) < 0)
		r = -EIO;
	if (!r)
		r = (int)rt_syscall1(__NR_fsync, fd);
	return r;
}

/* The shadow's /.ckpt/NAME, written as a file is, straight from the snapshot, then renamed into place */
static long rt_image_to_shadow(struct rt_ckpt_area *a)
{
	struct rt_sink s = { .fd = -1, .remote = rt_image_remote_open(rt_image_remote), .copy = a->bounce };
	uint64_t size = 0;
	if (s.remote < 0)
		return s.remote == RT_RECONNECTED ? -EIO : s.remote;
	long r = rt_write_image_at_offsets(a, &s, &size);
	return rt_image_remote_finish(s.remote, rt_image_remote, size, r);
}

/* A pipe: checksums first, then the image front to back, the same bytes a file would hold */
static int rt_write_image_in_order(struct rt_ckpt_area *a, long fd)
{
	struct rt_ckpt_work *w = &a->work;
	struct rt_sink s = { .fd = fd, .in_order = 1, .splice = 1, .remote = -1 };
	unsigned char header[CKPT_IH_SIZE] = { 0 };
	uint64_t data_start = rt_lay_out(w), file_size = data_start + w->data_end;
	int r = rt_write_data(a, &s, RT_PASS_SUM);
	rt_fill_header(w, header, file_size);
	if (!r)
		r = rt_sink_write(&s, header, CKPT_IH_SIZE, 0, 0);
	if (!r)
		r = rt_sink_write(&s, w->records, w->used, CKPT_IH_SIZE, 0);
	if (!r)
		r = rt_write_data(a, &s, RT_PASS_WRITE);
	if (!r)
		r = rt_sink_pad(&s, file_size);
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

/* The image to `|CMD`'s stdin; 0 once the command has taken it all and exited 0, or -errno */
static long rt_image_to_command(struct rt_ckpt_area *a)
{
	long pid, fd = rt_command_start(rt_image_command, 1, &pid);
	if (fd < 0)
		return fd;
	long r = rt_write_image_in_order(a, fd);
	if (r < 0)	/* before its stdin ends: half an image must not look like a whole one */
		rt_syscall2(__NR_kill, pid, SIGKILL);
	rt_syscall1(__NR_close, fd);	/* end of file for the command (EPIPE above if it quit early) */
	long status = rt_command_status(pid);
	return r < 0 ? r : status;
}

/* Writes the image and puts it in place; on failure the previous image is untouched */
static long rt_finish_image(struct rt_ckpt_area *a)
{
	long r;
	if (rt_image_command) {
		r = rt_image_to_command(a);
	} else if (rt_image_remote) {
		r = rt_image_to_shadow(a);
	} else {
		r = rt_write_image_file(a, a->work.image_fd);
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
	rt_chain_begin(w, !rt_image_elsewhere());
	if (rt_save_parent(w) || rt_save_process(w) || rt_save_regs(w) || rt_save_sigactions(w) || rt_save_threads(w) || (files = rt_save_files(w)) ||
	    rt_save_cwd_and_exe(w) || rt_save_rlimits(w) || rt_save_itimers(w) || rt_save_queued_signals(w) ||
	    rt_save_posix_timers(w) || rt_save_locks(w) || rt_save_task(w) || rt_save_sysv_ipc(w) || rt_save_memory(w))
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
	w->image_fd = rt_image_elsewhere() ? -1	/* the writer starts the command, or opens the shadow's file */
		: rt_publish_open_tmp(rt_image_tmp);
	if (w->image_fd < 0 && !rt_image_elsewhere()) {
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
		if (!rt_image_elsewhere())
			rt_syscall1(__NR_unlink, (long)rt_image_tmp);
		rt_report_failure(w->result);
	}
	rt_pids_route(0);
}

/* Returns 0 when an image is in place or being written, or -errno */
long rt_checkpoint(int sig, void *uc, struct rt_thread *self)
{
	rt_wait_writer(0);	/* one writer at a time: each holds a copy-on-write snapshot */
	rt_lazy_settle();	/* the image it restarted from checked whole before anything is written */
	rt_writer_result = 0;
	rt_job.generation++;	/* before the snapshot: a restart from it goes on counting */
	if (!rt_image_elsewhere())
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
	if (rt_writer_pid && !rt_in_shared_child())
		rt_wait_writer(WNOHANG);
}

/* A forked child: the parent's writer is not its child */
void rt_writer_forget(void)
{
	rt_writer_pid = 0;
	rt_writer_result = 0;
	rt_writer_reaping = 0;
}
