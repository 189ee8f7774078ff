/*
 * Open files. Saved: every descriptor of the program but the runtime's own, with its path, flags,
 * offset, type, the size and mtime of a regular file, a terminal's termios, and the lower
 * descriptor it shares an open file description with, if any.
 *
 * Restored: every descriptor of the image is opened again before anything is torn down
 * (rt_prepare_files), so that a file that cannot be opened refuses the image with the process
 * untouched; only then are they placed at their numbers (rt_restore_files). What each kind becomes
 * (docs/limits.md):
 *
 *   regular files, directories, devices   opened again by path, at their offset and flags; a
 *                                         regular file whose size or mtime changed is reported
 *                                         (CKPT_FILES_CHANGED=refuse refuses the image instead),
 *                                         unless it is write-only O_APPEND and only grew
 *   terminals                             the restarting process's terminal, taken over, with the
 *                                         image's termios (raw mode included)
 *   pipes, sockets, others at 0, 1, 2     the restarting process's own: a restarted job writes
 *                                         to the stdout its new parent gave it
 *   pipes the process holds whole,        made again (kobjects.c, fdata.c, inotify.c,
 *   eventfd, timerfd, signalfd, epoll,    sockets.c): same objects, same state, same sharing
 *   inotify, unlinked files, memfd,
 *   sockets the program made
 *   other pipes, inherited sockets, at 3+ a pipe or socket whose peer has gone (EOF, EPIPE)
 *   other anonymous inodes                refused at checkpoint, and at restart
 *   others at 3 and above (block devices) /dev/null, so that the number stays taken
 *
 * Descriptors that share an open file description (dup, 2>&1) share one again. Every descriptor
 * the runtime holds meanwhile is moved above the highest one the image has.
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

static uint32_t rt_file_type(long fd, const struct rt_stat *st, const char *path)
{
	unsigned char termios[64];
	switch (st->mode & 0170000) {
	case 0100000:
		return rt_starts_with(path, "anon_inode:") ? CKPT_FT_OTHER : CKPT_FT_REGULAR;
	case 0040000:
		return CKPT_FT_DIRECTORY;
	case 0020000:
		return rt_syscall3(__NR_ioctl, fd, TCGETS, (long)termios) == 0 ? CKPT_FT_TERMINAL : CKPT_FT_CHAR;
	case 0010000:
		return CKPT_FT_PIPE;
	case 0140000:
		return CKPT_FT_SOCKET;
	default:
		return CKPT_FT_OTHER;
	}
}

/* The lowest descriptor recorded so far that shares fd's open file description, or ~0 */
static uint32_t rt_shared_with(const struct rt_ckpt_work *w, long fd)
{
	for (int i = 0; i < w->nfds; i++)
		if (rt_syscall5(__NR_kcmp, (long)rt_ids_real.pid, (long)rt_ids_real.pid, KCMP_FILE, w->fds[i], fd) == 0)
			return (uint32_t)w->fds[i];
	return ~0u;
}

/*
 * What the program inherited when it started: a launcher's pipes and sockets (a shell's job
 * control, a batch system's monitoring, node's socketpair stdio) are listed in the image but not
 * warned about at every checkpoint, into the program's own stderr, nor made again. Known by their
 * numbers, 0 to 1023 (which a restarted process keeps: its launcher gives it new objects there),
 * and by the objects themselves (device and inode), wherever the program moves them: a shell
 * saves its stdout at 10 around a redirection.
 */
#define RT_MAX_INHERITED 64
static uint64_t rt_inherited_fds[16];
static struct { uint64_t dev, ino; } rt_inherited[RT_MAX_INHERITED];
static int rt_ninherited;

static int rt_was_inherited(long fd, const struct rt_stat *st)
{
	if (fd < 1024 && (rt_inherited_fds[fd / 64] >> (fd % 64) & 1))
		return 1;
	for (int i = 0; i < rt_ninherited; i++)
		if (rt_inherited[i].dev == st->dev && rt_inherited[i].ino == st->ino)
			return 1;
	return 0;
}

static int rt_note_inherited(void *arg, long fd)
{
	(void)arg;
	struct rt_stat st;
	if (fd < 1024)
		rt_inherited_fds[fd / 64] |= 1ULL << (fd % 64);
	if (rt_ninherited < RT_MAX_INHERITED && rt_syscall2(__NR_fstat, fd, (long)&st) == 0) {
		rt_inherited[rt_ninherited].dev = st.dev;
		rt_inherited[rt_ninherited++].ino = st.ino;
	}
	return 0;
}

void rt_note_inherited_fds(void)
{
	char buf[1024];
	rt_each_fd(buf, sizeof buf, rt_note_inherited, 0);
}

/* Pipes, sockets and the like cannot be rebuilt: say so when it happens, not only at restart */
static void rt_warn_unrestorable(long fd, const char *path)
{
	char msg[64] = "ckpt: warning: descriptor ";
	char *e = rt_utoa((uint64_t)fd, msg + rt_strlen(msg));
	rt_put(e, " (");
	const char *parts[] = { msg, path, ") cannot be restored (docs/limits.md)\n" };
	rt_write_line(parts, 3);
}

static int rt_save_file(struct rt_ckpt_work *w, long fd)
{
	struct rt_stat st;
	char name[32];
	long len = rt_syscall4(__NR_readlinkat, AT_FDCWD, (long)rt_fd_path(name, fd), (long)w->linkbuf, RT_PATH_MAX - 1);
	if (len <= 0 || rt_syscall2(__NR_fstat, fd, (long)&st) < 0)
		return 0;
	w->linkbuf[len] = 0;
	int placeholder = rt_remote_placeholder(fd);	/* a remote file's: restored as OTHER, renewed by remote/ */
	uint32_t type = placeholder ? CKPT_FT_OTHER : rt_file_type(fd, &st, w->linkbuf);
	unsigned char *p = rt_record(w, CKPT_REC_FILE, 0, CKPT_RF_SIZE + (size_t)len + 1);
	if (!p)
		return -1;
	long offset = rt_syscall3(__NR_lseek, fd, 0, SEEK_CUR);
	*(uint32_t *)(p + CKPT_RF_FD) = (uint32_t)fd;
	*(uint32_t *)(p + CKPT_RF_FLAGS) = (uint32_t)rt_syscall2(__NR_fcntl, fd, F_GETFL);
	*(uint64_t *)(p + CKPT_RF_OFFSET) = offset < 0 ? 0 : (uint64_t)offset;
	*(uint32_t *)(p + CKPT_RF_TYPE) = type;
	*(uint32_t *)(p + CKPT_RF_FD_FLAGS) = (uint32_t)rt_syscall2(__NR_fcntl, fd, F_GETFD);
	*(uint64_t *)(p + CKPT_RF_FILE_SIZE) = (uint64_t)st.size;
	*(uint64_t *)(p + CKPT_RF_MTIME_SEC) = st.mtime_sec;
	*(uint32_t *)(p + CKPT_RF_MTIME_NSEC) = (uint32_t)st.mtime_nsec;
	*(uint32_t *)(p + CKPT_RF_PATH_AT) = CKPT_RF_SIZE;
	*(uint32_t *)(p + CKPT_RF_SAME_AS) = rt_shared_with(w, fd);
	if (type == CKPT_FT_TERMINAL &&
	    rt_syscall3(__NR_ioctl, fd, TCGETS, (long)(p + CKPT_RF_TERMIOS)) == 0 &&
	    rt_syscall3(__NR_ioctl, fd, TIOCGWINSZ, (long)(p + CKPT_RF_WINSIZE)) == 0)
		*(uint32_t *)(p - CKPT_RH_SIZE + CKPT_RH_FLAGS) |= CKPT_FILE_HAS_TERMIOS;
	rt_memcpy(p + CKPT_RF_SIZE, w->linkbuf, (size_t)len + 1);
	rt_seal(p);
	if (w->nfds < RT_MAX_FILES)
		w->fds[w->nfds++] = (int)fd;
	if (placeholder)
		return 0;	/* remote/ makes it again: no kernel object of its own to save */
	int inherited = rt_was_inherited(fd, &st);
	int object = rt_save_kobject(w, fd, type, &st, w->linkbuf, inherited);
	if (object != RT_SAVE_NOT_MINE)
		return object;
	if (fd > 2 && type >= CKPT_FT_PIPE && !inherited)
		rt_warn_unrestorable(fd, w->linkbuf);
	return 0;
}

static int rt_save_file_of(void *arg, long fd)
{
	struct rt_ckpt_work *w = arg;
	return fd == w->image_fd || fd == rt_remote_fd || fd == rt_cursors_fd || fd == w->snapshot_fd || rt_track_owns_fd(fd) ? 0 : rt_save_file(w, fd);	/* the runtime's own */
}

/* Every descriptor of the program, in increasing order (getdents lists /proc/self/fd that way) */
int rt_save_files(struct rt_ckpt_work *w)
{
	w->nfds = 0;
	return rt_each_fd(w->fdbuf, sizeof w->fdbuf, rt_save_file_of, w);
}

#define RT_MAX_FDS		1024
#define RT_KEEP			(-1)	/* the restarting process's own descriptor stays */
#define RT_SHARE		(-2)	/* a dup of a lower descriptor of the image */

static struct {
	long above;
	int count;
	long tty_source;
	struct { const unsigned char *rec; long fd; } e[RT_MAX_FDS];
} rt_ft;

static long rt_move_above(long fd, long above)
{
	if (fd < 0)
		return fd;
	long moved = rt_syscall3(__NR_fcntl, fd, F_DUPFD_CLOEXEC, above);
	rt_syscall1(__NR_close, fd);
	return moved;
}

static int rt_isatty(long fd)
{
	unsigned char termios[64];
	return rt_syscall3(__NR_ioctl, fd, TCGETS, (long)termios) == 0;
}

static void rt_note_highest(void *arg, const unsigned char *h, const unsigned char *p)
{
	(void)arg, (void)h;
	if ((long)u32at(p, CKPT_RF_FD) >= rt_ft.above)
		rt_ft.above = (long)u32at(p, CKPT_RF_FD) + 1;
}

static const char *rt_file_path(const unsigned char *h, const unsigned char *p)
{
	uint32_t at = u32at(p, CKPT_RF_PATH_AT), size = u32at(h, CKPT_RH_PAYLOAD_SIZE);
	return at < size ? (const char *)p + at : "";
}

/*
 * A write-only O_APPEND file (a job's log, Slurm's --open-mode=append output) that only grew: the
 * program never reads it and its writes go to the end wherever that is, so the growth (its own
 * output after the checkpoint, or a requeued job's earlier run) changes nothing it can see.
 */
static int rt_only_appended(const unsigned char *p, const struct rt_stat *st)
{
	uint32_t flags = u32at(p, CKPT_RF_FLAGS);
	return (flags & O_ACCMODE) == O_WRONLY && (flags & O_APPEND) && (uint64_t)st->size >= u64at(p, CKPT_RF_FILE_SIZE);
}

/* A regular file that is not as the checkpoint left it: the program may see other data */
static void rt_check_unchanged(const struct rt_image *im, long fd, const unsigned char *p, const char *path)
{
	struct rt_stat st;
	if (rt_syscall2(__NR_fstat, fd, (long)&st) < 0)
		return;
	if ((uint64_t)st.size == u64at(p, CKPT_RF_FILE_SIZE) && st.mtime_sec == u64at(p, CKPT_RF_MTIME_SEC) &&
	    st.mtime_nsec == u32at(p, CKPT_RF_MTIME_NSEC))
		return;
	if (rt_only_appended(p, &st))
		return;
	if (!im->warn_only)
		rt_refuse_path(im, "a file changed since the checkpoint (CKPT_FILES_CHANGED=refuse): ", path);
	rt_warn("file changed since the checkpoint:", path, "(size or mtime differ)");
}

static long rt_open_by_path(const struct rt_image *im, const unsigned char *p, const char *path, uint32_t type)
{
	uint32_t flags = u32at(p, CKPT_RF_FLAGS) & ~(O_CREAT | O_TRUNC | O_EXCL);
	if (type == CKPT_FT_DIRECTORY)
		flags |= 0200000;	/* O_DIRECTORY */
	long fd = rt_syscall4(__NR_openat, AT_FDCWD, (long)path, flags | O_CLOEXEC, 0);
	if (fd < 0)
		rt_refuse_path(im, "a file the program had open cannot be opened again: ", path);
	if (type == CKPT_FT_REGULAR)
		rt_check_unchanged(im, fd, p, path);
	return fd;
}

static long rt_dev_null(const unsigned char *p)
{
	uint32_t access = u32at(p, CKPT_RF_FLAGS) & O_ACCMODE;
	return rt_syscall4(__NR_openat, AT_FDCWD, (long)"/dev/null", access | O_CLOEXEC, 0);
}

/* A pipe or socket at 3 and above: the same kind of descriptor, its peer gone */
static long rt_orphan(const unsigned char *p, uint32_t type)
{
	int pair[2];
	int writer = (u32at(p, CKPT_RF_FLAGS) & 3) == 1;	/* O_WRONLY */
	if (type == CKPT_FT_PIPE && rt_syscall2(__NR_pipe2, (long)pair, 02000000) == 0) {
		rt_syscall1(__NR_close, pair[!writer]);
		return pair[writer];
	}
	if (type == CKPT_FT_SOCKET &&
	    rt_syscall4(__NR_socketpair, RT_AF_UNIX, RT_SOCK_STREAM | RT_SOCK_CLOEXEC, 0, (long)pair) == 0) {
		rt_syscall1(__NR_close, pair[1]);
		return pair[0];
	}
	return rt_dev_null(p);
}

static long rt_take_terminal(const unsigned char *p, uint32_t fd)
{
	if (fd <= 2 && rt_isatty(fd))
		return RT_KEEP;
	if (rt_ft.tty_source >= 0)
		return rt_syscall3(__NR_fcntl, rt_ft.tty_source, F_DUPFD_CLOEXEC, rt_ft.above);
	long tty = rt_syscall4(__NR_openat, AT_FDCWD, (long)"/dev/tty", O_RDWR | O_CLOEXEC, 0);
	if (tty >= 0)
		return tty;
	rt_warn("no terminal to take over for descriptor", fd <= 2 ? "0-2:" : "3+:", "it keeps what it has, or /dev/null");
	return fd <= 2 ? RT_KEEP : rt_dev_null(p);
}

static void rt_open_one(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_image *im = arg;
	uint32_t fd = u32at(p, CKPT_RF_FD), type = u32at(p, CKPT_RF_TYPE);
	const char *path = rt_file_path(h, p);
	long got;
	if (rt_ft.count >= RT_MAX_FDS)
		rt_refuse(im, "too many open files in the image");
	if (u32at(p, CKPT_RF_SAME_AS) != ~0u)
		got = RT_SHARE;
	else if ((got = rt_open_kobject(im, p, path, rt_ft.above)) != RT_OPEN_NOT_MINE)
		;	/* a kernel object or a nameless file, made again (kobjects.c, fdata.c) */
	else if (type == CKPT_FT_REGULAR || type == CKPT_FT_DIRECTORY || type == CKPT_FT_CHAR)
		got = rt_open_by_path(im, p, path, type);
	else if (type == CKPT_FT_TERMINAL)
		got = rt_take_terminal(p, fd);
	else
		got = fd <= 2 ? RT_KEEP : rt_orphan(p, type);
	if (got >= 0 && (got = rt_move_above(got, rt_ft.above)) < 0)
		rt_refuse(im, "out of file descriptors");
	rt_ft.e[rt_ft.count].rec = p;
	rt_ft.e[rt_ft.count++].fd = got;
}

void rt_prepare_files(struct rt_image *im)
{
	rt_ft.above = 3;
	rt_ft.count = 0;
	rt_ft.tty_source = -1;
	for (long fd = 0; fd <= 2 && rt_ft.tty_source < 0; fd++)
		if (rt_isatty(fd))
			rt_ft.tty_source = fd;
	rt_each(im, CKPT_REC_FILE, rt_note_highest, 0);
	im->fd = rt_move_above(im->fd, rt_ft.above);
	if (im->fd < 0)
		rt_refuse(im, "out of file descriptors");
	rt_each(im, CKPT_REC_FILE, rt_open_one, im);
}

/* Closes what the restarting process had open that the image does not have */
static int rt_close_unknown(void *arg, long fd)
{
	const struct rt_image *im = arg;
	for (int i = 0; i < rt_ft.count; i++)
		if ((long)u32at(rt_ft.e[i].rec, CKPT_RF_FD) == fd)
			return 0;
	if (fd != im->fd && !rt_region_file_held(fd))
		rt_syscall1(__NR_close, fd);
	return 0;
}

static void rt_close_others(const struct rt_image *im)
{
	static char buf[4096];
	rt_each_fd(buf, sizeof buf, rt_close_unknown, (void *)im);
}

/* Descriptor i at its number, with its offset and flags (a kept one as it is); 1 when it is a
 * terminal that now has the image's termios */
static int rt_place_one(int i)
{
	const unsigned char *p = rt_ft.e[i].rec;
	long want = u32at(p, CKPT_RF_FD), fd = rt_ft.e[i].fd;
	uint32_t type = u32at(p, CKPT_RF_TYPE);
	if (fd == RT_SHARE) {
		rt_syscall2(__NR_dup2, (long)u32at(p, CKPT_RF_SAME_AS), want);
	} else if (fd != RT_KEEP) {
		rt_syscall2(__NR_dup2, fd, want);
		rt_syscall1(__NR_close, fd);
		if (type == CKPT_FT_REGULAR || type == CKPT_FT_DIRECTORY)
			rt_syscall3(__NR_lseek, want, (long)u64at(p, CKPT_RF_OFFSET), SEEK_SET);
		rt_syscall3(__NR_fcntl, want, F_SETFL, u32at(p, CKPT_RF_FLAGS));
	}
	if (fd != RT_KEEP)
		rt_syscall3(__NR_fcntl, want, F_SETFD, u32at(p, CKPT_RF_FD_FLAGS));
	if (type == CKPT_FT_TERMINAL && (u32at(p - CKPT_RH_SIZE, CKPT_RH_FLAGS) & CKPT_FILE_HAS_TERMIOS))
		return rt_syscall3(__NR_ioctl, want, TCSETS, (long)(p + CKPT_RF_TERMIOS)) == 0;
	return 0;
}

int rt_restore_files(const struct rt_image *im)
{
	int terminal = 0;
	for (int i = 0; i < rt_ft.count; i++)
		terminal |= rt_place_one(i);
	rt_restore_kobjects(im);
	rt_close_others(im);
	return terminal;
}
