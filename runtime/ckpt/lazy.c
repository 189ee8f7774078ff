/*
 * Memory mapped from the image. A restart maps each region's large extents MAP_PRIVATE from the
 * image file instead of reading them in (the restorer, RT_MAP_IMAGE): the kernel brings a page in
 * on its first touch, from the page cache, whether the program or a system call touches it, and
 * copies it on the first write. CKPT_LAZY chooses (docs/tactics.md, "Restart"):
 *   0      every stored page read into anonymous memory (the image may then change or go at once);
 *   unset  every data byte checked, then mapped: the eager restart;
 *   1      everything but the data checked, then mapped, and the program runs at once while a
 *          verifier process reads the data (filling the page cache) and checks its checksums: a
 *          failure stops the program with SIGKILL and one line on stderr.
 * What the program must not tell apart from the anonymous memory it had:
 * - MADV_DONTNEED and MADV_FREE would bring the image's bytes back where it expects zeros: the
 *   runtime puts fresh anonymous memory over those ranges first (rt_sys_madvise); advice only
 *   anonymous memory takes (MADV_WIPEONFORK, MADV_MERGEABLE) gets anonymous memory, contents
 *   copied; and so does a mapping mremap grows, which would take the image's next bytes
 *   (rt_sys_mremap). The restart maps no region with such advice from the image;
 * - a checkpoint must store those pages, which pagemap calls a file's: memory.c stores a region
 *   of the image whole, as anonymous memory (rt_image_backed);
 * - a checkpoint waits for the verifier, so that a corrupt image is never written again as a
 *   sound one (rt_lazy_settle);
 * - /proc/self/maps names the image, and a program that writes into the image file in place
 *   changes its own memory (docs/limits.md).
 */
#include "ckpt/restore.h"

/* The restored runtime's (poked by the restorer, restore.c): the image file regions map, 0: none;
 * the read end of the verifier's pipe, which reaches its end once the verifier is done */
uint64_t rt_image_dev, rt_image_ino;
long rt_verifier_fd = -1;

#define RT_VERIFY_CHUNK	(4UL << 20)	/* between two looks at whether the program still runs */
#define RT_VERIFIER_NICE	10		/* the program first: it is what the user waits for */

int rt_pages_from_env(char **envp)
{
	const char *v = rt_getenv(envp, "CKPT_LAZY");
	if (v && rt_streq(v, "0"))
		return RT_PAGES_READ;
	return v && rt_streq(v, "1") ? RT_PAGES_LAZY : RT_PAGES_MAP;
}

/* Whether a mapping of the current process is the image's (a region a restart mapped from it) */
int rt_image_backed(const struct rt_map *m)
{
	return rt_image_ino && !m->shared && m->inode == rt_image_ino && m->dev == rt_image_dev;
}

/* The checksums of every record's data: 0 when all are right. pidfd >= 0: stop early (1) once
 * that process has ended. */
static int rt_data_corrupt(const struct rt_image *im, long pidfd)
{
	uint64_t at = CKPT_IH_SIZE;
	for (uint32_t i = 0; i < im->records; i++) {
		const unsigned char *h = im->base + at;
		uint64_t doff = u64at(h, CKPT_RH_DATA_OFFSET), dsize = u64at(h, CKPT_RH_DATA_SIZE);
		uint32_t crc = 0;
		for (uint64_t done = 0; done < dsize; done += RT_VERIFY_CHUNK) {
			struct { int fd; short events, revents; } gone = { (int)pidfd, POLLIN, 0 };
			if (pidfd >= 0 && rt_syscall3(__NR_poll, (long)&gone, 1, 0) > 0)
				return 0;
			uint64_t n = dsize - done < RT_VERIFY_CHUNK ? dsize - done : RT_VERIFY_CHUNK;
			crc = rt_crc32c(crc, im->base + doff + done, n);
		}
		if (dsize && crc != u32at(h, CKPT_RH_DATA_CRC))
			return 1;
		at += CKPT_RH_SIZE + u32at(h, CKPT_RH_PAYLOAD_SIZE);
	}
	return 0;
}

/* Every descriptor closed but the ones kept (sorted, distinct): the verifier holds none of the
 * program's pipes open */
static void rt_close_all_but(const long *keep, int n)
{
	long from = 0;
	for (int i = 0; i < n; i++) {
		if (keep[i] > from)
			rt_syscall3(__NR_close_range, from, keep[i] - 1, 0);
		from = keep[i] + 1;
	}
	rt_syscall3(__NR_close_range, from, ~0U, 0);
}

/* Sorts a few descriptors in place */
static void rt_sort_fds(long *fds, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && fds[j] < fds[j - 1]; j--) {
			long t = fds[j];
			fds[j] = fds[j - 1];
			fds[j - 1] = t;
		}
}

/*
 * The verifier (a grandchild: the program never sees it as a child): it waits until the restorer
 * has closed the go pipe (memory in place: the restart is not slowed down), then checks the
 * image's data at a lower priority than the program's, and stops the program if it is corrupt.
 * Its end closes the pipe the program's checkpoints wait on.
 */
static _Noreturn void rt_verifier(const struct rt_image *im, long pidfd, long done_end, long go_end)
{
	long keep[4] = { 2, pidfd, done_end, go_end };
	char c;
	rt_sort_fds(keep, 4);
	rt_close_all_but(keep, 4);
	while (rt_syscall3(__NR_read, go_end, (long)&c, 1) == -EINTR)
		;
	rt_syscall3(__NR_setpriority, PRIO_PROCESS, 0, RT_VERIFIER_NICE);
	if (!rt_data_corrupt(im, pidfd))
		rt_exit(0);
	rt_syscall4(__NR_pidfd_send_signal, pidfd, SIGKILL, 0, 0);
	const char *parts[] = { "ckpt: restarted from ", im->name, ": memory contents are corrupt (checksum): "
				"the program was stopped (CKPT_LAZY=1)\n" };
	rt_write_line(parts, 3);
	rt_exit(CKPT_EXIT_BAD_IMAGE);
}

/* The data checked now, as an eager restart does: refused, nothing changed, when it is corrupt */
static void rt_check_data_now(const struct rt_image *im)
{
	if (rt_data_corrupt(im, -1))
		rt_refuse(im, "memory contents are corrupt (checksum)");
}

/*
 * CKPT_LAZY=1, once the program's descriptors are placed: the verifier started. Two pipes: the
 * restored runtime keeps the read end of "done" (returned), the restorer closes the write end of
 * "go" (*go), both moved above every descriptor the restart holds. Without a verifier (no pidfd,
 * no fork), the data is checked here, and -1 returned.
 */
long rt_start_verifier(const struct rt_image *im, long *go)
{
	int done[2], start[2], status = -1;
	long pidfd = rt_syscall2(__NR_pidfd_open, rt_syscall0(__NR_getpid), 0), fd = -1;
	*go = -1;
	if (pidfd >= 0 && rt_syscall2(__NR_pipe2, (long)done, O_CLOEXEC) == 0) {
		if (rt_syscall2(__NR_pipe2, (long)start, O_CLOEXEC) == 0) {
			long child = rt_syscall0(__NR_fork);
			if (child == 0) {
				long verifier = rt_syscall0(__NR_fork);
				if (verifier == 0)
					rt_verifier(im, pidfd, done[1], start[0]);
				rt_exit(verifier < 0);
			}
			if (child > 0)
				rt_syscall4(__NR_wait4, child, (long)&status, 0, 0);
			if (status == 0)
				*go = rt_syscall3(__NR_fcntl, start[1], F_DUPFD_CLOEXEC, im->fd + 1);
			rt_syscall1(__NR_close, start[0]);
			rt_syscall1(__NR_close, start[1]);
		}
		if (*go >= 0)
			fd = rt_syscall3(__NR_fcntl, done[0], F_DUPFD_CLOEXEC, im->fd + 1);
		rt_syscall1(__NR_close, done[0]);
		rt_syscall1(__NR_close, done[1]);
	}
	if (pidfd >= 0)
		rt_syscall1(__NR_close, pidfd);
	if (fd < 0)
		rt_check_data_now(im);	/* no verifier runs (or it cannot be waited for): nothing left unchecked */
	return fd;
}

/* Before a checkpoint: the verifier done (its pipe at its end), so that what is written is sound */
void rt_lazy_settle(void)
{
	struct rt_stat st;
	char c;
	if (rt_verifier_fd < 0)
		return;
	if (rt_syscall2(__NR_fstat, rt_verifier_fd, (long)&st) == 0 && (st.mode & S_IFMT) == S_IFIFO)
		while (rt_syscall3(__NR_read, rt_verifier_fd, (long)&c, 1) == -EINTR)
			;
	rt_syscall1(__NR_close, rt_verifier_fd);
	rt_verifier_fd = -1;
}

/* The image's mappings in [lo, hi) made anonymous: with zeros (drop), or with their contents */
static long rt_replace_piece(uint64_t from, uint64_t len, uint32_t prot, int drop)
{
	long anon = rt_syscall6(__NR_mmap, drop ? (long)from : 0, (long)len, drop ? prot : PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | (drop ? MAP_FIXED : 0), -1, 0);
	if (anon < 0 && anon > -4096)
		return anon;
	if (drop)
		return 0;
	if (!(prot & PROT_READ))	/* it is replaced next: the program cannot see it readable */
		rt_syscall3(__NR_mprotect, (long)from, (long)len, PROT_READ);
	rt_memcpy((void *)anon, (const void *)from, len);
	rt_syscall3(__NR_mprotect, anon, (long)len, prot);
	long moved = rt_syscall5(__NR_mremap, anon, (long)len, (long)len, MREMAP_MAYMOVE | MREMAP_FIXED, (long)from);
	if (moved != (long)from) {
		rt_syscall2(__NR_munmap, anon, (long)len);
		return moved < 0 ? moved : -ENOMEM;
	}
	return 0;
}

static long rt_replace_image_ranges(uint64_t lo, uint64_t hi, int drop)
{
	static char text[256 * 1024];
	static int lock;
	struct rt_map m;
	long r = 0;
	while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
		rt_syscall0(__NR_sched_yield);
	long used = rt_read_file("/proc/thread-self/maps", text, sizeof text);
	if (used < 0 || (size_t)used + 1 >= sizeof text)
		r = -ENOMEM;
	for (const char *s = text; !r && *s;) {
		s = rt_parse_map(s, &m);
		if (!rt_image_backed(&m) || m.end <= lo || m.start >= hi)
			continue;
		uint64_t from = m.start > lo ? m.start : lo, to = m.end < hi ? m.end : hi;
		r = rt_replace_piece(from, to - from, m.prot, drop);
	}
	__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
	return r;
}

/* The image's memory in [addr, addr + len) as anonymous memory with the same contents: for calls
 * that treat a file's mapping otherwise (incremental tracking may need it too) */
long rt_materialize_image_ranges(uint64_t addr, uint64_t len)
{
	if (!rt_image_ino || (addr & 4095) || !len || addr + len < addr)
		return 0;
	return rt_replace_image_ranges(addr, (addr + len + 4095) & ~4095UL, 0);
}

/*
 * madvise: advice that drops pages leaves zeros in memory that was anonymous, as it did before;
 * advice the kernel takes only for anonymous memory (wipe on fork, KSM) gets it, contents kept.
 */
long rt_sys_madvise(uint64_t addr, uint64_t len, long advice)
{
	int drops = advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_DONTNEED_LOCKED;
	int anonymous_only = advice == MADV_WIPEONFORK || advice == MADV_KEEPONFORK || advice == MADV_MERGEABLE;
	if (rt_image_ino && (drops || anonymous_only) && !(addr & 4095) && len && addr + len > addr) {
		long r = rt_replace_image_ranges(addr, (addr + len + 4095) & ~4095UL, drops);
		if (r < 0)
			return r;
	}
	return rt_syscall3(__NR_madvise, (long)addr, (long)len, advice);
}

/* mremap: a mapping of the image that grows would take the image's next bytes (or SIGBUS past its
 * end) where anonymous memory has zeros: what grows becomes anonymous first */
long rt_sys_mremap(uint64_t addr, uint64_t old_len, uint64_t new_len, long flags, uint64_t to)
{
	if (new_len > old_len) {
		long r = rt_materialize_image_ranges(addr, old_len);
		if (r < 0)
			return r;
	}
	return rt_syscall5(__NR_mremap, (long)addr, (long)old_len, (long)new_len, flags, (long)to);
}
