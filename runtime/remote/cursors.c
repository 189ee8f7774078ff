/*
 * File offsets that the job's processes share, as the kernel shares an open file description's
 * offset between a process and the children it forks. A remote file's offset lives in the
 * runtime (vfiles.c); without this, `{ prog1; prog2; } > out` or `for ...; do prog; done > out`
 * had each child write from the offset the shell had, over the output of the one before.
 *
 * The table is a memfd mapped MAP_SHARED, made the first time a process of the job forks (a job that
 * never does keeps its offsets private, at no cost). Before it forks, a process moves every remote
 * offset it has into a cursor of the table; the child's copy of the file table names the same
 * cursors. The memfd is inherited over exec (not close-on-exec, at a high descriptor number, named
 * in CKPT_VFDS), so a relinked program that a shell starts maps the same table.
 *
 * A cursor counts the processes whose file table names it: a forked child takes a reference for
 * each, a process drops its own when it closes the file and when it exits; the last one frees it.
 * Each process also marks the cursors it holds in a holder slot of its own, after the cursors in
 * the memfd (its pid, its start time, a bit per cursor), so that the references of a process
 * killed outright (SIGKILL, which gives it no chance to drop them) can be given back: when no
 * cursor or no slot is free, the slots of processes that are gone are collected. An exec'd
 * process keeps its predecessor's slot (same pid). Reads and writes reserve their range with one atomic add,
 * so two processes writing one file at once write one after the other, as with the kernel's
 * offset, and a short count gives back what it did not use when nobody moved the offset since.
 *
 * A checkpoint stores the table as a shared region; a restart maps it back as private memory and
 * sets rt_cursors_fd to -1, so the next fork makes a new memfd of the same contents, in
 * place, with the references of this one process.
 */
#include "remote/remote.h"

#define RT_CURSORS	4096
#define RT_HOLDERS	1024
#define RT_CURSOR_TABLE	(RT_CURSORS * sizeof(struct rt_cursor) + RT_HOLDERS * sizeof(struct rt_holder))

struct rt_cursor {
	uint64_t offset;
	uint32_t refs;		/* 0: free */
	uint32_t pad;
};

/* The cursors one process holds a reference to */
struct rt_holder {
	int32_t pid;		/* 0: free; -1: being claimed or collected (collectors pass it by) */
	uint32_t pad;
	uint64_t started;	/* its start time (/proc/PID/stat), so a reused pid is not taken for it */
	uint64_t bits[RT_CURSORS / 64];
};

static struct rt_cursor *rt_cursors;	/* the table, or 0 before the first fork */
long rt_cursors_fd = -1;			/* its memfd (8 bytes: a restart pokes -1) */
static uint32_t rt_cursor_hint;
static int32_t rt_holder_slot = -1;	/* this process's slot, -1 before it needs one */

static struct rt_holder *rt_holders(void)
{
	return (struct rt_holder *)(void *)(rt_cursors + RT_CURSORS);
}

uint64_t *rt_cursor_offset(int32_t c)
{
	return &rt_cursors[c].offset;
}

/* PID's start time (field 22 of /proc/PID/stat), 0 when it is gone or a zombie */
static uint64_t rt_started(long pid)
{
	char path[40] = "/proc/", *o, buf[512];
	o = rt_utoa((uint64_t)pid, path + RT_LITERAL_LEN("/proc/"));
	rt_put(o, "/stat");
	long n = rt_read_file(path, buf, sizeof buf);
	if (n <= 0)
		return 0;
	const char *s = buf + n;
	while (s > buf && *s != ')')
		s--;
	if (s[0] != ')' || s[2] == 'Z' || s[2] == 'X')
		return 0;
	for (int field = 2; field < 22 && *s; s++)	/* s is at field 2's end */
		if (*s == ' ')
			field++;
	uint64_t t = 0;
	for (; *s >= '0' && *s <= '9'; s++)
		t = t * 10 + (uint64_t)(*s - '0');
	return t;
}

/*
 * Gives back the references of processes that are gone without dropping them (killed outright, or
 * a program that is not relinked, exec'd, has ended) and frees their slots. One collector per slot:
 * it marks the slot -1 first.
 */
static void rt_cursors_collect(void)
{
	struct rt_holder *h = rt_holders();
	for (int i = 0; i < RT_HOLDERS; i++) {
		int32_t pid = __atomic_load_n(&h[i].pid, __ATOMIC_ACQUIRE);
		if (pid <= 0 || i == rt_holder_slot || rt_started(pid) == h[i].started ||
		    !__atomic_compare_exchange_n(&h[i].pid, &pid, -1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		for (uint32_t w = 0; w < RT_CURSORS / 64; w++)
			for (uint64_t bits = h[i].bits[w]; bits; bits &= bits - 1)
				__atomic_sub_fetch(&rt_cursors[w * 64 + (uint32_t)__builtin_ctzll(bits)].refs, 1, __ATOMIC_RELEASE);
		memset(h[i].bits, 0, sizeof h[i].bits);
		__atomic_store_n(&h[i].pid, 0, __ATOMIC_RELEASE);
	}
}

/* This process's slot, claimed on first use (collecting dead ones if none is free); 0 if none */
static struct rt_holder *rt_holder(void)
{
	if (!rt_cursors)
		return 0;
	if (rt_holder_slot >= 0)
		return &rt_holders()[rt_holder_slot];
	long pid = rt_syscall0(__NR_getpid);
	uint64_t started = rt_started(pid);
	for (int round = 0; round < 2; round++, rt_cursors_collect())
		for (int i = 0; i < RT_HOLDERS; i++) {
			int32_t free = 0;
			struct rt_holder *h = &rt_holders()[i];
			/* the pid is published after the start time, so no collector takes the slot for a dead one's */
			if (__atomic_load_n(&h->pid, __ATOMIC_RELAXED) == 0 &&
			    __atomic_compare_exchange_n(&h->pid, &free, -1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
				h->started = started;
				__atomic_store_n(&h->pid, (int32_t)pid, __ATOMIC_RELEASE);
				rt_holder_slot = i;
				return h;
			}
		}
	return 0;
}

/* Marks (or unmarks) cursor c as one this process holds */
static void rt_holder_mark(int32_t c, int held)
{
	struct rt_holder *h = rt_holder();
	if (!h)
		return;
	uint64_t bit = 1ull << (c % 64);
	if (held)
		__atomic_or_fetch(&h->bits[c / 64], bit, __ATOMIC_RELAXED);
	else
		__atomic_and_fetch(&h->bits[c / 64], ~bit, __ATOMIC_RELAXED);
}

void rt_cursor_hold(int32_t c)
{
	if (c < 0)
		return;
	__atomic_add_fetch(&rt_cursors[c].refs, 1, __ATOMIC_RELAXED);
	rt_holder_mark(c, 1);
}

/* A cursor this process holds already (its predecessor's before an exec) */
void rt_cursor_held(int32_t c)
{
	if (c >= 0)
		rt_holder_mark(c, 1);
}

void rt_cursor_drop(int32_t c)
{
	if (c < 0)
		return;
	rt_holder_mark(c, 0);
	__atomic_sub_fetch(&rt_cursors[c].refs, 1, __ATOMIC_RELEASE);
}

static int32_t rt_cursor_take_free(uint64_t offset)
{
	for (uint32_t k = 0; rt_cursors && k < RT_CURSORS; k++) {
		uint32_t c = (rt_cursor_hint + k) % RT_CURSORS, free = 0;
		if (__atomic_load_n(&rt_cursors[c].refs, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&rt_cursors[c].refs, &free, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			__atomic_store_n(&rt_cursors[c].offset, offset, __ATOMIC_RELAXED);
			rt_cursor_hint = c + 1;
			rt_holder_mark((int32_t)c, 1);
			return (int32_t)c;
		}
	}
	return -1;
}

/* A free cursor holding OFFSET with one reference, or -1 when the table is full or absent */
int32_t rt_cursor_new(uint64_t offset)
{
	int32_t c = rt_cursor_take_free(offset);
	if (c < 0 && rt_cursors) {
		rt_cursors_collect();
		c = rt_cursor_take_free(offset);
	}
	return c;
}

/* A forked child: a slot of its own when it first holds a cursor (the one it sees is its parent's) */
void rt_cursors_forked(void)
{
	rt_holder_slot = -1;
}

/* The process ends, its references dropped: its slot is free again */
void rt_cursors_exit(void)
{
	if (rt_cursors && rt_holder_slot >= 0)
		__atomic_store_n(&rt_holders()[rt_holder_slot].pid, 0, __ATOMIC_RELEASE);
	rt_holder_slot = -1;
}

/* The slot to name in CKPT_VFDS for an exec'd successor, +1 (0: none) */
uint32_t rt_cursors_slot_for_exec(void)
{
	return rt_holder_slot >= 0 ? (uint32_t)rt_holder_slot + 1 : 0;
}

/* An exec'd process takes its predecessor's slot when it is this pid's */
void rt_cursors_adopt_slot(uint32_t slot_plus_1)
{
	if (!rt_cursors || !slot_plus_1 || slot_plus_1 > RT_HOLDERS)
		return;
	if (__atomic_load_n(&rt_holders()[slot_plus_1 - 1].pid, __ATOMIC_RELAXED) == (int32_t)rt_syscall0(__NR_getpid))
		rt_holder_slot = (int32_t)slot_plus_1 - 1;
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
	long at = rt_syscall6(__NR_mmap, (long)rt_cursors, RT_CURSOR_TABLE, PROT_READ | PROT_WRITE,
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
	memset(rt_holders(), 0, RT_HOLDERS * sizeof(struct rt_holder));
	rt_holder_slot = -1;
	for (int i = 0; i < n; i++)
		rt_cursor_hold(held[i]);
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
	long at = rt_syscall6(__NR_mmap, 0, RT_CURSOR_TABLE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (at < 0 && at > -4096)
		return -1;
	rt_cursors = (struct rt_cursor *)at;
	rt_cursors_fd = fd;
	return 0;
}
