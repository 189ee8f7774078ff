/*
 * Named FIFOs (mkfifo): every descriptor of one, read, write or read-write, its name still there
 * or removed, with the bytes not yet read. Saved when no other process holds the FIFO (its
 * descriptors listed in /proc/PID/fd of every process this user may read): the process then holds
 * every end there is, and the unread bytes are its own, copied with tee so that the FIFO keeps
 * them. One held by another process too refuses the checkpoint, naming the descriptor: that
 * process is not in the image, and at a restart its end would be gone or another FIFO's.
 *
 * Restored during the restart's checks: the FIFO opened read-write by its path (made again there,
 * with its mode, and removed once opened, when the program had removed it), its unread bytes
 * written back, then every descriptor opened through that holder's /proc/self/fd link with its
 * own access mode (O_NONBLOCK until files.c sets its flags: the holder is the other end, so no
 * open waits). files.c closes the holder once the descriptors are placed.
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

#define RT_S_IFMT	0170000
#define RT_S_IFIFO	0010000

int rt_is_fifo(const struct rt_stat *st, const char *path)
{
	return (st->mode & RT_S_IFMT) == RT_S_IFIFO && path[0] == '/';	/* a pipe's link reads "pipe:[N]" */
}

/* ---- the checkpoint's side ---- */

struct rt_fifo_scan { uint64_t dev, ino; long first, reader; };

static int rt_same_inode(const char *path, const struct rt_fifo_scan *s)
{
	struct rt_stat st;
	return rt_syscall4(__NR_newfstatat, AT_FDCWD, (long)path, (long)&st, 0) == 0 && st.dev == s->dev && st.ino == s->ino;
}

/* The process's lowest descriptor of the FIFO, and one it can read the unread bytes through */
static int rt_note_fifo_end(void *arg, long fd)
{
	struct rt_fifo_scan *s = arg;
	char path[32];
	long flags = rt_syscall2(__NR_fcntl, fd, F_GETFL);
	if (!rt_same_inode(rt_fd_path(path, fd), s))
		return 0;
	if (s->first < 0)
		s->first = fd;
	if (s->reader < 0 && !(flags & O_PATH) && (flags & O_ACCMODE) != O_WRONLY)
		s->reader = fd;
	return 0;
}

/* Another process's descriptors, for the FIFO's inode: 1 when one is the FIFO's */
static char rt_holder_dirents[4096], rt_process_dirents[4096];
struct rt_holder_scan { struct rt_fifo_scan *fifo; long pid; };

static int rt_note_holder_fd(void *arg, long fd)
{
	const struct rt_holder_scan *h = arg;
	char path[64];
	rt_utoa((uint64_t)fd, rt_put(rt_utoa((uint64_t)h->pid, rt_put(path, "/proc/")), "/fd/"));
	return rt_same_inode(path, h->fifo);
}

static int rt_note_holder(void *arg, long pid)
{
	struct rt_holder_scan h = { arg, pid };
	char path[48];
	if ((uint64_t)pid == rt_ids_real.pid)
		return 0;
	rt_put(rt_utoa((uint64_t)pid, rt_put(path, "/proc/")), "/fd");
	return rt_each_number(path, rt_holder_dirents, sizeof rt_holder_dirents, rt_note_holder_fd, &h) > 0;
}

static int rt_held_elsewhere(struct rt_fifo_scan *s)
{
	return rt_each_number("/proc", rt_process_dirents, sizeof rt_process_dirents, rt_note_holder, s) > 0;
}

/* A descriptor it can read the FIFO through: one of the program's, or a new one (to close) */
static long rt_fifo_reader(long fd, const struct rt_fifo_scan *s)
{
	char proc[32];
	if (s->reader >= 0)
		return s->reader;
	return rt_syscall4(__NR_openat, AT_FDCWD, (long)rt_fd_path(proc, fd), O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
}

/* The FIFO's size and unread bytes, the bytes copied into its lowest descriptor's record p */
static int rt_fifo_unread(long reader, uint32_t *capacity, uint32_t *bytes)
{
	int n = -1;
	long size = rt_syscall2(__NR_fcntl, reader, F_GETPIPE_SZ);
	if (size < 0 || rt_syscall3(__NR_ioctl, reader, FIONREAD, (long)&n) < 0 || n < 0 || n > size)
		return -1;
	*capacity = (uint32_t)size;
	*bytes = (uint32_t)n;
	return 0;
}

static int rt_save_fifo_record(struct rt_ckpt_work *w, long fd, const struct rt_stat *st, const char *path,
			       const struct rt_fifo_scan *s, long reader)
{
	uint32_t capacity = 0, bytes = 0;
	if (s->first == fd && rt_fifo_unread(reader, &capacity, &bytes) < 0)
		return rt_refuse_descriptor(w, fd, path, "its size and unread bytes cannot be read");
	unsigned char *p = rt_fd_record(w, CKPT_REC_FIFO, CKPT_RFI_SIZE + bytes, fd);
	if (!p)
		return RT_SAVE_FULL;
	*(uint32_t *)(p + CKPT_RFI_FIRST) = (uint32_t)s->first;
	*(uint32_t *)(p + CKPT_RFI_MODE) = st->mode & 07777;
	*(uint32_t *)(p + CKPT_RFI_CAPACITY) = capacity;
	*(uint32_t *)(p + CKPT_RFI_BYTES) = bytes;
	if (bytes && rt_copy_unread(reader, p + CKPT_RFI_SIZE, bytes, capacity) < 0)
		return rt_refuse_descriptor(w, fd, path, "its unread bytes cannot be copied (tee)");
	rt_seal(p);
	return 0;
}

/* Every descriptor of a FIFO gets a record; the lowest one's holds the unread bytes */
int rt_save_fifo(struct rt_ckpt_work *w, long fd, const struct rt_stat *st, const char *path)
{
	struct rt_fifo_scan s = { st->dev, st->ino, -1, -1 };
	if (rt_each_fd(w->scanbuf, sizeof w->scanbuf, rt_note_fifo_end, &s) < 0 || s.first < 0)
		return rt_refuse_descriptor(w, fd, path, "the process's descriptors cannot be listed");
	if (s.first != fd)
		return rt_save_fifo_record(w, fd, st, path, &s, -1);
	if (rt_held_elsewhere(&s))
		return rt_refuse_descriptor(w, fd, path, "another process holds this FIFO too");
	long reader = rt_fifo_reader(fd, &s);
	if (reader < 0)
		return rt_refuse_descriptor(w, fd, path, "it cannot be opened for reading its unread bytes");
	int r = rt_save_fifo_record(w, fd, st, path, &s, reader);
	if (reader != s.reader)
		rt_syscall1(__NR_close, reader);
	return r;
}

/* ---- the restart's side ---- */

/* The holders made so far, by the FIFO's lowest descriptor in the image */
static struct { uint32_t first; long holder; } rt_fifos[RT_MAX_PIPES];
static int rt_nfifos;

static long rt_fifo_holder(uint32_t first)
{
	for (int i = 0; i < rt_nfifos; i++)
		if (rt_fifos[i].first == first)
			return rt_fifos[i].holder;
	return -1;
}

/* The FIFO opened read-write at its path; made there again (and removed) when it had been removed */
static long rt_open_fifo_path(const struct rt_image *im, const unsigned char *rec, uint32_t fd, const char *path)
{
	char name[RT_PATH_MAX];
	int removed = rt_is_deleted(path);
	uint32_t mode = u32at(rec, CKPT_RFI_MODE) & 07777;
	if (removed) {
		rt_live_path(name, path);
		if (rt_syscall4(__NR_mknodat, AT_FDCWD, (long)name, RT_S_IFIFO | mode, 0) < 0)
			rt_refuse_kobject(im, fd, path, "it cannot be made again at its old path (taken now, or not writable)");
	}
	long holder = rt_syscall4(__NR_openat, AT_FDCWD, (long)(removed ? name : path), O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
	if (removed) {
		rt_syscall3(__NR_unlinkat, AT_FDCWD, (long)name, 0);
		if (holder >= 0)
			rt_syscall2(__NR_fchmod, holder, mode);	/* mknod took the umask off */
	}
	struct rt_stat st;
	if (holder < 0 || rt_syscall2(__NR_fstat, holder, (long)&st) < 0 || (st.mode & RT_S_IFMT) != RT_S_IFIFO)
		rt_refuse_kobject(im, fd, path, "its path is no longer a FIFO");
	return holder;
}

static long rt_make_fifo(const struct rt_image *im, const unsigned char *rec, uint32_t size, uint32_t fd,
			 const char *path, long above)
{
	uint32_t bytes = u32at(rec, CKPT_RFI_BYTES), capacity = u32at(rec, CKPT_RFI_CAPACITY);
	if (rt_nfifos >= RT_MAX_PIPES)
		rt_refuse_kobject(im, fd, path, "more FIFOs than a restart makes (256)");
	if (size < CKPT_RFI_SIZE + bytes)
		rt_refuse_kobject(im, fd, path, "its record is inconsistent");
	long holder = rt_fd_above(rt_open_fifo_path(im, rec, fd, path), above);
	if (rt_syscall3(__NR_fcntl, holder, F_SETPIPE_SZ, capacity) < (long)capacity)
		rt_refuse_kobject(im, fd, path, "its size is above what this user may set (/proc/sys/fs/pipe-max-size)");
	if (bytes && rt_syscall3(__NR_write, holder, (long)(rec + CKPT_RFI_SIZE), bytes) != (long)bytes)
		rt_refuse_kobject(im, fd, path, "its unread bytes cannot be put back");
	rt_fifos[rt_nfifos].first = fd;
	rt_fifos[rt_nfifos++].holder = holder;
	return holder;
}

/* A descriptor of a FIFO the image holds; RT_OPEN_NOT_MINE when it has no record (files.c's rule) */
long rt_open_fifo(const struct rt_image *im, const unsigned char *file, const char *path, long above)
{
	uint32_t size, fd = u32at(file, CKPT_RF_FD), flags = u32at(file, CKPT_RF_FLAGS);
	const unsigned char *rec = rt_find_kobject(im, CKPT_REC_FIFO, fd, 0, CKPT_RFI_SIZE, &size);
	if (!rec)
		return RT_OPEN_NOT_MINE;
	uint32_t first = u32at(rec, CKPT_RFI_FIRST);
	long holder = rt_fifo_holder(first);
	if (holder < 0 && first == fd)
		holder = rt_make_fifo(im, rec, size, fd, path, above);
	if (holder < 0)
		rt_refuse_kobject(im, fd, path, "its record is inconsistent");
	char proc[32];
	uint32_t how = flags & O_PATH ? O_PATH : (flags & O_ACCMODE) | O_NONBLOCK;
	long got = rt_syscall4(__NR_openat, AT_FDCWD, (long)rt_fd_path(proc, holder), how | O_CLOEXEC, 0);
	if (got < 0)
		rt_refuse_kobject(im, fd, path, "it cannot be opened again");
	return got;
}
