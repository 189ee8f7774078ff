/*
 * File locks: flock, fcntl (POSIX) and OFD locks. Saved: the "lock:" lines of every program
 * descriptor's /proc/self/fdinfo, which name the locks taken through that descriptor (the
 * kernel's lock_get_status: "1: POSIX  ADVISORY  WRITE pid dev:ino start end|EOF"). Restored
 * once every descriptor is at its number, before the teardown: each taken again without waiting;
 * a lock another process holds now refuses the image, naming the descriptor, the file and the
 * holder. Leases and other kinds are refused too.
 *
 * A POSIX lock belongs to the process and goes whenever the process closes any descriptor of
 * its file: so nothing the restart opens on a locked file may be closed after the lock is
 * taken. memory.c maps a region of such a file from the program's own descriptor
 * (rt_posix_locked_fd) instead of opening the file again.
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

static const char *rt_skip_spaces(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static const char *rt_word_end(const char *s)
{
	while (*s && *s != ' ' && *s != '\t' && *s != '\n')
		s++;
	return s;
}

static const char *rt_number(const char *s, uint64_t *v)
{
	*v = 0;
	for (; *s >= '0' && *s <= '9'; s++)
		*v = *v * 10 + (uint64_t)(*s - '0');
	return s;
}

/* After "lock:\t": "N: KIND  ADVISORY  TYPE pid dev:ino start end" into an entry */
static void rt_parse_lock(const char *s, unsigned char *e)
{
	s = rt_skip_spaces(rt_word_end(s));	/* "N:" */
	uint32_t kind = rt_starts_with(s, "FLOCK") ? CKPT_LOCK_FLOCK : rt_starts_with(s, "POSIX") ? CKPT_LOCK_POSIX
		      : rt_starts_with(s, "OFDLCK") ? CKPT_LOCK_OFD : CKPT_LOCK_OTHER;
	s = rt_skip_spaces(rt_word_end(s));
	if (kind != CKPT_LOCK_OTHER && !rt_starts_with(s, "ADVISORY"))
		kind = CKPT_LOCK_OTHER;		/* mandatory locks are gone from Linux; be safe */
	s = rt_skip_spaces(rt_word_end(s));
	*(uint32_t *)(e + CKPT_LK_TYPE) = rt_starts_with(s, "WRITE") ? F_WRLCK : F_RDLCK;
	s = rt_skip_spaces(rt_word_end(s));	/* the pid */
	s = rt_skip_spaces(rt_word_end(s));	/* dev:ino */
	s = rt_skip_spaces(rt_word_end(s));
	uint64_t start, end = ~0ULL;
	s = rt_skip_spaces(rt_number(s, &start));
	if (*s >= '0' && *s <= '9')
		rt_number(s, &end);
	*(uint32_t *)(e + CKPT_LK_KIND) = kind;
	*(uint64_t *)(e + CKPT_LK_START) = start;
	*(uint64_t *)(e + CKPT_LK_END) = end;
}

static void rt_warn_other_lock(int fd)
{
	char num[24];
	rt_utoa((uint64_t)fd, num);
	rt_warn("descriptor", num, "holds a lease or a lock of another kind: a restart will refuse this image (docs/limits.md)");
	rt_note_unrestorable();
}

static int rt_save_locks_of(struct rt_ckpt_work *w, unsigned char *p, int fd)
{
	char path[48];
	rt_utoa((uint64_t)fd, rt_put(path, "/proc/self/fdinfo/"));
	long n = rt_read_file(path, w->proc_text, RT_PROC_TEXT - 1);
	w->proc_text[n > 0 ? n : 0] = 0;
	for (const char *s = w->proc_text; *s;) {
		if (rt_starts_with(s, "lock:")) {
			unsigned char *e = rt_record_grow(w, p, CKPT_LK_SIZE);
			if (!e)
				return -1;
			*(uint32_t *)(e + CKPT_LK_FD) = (uint32_t)fd;
			rt_parse_lock(rt_skip_spaces(s + 5), e);
			if (*(uint32_t *)(e + CKPT_LK_KIND) == CKPT_LOCK_OTHER)
				rt_warn_other_lock(fd);
		}
		while (*s && *s++ != '\n')
			;
	}
	return 0;
}

/* After the files: the descriptors the file record holds (w->fds) */
int rt_save_locks(struct rt_ckpt_work *w)
{
	unsigned char *p = rt_record(w, CKPT_REC_LOCKS, 0, 0);
	if (!p)
		return -1;
	for (int i = 0; i < w->nfds; i++)
		if (rt_save_locks_of(w, p, w->fds[i]))
			return -1;
	rt_seal(p);
	return 0;
}

static const unsigned char *rt_locks;
static uint32_t rt_locks_size;

static void rt_note_locks(void *arg, const unsigned char *h, const unsigned char *p)
{
	(void)arg;
	rt_locks = p;
	rt_locks_size = u32at(h, CKPT_RH_PAYLOAD_SIZE) / CKPT_LK_SIZE * CKPT_LK_SIZE;
}

/* The image's locks, found before the region files are opened (rt_posix_locked_fd needs them) */
void rt_prepare_locks(const struct rt_image *im)
{
	rt_locks = 0;
	rt_locks_size = 0;
	rt_each(im, CKPT_REC_LOCKS, rt_note_locks, 0);
	for (uint32_t at = 0; at < rt_locks_size; at += CKPT_LK_SIZE)
		if (u32at(rt_locks + at, CKPT_LK_KIND) == CKPT_LOCK_OTHER)
			rt_refuse(im, "the program held a lease or a lock of a kind a restart cannot take again");
}

struct rt_file_of { uint32_t fd; const unsigned char *rec; const char *path; };

static void rt_match_file(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_file_of *f = arg;
	uint32_t at = u32at(p, CKPT_RF_PATH_AT);
	if (u32at(p, CKPT_RF_FD) == f->fd && at < u32at(h, CKPT_RH_PAYLOAD_SIZE)) {
		f->rec = p;
		f->path = (const char *)p + at;
	}
}

/*
 * The program's descriptor through which it held a POSIX lock on `path` (as its file record names
 * it), for a region to be mapped from: -1 when there is none; the image refused when that
 * descriptor cannot map it (write-only, or read-only for a writable shared region).
 */
long rt_posix_locked_fd(const struct rt_image *im, const char *path, int writes)
{
	for (uint32_t at = 0; at < rt_locks_size; at += CKPT_LK_SIZE) {
		const unsigned char *e = rt_locks + at;
		struct rt_file_of f = { u32at(e, CKPT_LK_FD), 0, 0 };
		if (u32at(e, CKPT_LK_KIND) != CKPT_LOCK_POSIX)
			continue;
		rt_each(im, CKPT_REC_FILE, rt_match_file, &f);
		if (!f.path || !rt_streq(f.path, path))
			continue;
		uint32_t access = u32at(f.rec, CKPT_RF_FLAGS) & O_ACCMODE;
		if (access == O_WRONLY || (writes && access != O_RDWR))
			rt_refuse_path(im, "a file the program holds a POSIX lock on is mapped, and no descriptor of it "
				       "can map it again without dropping the lock: ", path);
		return (long)f.fd;
	}
	return -1;
}

/* struct flock as the kernel takes it */
struct rt_flock { int16_t type, whence; int64_t start, len; int32_t pid; };

static long rt_take_lock(const unsigned char *e, struct rt_flock *fl)
{
	long fd = u32at(e, CKPT_LK_FD);
	uint32_t kind = u32at(e, CKPT_LK_KIND), type = u32at(e, CKPT_LK_TYPE);
	uint64_t start = u64at(e, CKPT_LK_START), end = u64at(e, CKPT_LK_END);
	if (kind == CKPT_LOCK_FLOCK)
		return rt_syscall2(__NR_flock, fd, (type == F_WRLCK ? LOCK_EX : LOCK_SH) | LOCK_NB);
	*fl = (struct rt_flock){ (int16_t)type, SEEK_SET, (int64_t)start, end == ~0ULL ? 0 : (int64_t)(end - start + 1), 0 };
	long r = rt_syscall3(__NR_fcntl, fd, kind == CKPT_LOCK_OFD ? F_OFD_SETLK : F_SETLK, (long)fl);
	if (r == -EAGAIN || r == -EACCES) {	/* who holds it: F_GETLK fills in the holder */
		*fl = (struct rt_flock){ (int16_t)type, SEEK_SET, (int64_t)start, end == ~0ULL ? 0 : (int64_t)(end - start + 1), 0 };
		rt_syscall3(__NR_fcntl, fd, kind == CKPT_LOCK_OFD ? F_OFD_GETLK : F_GETLK, (long)fl);
	}
	return r;
}

_Noreturn static void rt_refuse_lock(const struct rt_image *im, const unsigned char *e, const struct rt_flock *fl)
{
	char fd[24], holder[40] = "", name[32], target[256];
	long fdn = u32at(e, CKPT_LK_FD);
	rt_utoa((uint64_t)fdn, fd);
	long len = rt_syscall4(__NR_readlinkat, AT_FDCWD, (long)rt_fd_path(name, fdn), (long)target, sizeof target - 1);
	target[len > 0 ? len : 0] = 0;
	if (u32at(e, CKPT_LK_KIND) == CKPT_LOCK_POSIX && fl->pid > 0)
		rt_utoa((uint64_t)fl->pid, rt_put(holder, " by pid "));
	const char *parts[] = { "ckpt: cannot restart from ", im->path, ": a lock the program held is taken", holder,
				" now: descriptor ", fd, " (", target, ")\n" };
	rt_write_line(parts, 9);
	rt_exit(CKPT_EXIT_BAD_IMAGE);
}

/* Every descriptor at its number: each lock taken again, or the image refused */
void rt_restore_locks(const struct rt_image *im)
{
	struct rt_flock fl;
	for (uint32_t at = 0; at < rt_locks_size; at += CKPT_LK_SIZE)
		if (rt_take_lock(rt_locks + at, &fl) < 0)
			rt_refuse_lock(im, rt_locks + at, &fl);
}
