/*
 * Write tracking for incremental checkpoints. Contract: a page of a tracked range that the scan
 * does not report as written holds what it held at the last checkpoint; anything the runtime
 * cannot vouch for that way is untracked, and an untracked page is stored as a full image would
 * store it. So every doubt costs bytes, never correctness.
 *
 * How: after a checkpoint, the private writable memory is registered with the runtime's own
 * userfaultfd in asynchronous write-protect mode (UFFD_FEATURE_WP_ASYNC: the kernel resolves the
 * faults itself, with no handler thread, and only clears the page's protection bit) and
 * write-protected; the next checkpoint asks PAGEMAP_SCAN for the pages whose bit is clear
 * (PAGE_IS_WRITTEN), protecting them again in the same call (PM_SCAN_WP_MATCHING). The ranges so
 * protected are the tracked set. A call that could change a page without the kernel's clearing
 * its bit (munmap, mremap, mprotect, madvise's discards, MAP_FIXED mmap, a brk that shrinks) takes
 * its range out of the set before it is made: a thread stopped by a checkpoint after that point
 * leaves the set only smaller. A set being edited when the checkpoint stopped the process is not
 * trusted at all (the whole checkpoint is then full).
 *
 * The descriptor sits high (rt_high_fd), is never saved (files.c), and is checked to be the same
 * userfaultfd before each use: a program that closed it (close_range) gets full images, as does a
 * forked child (whose memory the kernel does not register) and a restarted process until its first
 * checkpoint has registered its memory again.
 */
#include "ckpt/save.h"

#define RT_MAX_TRACKED	4096
#define RT_SCAN_VEC	512	/* page runs one PAGEMAP_SCAN call returns */

struct rt_range { uint64_t start, end; };

static struct {
	long uffd;		/* -1: none */
	long pagemap;		/* /proc/self/pagemap, kept open with the userfaultfd */
	uint64_t uffd_ino, pagemap_ino;	/* their inodes, to know the descriptors are still ours */
	uint64_t pid, restarts;	/* the process and run that registered the memory */
	uint64_t brk;		/* the break as last seen, 0 when unknown */
	volatile int editing;	/* a thread is changing the set (a lock: the set is not to be trusted meanwhile) */
	struct rt_thread *editor;	/* which one */
	volatile int poisoned;	/* an edit was cut off or skipped: the set is not trusted, and rebuilt whole at the next checkpoint */
	int off;		/* no CKPT_INCREMENTAL=1, or the kernel lacks the feature (said once) */
	long n;
	struct rt_range r[RT_MAX_TRACKED];
	struct page_region vec[RT_SCAN_VEC];
} rt_track = { .uffd = -1, .pagemap = -1 };

void rt_track_init(char **envp)
{
	const char *v = rt_getenv(envp, "CKPT_INCREMENTAL");
	rt_track.off = !(v && rt_streq(v, "1"));	/* opt-in: an image then needs its links (docs/image-format.md) */
}

/* The kernel cannot track: said once, and images are full from then on */
static void rt_track_unavailable(const char *why)
{
	if (rt_track.off)
		return;
	rt_track.off = 1;
	const char *parts[] = { "ckpt: incremental checkpoints unavailable (", why, "): every image is full\n" };
	rt_write_line(parts, 3);
}

static uint64_t rt_inode_of(long fd)
{
	struct rt_stat st;
	return rt_syscall2(__NR_fstat, fd, (long)&st) < 0 ? 0 : st.ino;
}

/* The descriptors were opened by this process in this run: not a forked child's, nor a restarted one's copy of the numbers */
static int rt_track_mine(void)
{
	return rt_track.pid == rt_ids_real.pid && rt_track.restarts == rt_job.generation >> CKPT_GEN_RESTART_SHIFT;
}

/* The set belongs to this process and run, its descriptor is still our userfaultfd, and no edit was cut off */
int rt_track_ready(void)
{
	return rt_track.uffd >= 0 && rt_track_mine() && !rt_track.editing && !rt_track.poisoned &&
	       rt_inode_of(rt_track.uffd) == rt_track.uffd_ino;
}

/* Whether images get chain links at all: with CKPT_INCREMENTAL=1, on a kernel that can track */
int rt_track_wanted(void)
{
	return !rt_track.off;
}

int rt_track_owns_fd(long fd)
{
	return fd >= 0 && (fd == rt_track.uffd || fd == rt_track.pagemap) && rt_track_mine();
}

static void rt_close_if_same(long fd, uint64_t ino)
{
	if (fd >= 0 && rt_inode_of(fd) == ino)
		rt_syscall1(__NR_close, fd);
}

/*
 * The set emptied, and the descriptors closed if `own` (this run opened them: in a restarted
 * process the numbers are the old process's, possibly the program's descriptors now) and still
 * what they were (the program may have closed one and got the number back for a file of its own)
 */
static void rt_track_drop(int own)
{
	if (own) {
		rt_close_if_same(rt_track.uffd, rt_track.uffd_ino);
		rt_close_if_same(rt_track.pagemap, rt_track.pagemap_ino);
	}
	rt_track.uffd = rt_track.pagemap = -1;
	rt_track.n = 0;
	rt_track.editing = 0;
	rt_track.editor = 0;
}

/* A forked child: its copies of its parent's descriptors are closed, if this run's parent opened them */
void rt_track_forked(void)
{
	rt_track_drop(rt_track.restarts == rt_job.generation >> CKPT_GEN_RESTART_SHIFT);
}

static long rt_track_open(void)
{
	long fd = rt_syscall1(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0) {
		rt_track_unavailable("userfaultfd refused");
		return -1;
	}
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED };
	if (rt_syscall3(__NR_ioctl, fd, UFFDIO_API, (long)&api) < 0) {
		rt_syscall1(__NR_close, fd);
		rt_track_unavailable("the kernel lacks asynchronous userfaultfd write protection");
		return -1;
	}
	rt_track.uffd = rt_high_fd(fd, 20, 1);
	rt_track.uffd_ino = rt_inode_of(rt_track.uffd);
	long pm = rt_syscall4(__NR_openat, AT_FDCWD, (long)"/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
	rt_track.pagemap = pm < 0 ? -1 : rt_high_fd(pm, 21, 1);
	rt_track.pagemap_ino = pm < 0 ? 0 : rt_inode_of(rt_track.pagemap);
	rt_track.pid = rt_ids_real.pid;
	rt_track.restarts = rt_job.generation >> CKPT_GEN_RESTART_SHIFT;
	if (rt_track.pagemap < 0) {
		rt_track_drop(1);
		rt_track_unavailable("/proc/self/pagemap cannot be opened");
		return -1;
	}
	return 0;
}

/*
 * The set's lock; 0 when the thread holds it already (a handler of the program's, run while the
 * thread was editing, making a memory call of its own): the set is then given up instead
 */
static int rt_edit_begin(void)
{
	struct rt_thread *self = rt_thread_self();
	while (__atomic_exchange_n(&rt_track.editing, 1, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&rt_track.editor, __ATOMIC_RELAXED) == self) {
			rt_track.poisoned = 1;
			return 0;
		}
		rt_syscall0(__NR_sched_yield);
	}
	rt_track.editor = self;
	return 1;
}

static void rt_edit_end(void)
{
	rt_track.editor = 0;
	__atomic_store_n(&rt_track.editing, 0, __ATOMIC_RELEASE);
}

/* Takes [start, end) out of the set; a range split in two that does not fit empties the set */
static void rt_forget_locked(uint64_t start, uint64_t end)
{
	for (long i = 0; i < rt_track.n; i++) {
		struct rt_range *t = &rt_track.r[i];
		if (t->end <= start || end <= t->start)
			continue;
		if (t->start < start && end < t->end) {
			if (rt_track.n == RT_MAX_TRACKED) {
				rt_track.n = 0;
				return;
			}
			for (long j = rt_track.n; j > i + 1; j--)
				rt_track.r[j] = rt_track.r[j - 1];
			rt_track.r[i + 1] = (struct rt_range){ end, t->end };
			rt_track.n++;
			t->end = start;
			return;
		}
		if (start <= t->start && t->end <= end) {
			for (long j = i; j + 1 < rt_track.n; j++)
				rt_track.r[j] = rt_track.r[j + 1];
			rt_track.n--;
			i--;
		} else if (t->start < start) {
			t->end = start;
		} else {
			t->start = end;
		}
	}
}

void rt_track_forget(uint64_t start, uint64_t len)
{
	if (!rt_track.n || !len)
		return;
	uint64_t end = (start + len + 4095) & ~4095UL;
	if (end < start)
		end = ~4095UL;
	if (!rt_edit_begin())
		return;
	rt_forget_locked(start & ~4095UL, end);
	rt_edit_end();
}

/* mremap's flags (linux/mman.h has them only in newer headers) */
#define RT_MREMAP_FIXED		2

/*
 * Before one of the program's memory calls: the ranges whose pages it could change behind the
 * write protection leave the set (more is taken out than needed where it is cheaper to say)
 */
void rt_track_before_call(long nr, const struct rt_call_args *c)
{
	if (!rt_track.n)
		return;
	switch (nr) {
	case __NR_munmap:
	case __NR_mprotect:
	case __NR_pkey_mprotect:
		rt_track_forget(c->a0, c->a1);
		break;
	case __NR_madvise:	/* discards (DONTNEED, FREE, REMOVE...) and the rest alike: cheaper than a list */
		if (c->a2 != MADV_NORMAL && c->a2 != MADV_RANDOM && c->a2 != MADV_SEQUENTIAL && c->a2 != MADV_WILLNEED)
			rt_track_forget(c->a0, c->a1);
		break;
	case __NR_mremap:
		rt_track_forget(c->a0, c->a1);
		if (c->a3 & RT_MREMAP_FIXED)
			rt_track_forget(c->a4, c->a2);
		break;
	case __NR_mmap:
		if (c->a3 & (MAP_FIXED | MAP_FIXED_NOREPLACE))
			rt_track_forget(c->a0, c->a1);
		break;
	case __NR_brk:
		if (c->a0 && rt_track.brk && c->a0 < rt_track.brk)
			rt_track_forget(c->a0, rt_track.brk - c->a0);
		break;
	default:
		break;
	}
}

/* After brk: the break the next shrink is measured from */
void rt_track_after_brk(long result)
{
	if (rt_track.n && result > 0)
		rt_track.brk = (uint64_t)result;
}

/* The end of the tracked (or untracked, *tracked = 0) stretch that starts at addr, at most end */
uint64_t rt_track_stretch(uint64_t addr, uint64_t end, int *tracked)
{
	*tracked = 0;
	for (long i = 0; i < rt_track.n; i++) {
		const struct rt_range *t = &rt_track.r[i];
		if (t->start <= addr && addr < t->end) {
			*tracked = 1;
			return t->end < end ? t->end : end;
		}
		if (addr < t->start && t->start < end)
			end = t->start;
	}
	return end;
}

/*
 * The pages of [start, end) written since the last checkpoint, protected again as they are
 * reported: fn(arg, first written address, end) for each run. Returns 0, or <0 when the range
 * cannot be vouched for (then some of its pages may be protected again unreported: the caller
 * stores the range as a full image would).
 */
long rt_track_written(uint64_t start, uint64_t end, int (*fn)(void *arg, uint64_t start, uint64_t end), void *arg)
{
	while (start < end) {
		struct pm_scan_arg a = { .size = sizeof a, .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
					 .start = start, .end = end, .vec = (uint64_t)rt_track.vec, .vec_len = RT_SCAN_VEC,
					 .category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN };
		long n = rt_syscall3(__NR_ioctl, rt_track.pagemap, PAGEMAP_SCAN, (long)&a);
		if (n < 0) {
			if (n == -ENOTTY || n == -EINVAL)
				rt_track_unavailable("the kernel lacks PAGEMAP_SCAN");
			return n;
		}
		for (long i = 0; i < n; i++)
			if (fn(arg, rt_track.vec[i].start, rt_track.vec[i].end))
				return -ENOMEM;
		if (a.walk_end <= start)
			return -EIO;
		start = a.walk_end;
	}
	return 0;
}

/* Whether a region of the program is memory the set can cover: private, writable, its own */
static int rt_trackable(const struct rt_map *m)
{
	return !m->shared && (m->prot & PROT_WRITE) && rt_map_role(m) == CKPT_ROLE_MEMORY && !rt_map_is_vsyscall(m);
}

static int rt_protect(uint64_t start, uint64_t end)
{
	struct uffdio_register reg = { .range = { start, end - start }, .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .range = { start, end - start }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	return rt_syscall3(__NR_ioctl, rt_track.uffd, UFFDIO_REGISTER, (long)&reg) < 0 ||
	       rt_syscall3(__NR_ioctl, rt_track.uffd, UFFDIO_WRITEPROTECT, (long)&wp) < 0;
}

static int rt_was_tracked(uint64_t start, uint64_t end)
{
	int tracked;
	return rt_track_stretch(start, end, &tracked) == end && tracked;
}

/*
 * At the end of a checkpoint's records, the program stopped: the set becomes the program's private
 * writable memory as the maps read for this checkpoint show it. What was tracked is protected
 * already (the scan protected what it reported); the rest is registered and protected now.
 */
void rt_track_rearm(struct rt_ckpt_work *w, long nmaps)
{
	if (rt_track.off)
		return;
	if (rt_track.editing) {	/* a stopped thread is inside rt_forget_locked: leave the set to it */
		rt_track.poisoned = 1;
		return;
	}
	if (rt_track.poisoned)
		rt_track.n = 0;
	rt_track.poisoned = 0;
	if (!rt_track_ready()) {
		rt_track_drop(rt_track_mine());
		if (rt_track_open() < 0)
			return;
	}
	static struct rt_range next[RT_MAX_TRACKED];
	long n = 0;
	for (long i = 0; i < nmaps && n + 1 < RT_MAX_TRACKED; i++) {
		const struct rt_map *m = &w->maps[i];
		/* the checkpoint's scratch mapping may have merged with the program's memory: the parts around it */
		struct rt_range part[2] = { { m->start, m->end < w->scratch_start ? m->end : w->scratch_start },
					    { m->start > w->scratch_end ? m->start : w->scratch_end, m->end } };
		for (int j = 0; j < 2 && rt_trackable(m); j++) {
			if (part[j].start >= part[j].end || (!rt_was_tracked(part[j].start, part[j].end) && rt_protect(part[j].start, part[j].end)))
				continue;
			if (n && next[n - 1].end == part[j].start)
				next[n - 1].end = part[j].end;
			else
				next[n++] = part[j];
		}
	}
	rt_edit_begin();	/* the other threads are stopped, none inside an edit: never refused */
	rt_memcpy(rt_track.r, next, (size_t)n * sizeof next[0]);
	rt_track.n = n;
	rt_track.brk = (uint64_t)rt_sys_brk(0);	/* the program's break: after a restart, the runtime's own */
	rt_edit_end();
}
