/*
 * File offsets that the job's processes share, as the kernel shares an open file description's
 * offset between a process and the children it forks. A remote file's offset lives in the
 * runtime (vfiles.c); without this, `{ prog1; prog2; } > out` or `for ...; do prog; done > out`
 * had each child write from the offset the shell had, over the output of the one before.
 *
 * The table is a memfd mapped MAP_SHARED, made the first time the job forks or execs (a job that
 * never does keeps its offsets private, at no cost). Before it forks, a process moves every remote
 * offset it has into a cursor of the table; the child's copy of the file table names the same
 * cursors. The memfd is inherited over exec (not close-on-exec, at a high descriptor number, named
 * in CKPT_VFDS), so a relinked program that a shell starts maps the same table.
 *
 * A cursor counts the processes whose file table names it: a forked child takes a reference for
 * each, a process drops its own when it closes the file and when it exits; the last one frees it.
 * A process killed outright keeps its references (the cursor is never freed; when the table is
 * full, new files keep private offsets). Reads and writes reserve their range with one atomic add,
 * so two processes writing one file at once write one after the other, as with the kernel's
 * offset, and a short count gives back what it did not use when nobody moved the offset since.
 *
 * A checkpoint stores the table as a shared region; a restart maps it back as private memory and
 * sets rt_cursors_fd to -1, so the next fork or exec makes a new memfd of the same contents, in
 * place, with the references of this one process.
 */
#include "include/rt_remote.h"

#define RT_CURSORS	4096
#define RT_CURSOR_TABLE	(RT_CURSORS * sizeof(struct rt_cursor))

struct rt_cursor {
	uint64_t offset;
	uint32_t refs;		/* 0: free */
	uint32_t pad;
};

static struct rt_cursor *rt_cursors;	/* the table, or 0 before the first fork or exec */
long rt_cursors_fd = -1;			/* its memfd (8 bytes: a restart pokes -1) */
static uint32_t rt_cursor_hint;

uint64_t *rt_cursor_offset(int32_t c)
{
	return &rt_cursors[c].offset;
}

void rt_cursor_hold(int32_t c)
{
	if (c >= 0)
		__atomic_add_fetch(&rt_cursors[c].refs, 1, __ATOMIC_RELAXED);
}

void rt_cursor_drop(int32_t c)
{
	if (c >= 0)
		__atomic_sub_fetch(&rt_cursors[c].refs, 1, __ATOMIC_RELEASE);
}

/* A free cursor holding OFFSET with one reference, or -1 when the table is full or absent */
int32_t rt_cursor_new(uint64_t offset)
{
	for (uint32_t k = 0; rt_cursors && k < RT_CURSORS; k++) {
		uint32_t c = (rt_cursor_hint + k) % RT_CURSORS, free = 0;
		if (__atomic_load_n(&rt_cursors[c].refs, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&rt_cursors[c].refs, &free, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			__atomic_store_n(&rt_cursors[c].offset, offset, __ATOMIC_RELAXED);
			rt_cursor_hint = c + 1;
			return (int32_t)c;
		}
	}
	return -1;
}

/* The memfd at a high descriptor number, out of the program's way, kept over exec */
static long rt_cursors_memfd(void)
{
	long fd = rt_syscall2(__NR_memfd_create, (long)"ckpt-cursors", 0);
	if (fd < 0)
		return fd;
	if (rt_syscall2(__NR_ftruncate, fd, RT_CURSOR_TABLE) < 0) {
		rt_syscall1(__NR_close, fd);
		return -1;
	}
	return rt_high_fd(fd, 24, 0);
}

/*
 * The table is shared from here on: made, or after a restart made again from the private copy the
 * restorer left (references recounted by the caller). Returns 0, or -1 when no memfd could be had
 * (offsets then stay private).
 */
int rt_cursors_share(void)
{
	if (rt_cursors_fd >= 0)
		return 0;
	long fd = rt_cursors_memfd();
	if (fd < 0)
		return -1;
	if (rt_cursors &&
	    rt_syscall4(__NR_pwrite64, fd, (long)rt_cursors, RT_CURSOR_TABLE, 0) != (long)RT_CURSOR_TABLE) {
		rt_syscall1(__NR_close, fd);
		return -1;
	}
	long at = rt_syscall6(__NR_mmap, (long)rt_cursors, RT_CURSOR_TABLE, 3 /* READ|WRITE */,
			      0x01 | (rt_cursors ? 0x10 : 0) /* MAP_SHARED [| MAP_FIXED] */, fd, 0);
	if (at < 0 && at > -4096) {
		rt_syscall1(__NR_close, fd);
		return -1;
	}
	rt_cursors = (struct rt_cursor *)at;
	rt_cursors_fd = fd;
	return 0;
}

/* After a restart, this process is the only one: each cursor counts its references again */
void rt_cursors_recount(const int32_t *held, int n)
{
	for (uint32_t c = 0; c < RT_CURSORS; c++)
		rt_cursors[c].refs = 0;
	for (int i = 0; i < n; i++)
		if (held[i] >= 0)
			rt_cursors[held[i]].refs++;
}

int rt_cursors_restarted(void)
{
	return rt_cursors && rt_cursors_fd < 0;
}

/*
 * An exec'd process maps the table its predecessor named; 0 on success. The descriptor must still
 * be that memfd: a program may have closed it or put another file in its place, and mapping and
 * writing a file of the program's would corrupt it.
 */
int rt_cursors_adopt(long fd)
{
	char link[64], proc[32];
	static const char want[] = "/memfd:ckpt-cursors";
	long n = rt_syscall3(__NR_readlink, (long)rt_fd_path(proc, fd), (long)link, sizeof link - 1);
	struct rt_stat st;
	if (n < (long)sizeof want - 1 || rt_memcmp(link, want, sizeof want - 1) ||
	    rt_syscall2(__NR_fstat, fd, (long)&st) < 0 || st.size != (int64_t)RT_CURSOR_TABLE)
		return -1;
	long at = rt_syscall6(__NR_mmap, 0, RT_CURSOR_TABLE, 3, 0x01 /* MAP_SHARED */, fd, 0);
	if (at < 0 && at > -4096)
		return -1;
	rt_cursors = (struct rt_cursor *)at;
	rt_cursors_fd = fd;
	return 0;
}
