/*
 * Kernel objects behind descriptors: pipes whose every end the process holds (with their unread
 * bytes), eventfd, timerfd, signalfd and epoll instances, and where O_ASYNC's signal goes. Each is
 * read from what the kernel shows an unprivileged process (/proc/self/fdinfo, /proc/self/fd,
 * fcntl, ioctl, tee) into a record of its own that completes the descriptor's CKPT_REC_FILE record
 * (docs/image-format.md), and made again at restart at the same number, with the same flags and
 * the same sharing of open file descriptions (files.c places them).
 *
 * Contract with files.c: rt_save_kobject is called for every descriptor after its file record;
 * rt_open_kobject makes the object during the restart's checks (anything that cannot be made
 * refuses the image with the process untouched); rt_restore_kobjects runs once every descriptor
 * is at its number, for what needs the final numbers (epoll registrations) or the time as late as
 * possible (timers).
 *
 * A descriptor of these kinds that cannot be rebuilt refuses the checkpoint (the previous image
 * stays) with a message naming it, and an image with one refuses the restart: never silently a
 * different object.
 */
#include <linux/eventpoll.h>
#include <linux/signalfd.h>
#include <linux/timerfd.h>
#include "ckpt/save.h"
#include "ckpt/restore.h"

/* ---- the checkpoint's side ---- */

/* The descriptor's /proc/self/fdinfo text in w->fdinfo, NUL-terminated; its length or -1 */
long rt_read_fdinfo(struct rt_ckpt_work *w, long fd)
{
	char path[40];
	rt_utoa((uint64_t)fd, rt_put(path, "/proc/self/fdinfo/"));
	long n = rt_read_file(path, w->fdinfo, sizeof w->fdinfo);
	return n >= (long)sizeof w->fdinfo - 1 ? -1 : n;	/* cut short: refused rather than half read */
}

/* The number at s in base 16, 10 or 8, after blanks, in *out; returns where it ends */
const char *rt_parse_number(const char *s, unsigned base, uint64_t *out)
{
	while (*s == ' ' || *s == '\t')
		s++;
	uint64_t v = 0;
	for (;; s++) {
		unsigned c = (unsigned)(*s | 0x20);
		unsigned d = *s >= '0' && *s <= '9' ? (unsigned)(*s - '0') : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 99;
		if (d >= base)
			break;
		v = v * base + d;
	}
	*out = v;
	return s;
}

/* The number after "key" at the start of a line of text; 1 when found */
static int rt_field(const char *text, const char *key, unsigned base, uint64_t *out)
{
	size_t klen = rt_strlen(key);
	for (const char *s = text; *s; s++)
		if ((s == text || s[-1] == '\n') && !rt_memcmp(s, key, klen)) {
			rt_parse_number(s + klen, base, out);
			return 1;
		}
	return 0;
}

/* A zeroed record of a kind whose payload starts with its descriptor; 0 when the area is full */
unsigned char *rt_fd_record(struct rt_ckpt_work *w, uint32_t kind, size_t size, long fd)
{
	unsigned char *p = rt_record(w, kind, 0, size);
	if (p)
		*(uint32_t *)p = (uint32_t)fd;
	return p;
}

/* The refusal of a checkpoint: a warning when the program goes on, an error before the vacate exit */
int rt_refuse_descriptor(const struct rt_ckpt_work *w, long fd, const char *kind, const char *why)
{
	char num[24];
	rt_utoa((uint64_t)fd, num);
	const char *parts[] = { w->sig == rt_vacate_signal ? "ckpt: error: " : "ckpt: warning: ",
		"checkpoint refused, previous image kept: descriptor ", num, " (", kind, ") cannot be restored: ", why,
		" (docs/limits.md)\n" };
	rt_write_line(parts, 8);
	return RT_SAVE_REFUSED;
}

static int rt_save_eventfd(struct rt_ckpt_work *w, long fd)
{
	uint64_t count, semaphore;
	if (rt_read_fdinfo(w, fd) < 0 || !rt_field(w->fdinfo, "eventfd-count:", 16, &count))
		return rt_refuse_descriptor(w, fd, "eventfd", "its counter cannot be read");
	if (!rt_field(w->fdinfo, "eventfd-semaphore:", 10, &semaphore))
		return rt_refuse_descriptor(w, fd, "eventfd", "this kernel does not show whether it is a semaphore (Linux 6.6 does)");
	unsigned char *p = rt_fd_record(w, CKPT_REC_EVENTFD, CKPT_REV_SIZE, fd);
	if (!p)
		return RT_SAVE_FULL;
	*(uint32_t *)(p + CKPT_REV_FLAGS) = semaphore ? CKPT_EVENTFD_SEMAPHORE : 0;
	*(uint64_t *)(p + CKPT_REV_COUNT) = count;
	rt_seal(p);
	return 0;
}

/* The clock an alarm clock counts on: the time a restart compares with */
static long rt_base_clock(uint64_t clock)
{
	return clock == CLOCK_REALTIME_ALARM ? CLOCK_REALTIME : clock == CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME : (long)clock;
}

static int rt_save_timerfd(struct rt_ckpt_work *w, long fd)
{
	uint64_t clock, ticks, flags;
	struct { int64_t interval_sec, interval_nsec, value_sec, value_nsec; } spec;
	struct { int64_t sec, nsec; } now;
	if (rt_read_fdinfo(w, fd) < 0 || !rt_field(w->fdinfo, "clockid:", 10, &clock) ||
	    !rt_field(w->fdinfo, "ticks:", 10, &ticks) || !rt_field(w->fdinfo, "settime flags:", 8, &flags) ||
	    rt_syscall2(__NR_timerfd_gettime, fd, (long)&spec) < 0 ||
	    rt_syscall2(__NR_clock_gettime, rt_base_clock(clock), (long)&now) < 0)
		return rt_refuse_descriptor(w, fd, "timerfd", "its clock and times cannot be read");
	unsigned char *p = rt_fd_record(w, CKPT_REC_TIMERFD, CKPT_RTF_SIZE, fd);
	if (!p)
		return RT_SAVE_FULL;
	*(uint32_t *)(p + CKPT_RTF_CLOCK) = (uint32_t)clock;
	*(uint32_t *)(p + CKPT_RTF_SETTIME_FLAGS) = (uint32_t)flags;
	*(uint64_t *)(p + CKPT_RTF_TICKS) = ticks;
	*(uint64_t *)(p + CKPT_RTF_VALUE_SEC) = (uint64_t)spec.value_sec;
	*(uint64_t *)(p + CKPT_RTF_VALUE_NSEC) = (uint64_t)spec.value_nsec;
	*(uint64_t *)(p + CKPT_RTF_INTERVAL_SEC) = (uint64_t)spec.interval_sec;
	*(uint64_t *)(p + CKPT_RTF_INTERVAL_NSEC) = (uint64_t)spec.interval_nsec;
	*(uint64_t *)(p + CKPT_RTF_NOW_SEC) = (uint64_t)now.sec;
	*(uint64_t *)(p + CKPT_RTF_NOW_NSEC) = (uint64_t)now.nsec;
	rt_seal(p);
	return 0;
}

static int rt_save_signalfd(struct rt_ckpt_work *w, long fd)
{
	uint64_t mask;
	if (rt_read_fdinfo(w, fd) < 0 || !rt_field(w->fdinfo, "sigmask:", 16, &mask))
		return rt_refuse_descriptor(w, fd, "signalfd", "its signal mask cannot be read");
	unsigned char *p = rt_fd_record(w, CKPT_REC_SIGNALFD, CKPT_RSF_SIZE, fd);
	if (!p)
		return RT_SAVE_FULL;
	*(uint64_t *)(p + CKPT_RSF_MASK) = mask;
	rt_seal(p);
	return 0;
}

/* Whether the file epoll instance epfd registered as tfd is the one at tfd now */
static int rt_epoll_target_open(long epfd, long tfd)
{
	struct { uint32_t efd, tfd, toff; } slot = { (uint32_t)epfd, (uint32_t)tfd, 0 };
	long pid = (long)rt_ids_real.pid;
	return rt_syscall5(__NR_kcmp, pid, pid, KCMP_EPOLL_TFD, tfd, (long)&slot) == 0;
}

/* Where "key" starts within the line at s, or 0 */
const char *rt_in_line(const char *s, const char *key)
{
	for (size_t klen = rt_strlen(key); *s && *s != '\n'; s++)
		if (!rt_memcmp(s, key, klen))
			return s + klen;
	return 0;
}

/* The line after the one at line (the text's end when it is the last) */
const char *rt_next_line(const char *line)
{
	while (*line && *line != '\n')
		line++;
	return *line ? line + 1 : line;
}

/* One "tfd: N events: X data: Y ..." line of an epoll instance's fdinfo into an entry */
static int rt_save_epoll_entry(struct rt_ckpt_work *w, unsigned char *p, long fd, const char *line)
{
	uint64_t tfd, events, data;
	if (!rt_starts_with(line, "tfd:"))
		return 0;
	const char *ev = rt_in_line(rt_parse_number(line + 4, 10, &tfd), "events:");
	const char *d = ev ? rt_in_line(rt_parse_number(ev, 16, &events), "data:") : 0;
	if (!d)
		return rt_refuse_descriptor(w, fd, "epoll", "a registration cannot be read");
	rt_parse_number(d, 16, &data);
	if (!rt_epoll_target_open(fd, (long)tfd))
		return rt_refuse_descriptor(w, fd, "epoll", "a descriptor it watches was closed while its file stays open elsewhere");
	unsigned char *e = rt_record_grow(w, p, CKPT_EPOLL_ENTRY_SIZE);
	if (!e)
		return RT_SAVE_FULL;
	*(uint32_t *)(e + CKPT_EPOLL_TFD) = (uint32_t)tfd;
	*(uint32_t *)(e + CKPT_EPOLL_EVENTS) = (uint32_t)events;
	*(uint64_t *)(e + CKPT_EPOLL_DATA) = data;
	(*(uint32_t *)(p + CKPT_REP_COUNT))++;
	return 0;
}

static int rt_save_epoll(struct rt_ckpt_work *w, long fd)
{
	if (rt_read_fdinfo(w, fd) < 0)
		return rt_refuse_descriptor(w, fd, "epoll", "its registrations cannot be read");
	unsigned char *p = rt_fd_record(w, CKPT_REC_EPOLL, CKPT_REP_SIZE, fd);
	if (!p)
		return RT_SAVE_FULL;
	for (const char *line = w->fdinfo; *line; line = rt_next_line(line)) {
		int r = rt_save_epoll_entry(w, p, fd, line);
		if (r)
			return r;
	}
	rt_seal(p);
	return 0;
}

/* The pipe's other ends: found by scanning the descriptors for the same "pipe:[N]" */
struct rt_pipe_scan { struct rt_ckpt_work *w; const char *name; long reader, writer; };

static int rt_note_pipe_end(void *arg, long fd)
{
	struct rt_pipe_scan *s = arg;
	char link[64], path[32];
	long n = rt_syscall4(__NR_readlinkat, AT_FDCWD, (long)rt_fd_path(path, fd), (long)link, sizeof link - 1);
	if (n <= 0)
		return 0;
	link[n] = 0;
	if (!rt_streq(link, s->name))
		return 0;
	long mode = rt_syscall2(__NR_fcntl, fd, F_GETFL) & O_ACCMODE;
	if (mode != O_WRONLY && s->reader < 0)
		s->reader = fd;
	if (mode != O_RDONLY && s->writer < 0)
		s->writer = fd;
	return 0;
}

static int rt_pipe_seen(const struct rt_ckpt_work *w, uint64_t inode)
{
	for (int i = 0; i < w->npipes; i++)
		if (w->pipes[i] == inode)
			return 1;
	return 0;
}

/* The unread bytes of the pipe at reader, copied by tee(2) through a pipe of the same size: the
 * program's pipe keeps them */
int rt_copy_unread(long reader, unsigned char *out, uint32_t bytes, uint32_t capacity)
{
	int tmp[2];
	if (rt_syscall2(__NR_pipe2, (long)tmp, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	long ok = rt_syscall3(__NR_fcntl, tmp[1], F_SETPIPE_SZ, capacity) >= (long)capacity &&
		  rt_syscall4(__NR_tee, reader, tmp[1], bytes, RT_SPLICE_F_NONBLOCK) == (long)bytes;
	for (uint32_t done = 0; ok && done < bytes;) {
		long n = rt_syscall3(__NR_read, tmp[0], (long)(out + done), bytes - done);
		ok = n > 0;
		done += ok ? (uint32_t)n : 0;
	}
	rt_syscall1(__NR_close, tmp[0]);
	rt_syscall1(__NR_close, tmp[1]);
	return ok ? 0 : -1;
}

/*
 * A pipe, once, at the first of its descriptors: restorable when the process holds a read end and
 * a write end. Another's end (a launcher's, a child's) leaves it to files.c (its peer gone).
 */
static int rt_save_pipe(struct rt_ckpt_work *w, long fd, const char *name)
{
	uint64_t inode;
	if (!rt_field(name, "pipe:[", 10, &inode))
		return RT_SAVE_NOT_MINE;
	if (rt_pipe_seen(w, inode))
		return 0;
	struct rt_pipe_scan s = { w, name, -1, -1 };
	if (rt_each_fd(w->scanbuf, sizeof w->scanbuf, rt_note_pipe_end, &s) < 0 || s.reader < 0 || s.writer < 0)
		return RT_SAVE_NOT_MINE;
	if (w->npipes >= RT_MAX_PIPES)
		return rt_refuse_descriptor(w, fd, name, "more pipes than a checkpoint keeps (256)");
	int bytes = 0;
	long capacity = rt_syscall2(__NR_fcntl, s.reader, F_GETPIPE_SZ);
	if (capacity < 0 || rt_syscall3(__NR_ioctl, s.reader, FIONREAD, (long)&bytes) < 0 || bytes < 0 || bytes > capacity)
		return rt_refuse_descriptor(w, fd, name, "its size and unread bytes cannot be read");
	unsigned char *p = rt_record(w, CKPT_REC_PIPE, 0, CKPT_RPI_SIZE + (size_t)bytes);
	if (!p)
		return RT_SAVE_FULL;
	*(uint64_t *)(p + CKPT_RPI_INODE) = inode;
	*(uint32_t *)(p + CKPT_RPI_CAPACITY) = (uint32_t)capacity;
	*(uint32_t *)(p + CKPT_RPI_BYTES) = (uint32_t)bytes;
	if (bytes && rt_copy_unread(s.reader, p + CKPT_RPI_SIZE, (uint32_t)bytes, (uint32_t)capacity) < 0)
		return rt_refuse_descriptor(w, fd, name, "its unread bytes cannot be copied (tee)");
	rt_seal(p);
	w->pipes[w->npipes++] = inode;
	return 0;
}

/*
 * F_SETOWN_EX and F_SETSIG, when the program set them; its own pid or tid as it knows them. An
 * owner elsewhere refuses the checkpoint, unless the descriptor was inherited with it (a launcher's
 * setting, left as the restarting process has it).
 */
static int rt_save_fown(struct rt_ckpt_work *w, long fd, int inherited)
{
	struct { int type, pid; } owner = { 0, 0 };
	long sig = rt_syscall2(__NR_fcntl, fd, F_GETSIG);
	if (rt_syscall3(__NR_fcntl, fd, F_GETOWN_EX, (long)&owner) < 0)
		owner.pid = 0;
	if (!owner.pid && sig <= 0)
		return 0;
	if ((uint64_t)owner.pid == rt_ids_real.pid && owner.type == F_OWNER_PID)
		owner.pid = (int)rt_ids_virtual.pid;
	else if ((uint64_t)owner.pid == rt_ids_real.tid && owner.type == F_OWNER_TID)
		owner.pid = (int)rt_ids_virtual.tid;
	else if (owner.pid && inherited)
		return 0;
	else if (owner.pid)
		return rt_refuse_descriptor(w, fd, "F_SETOWN", "its signals go to another process or group");
	unsigned char *p = rt_fd_record(w, CKPT_REC_FOWN, CKPT_RFO_SIZE, fd);
	if (!p)
		return RT_SAVE_FULL;
	*(uint32_t *)(p + CKPT_RFO_SIGNAL) = sig > 0 ? (uint32_t)sig : 0;
	*(uint32_t *)(p + CKPT_RFO_OWNER_TYPE) = (uint32_t)owner.type;
	*(uint32_t *)(p + CKPT_RFO_OWNER) = (uint32_t)owner.pid;
	rt_seal(p);
	return 0;
}

#define RT_DEV_TTY	0x500	/* /dev/tty, 5:0 as st_rdev encodes it: the controlling terminal, whatever it is */

/* The controlling terminal's device number (/proc/self/stat's tty_nr, encoded as stat's st_rdev); 0: none */
static uint64_t rt_controlling_tty(struct rt_ckpt_work *w)
{
	uint64_t tty = 0;
	long n = rt_read_file("/proc/self/stat", w->scanbuf, sizeof w->scanbuf);
	const char *s = w->scanbuf + (n > 0 ? n : 0);
	while (s > w->scanbuf && *s != ')')	/* the command name may hold anything but its last ')' */
		s--;
	for (int field = 2; *s && field < 7; s++)
		field += *s == ' ';
	if (*s)
		rt_parse_number(s, 10, &tty);
	return tty;
}

/*
 * A terminal is the restarting process's at a restart (files.c): right for the job's own terminal
 * (inherited, or the controlling one), wrong for a pseudo-terminal the program opened itself
 * (/dev/ptmx and its /dev/pts/N): its writes would go to the user's terminal. Refused.
 */
static int rt_check_terminal(struct rt_ckpt_work *w, long fd, const struct rt_stat *st, const char *path, int inherited)
{
	if (inherited || st->rdev == RT_DEV_TTY || st->rdev == rt_controlling_tty(w))
		return RT_SAVE_NOT_MINE;
	return rt_refuse_descriptor(w, fd, path, "a pseudo-terminal the program opened itself is not made again (it would "
				    "come back as the restarting process's terminal)");
}

/* The kernel object behind an anonymous inode, by the name /proc/self/fd shows */
static int rt_save_anon(struct rt_ckpt_work *w, long fd, const char *path)
{
	if (rt_streq(path, "anon_inode:[eventfd]"))
		return rt_save_eventfd(w, fd);
	if (rt_streq(path, "anon_inode:[timerfd]"))
		return rt_save_timerfd(w, fd);
	if (rt_streq(path, "anon_inode:[signalfd]"))
		return rt_save_signalfd(w, fd);
	if (rt_streq(path, "anon_inode:[eventpoll]"))
		return rt_save_epoll(w, fd);
	if (rt_streq(path, "anon_inode:inotify"))
		return rt_save_inotify(w, fd);
	return rt_refuse_descriptor(w, fd, path, "no restore is known for this kind of object");
}

/*
 * Called for every descriptor after its file record: 0 when its object is recorded (or it has
 * none), RT_SAVE_NOT_MINE when files.c's own rule applies, RT_SAVE_FULL or RT_SAVE_REFUSED
 */
int rt_save_kobject(struct rt_ckpt_work *w, long fd, uint32_t type, const struct rt_stat *st, const char *path,
		    int inherited)
{
	int r = rt_save_fown(w, fd, inherited);
	if (r)
		return r;
	if (type == CKPT_FT_PIPE && rt_starts_with(path, "pipe:["))
		return rt_save_pipe(w, fd, path);
	if (type == CKPT_FT_PIPE && rt_is_fifo(st, path) && !inherited)	/* an inherited one is the launcher's, as its pipes */
		return rt_save_fifo(w, fd, st, path);
	if (type == CKPT_FT_OTHER && rt_is_symlink(st))
		return rt_save_symlink(w, fd, path);
	if (type == CKPT_FT_OTHER && rt_starts_with(path, "anon_inode:"))
		return rt_save_anon(w, fd, path);
	if (type == CKPT_FT_REGULAR)
		return rt_save_file_data(w, fd, st, path);
	if (type == CKPT_FT_TERMINAL)
		return rt_check_terminal(w, fd, st, path, inherited);
	if (type == CKPT_FT_SOCKET && !inherited)
		return rt_save_socket(w, fd, path);
	return RT_SAVE_NOT_MINE;
}

/* ---- the restart's side ---- */

/* Pipes made again, by inode; their ends wait here until their descriptors take them */
static struct { uint64_t inode; long reader, writer; } rt_made_pipes[RT_MAX_PIPES];
static int rt_nmade_pipes;

struct rt_find { uint32_t kind, fd; uint64_t inode; const unsigned char *found; uint32_t size; };

static void rt_match(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_find *f = arg;
	uint32_t size = u32at(h, CKPT_RH_PAYLOAD_SIZE);
	int hit = f->kind == CKPT_REC_PIPE ? size >= CKPT_RPI_SIZE && u64at(p, CKPT_RPI_INODE) == f->inode
					   : size >= 4 && u32at(p, 0) == f->fd;	/* every other kind starts with its fd */
	if (hit && !f->found) {
		f->found = p;
		f->size = size;
	}
}

/* The record of a kind for descriptor fd (or a pipe's inode), at least min bytes long; 0 when none */
const unsigned char *rt_find_kobject(const struct rt_image *im, uint32_t kind, uint32_t fd, uint64_t inode,
				     uint32_t min, uint32_t *size)
{
	struct rt_find f = { kind, fd, inode, 0, 0 };
	rt_each(im, kind, rt_match, &f);
	if (f.found && f.size < min)
		rt_refuse(im, "a kernel object record is too short");
	if (size)
		*size = f.size;
	return f.found;
}

/* "descriptor N (what) cannot be restored: " into buf, for rt_refuse_path */
static const char *rt_descriptor_text(char *buf, uint32_t fd, const char *what)
{
	char *e = rt_utoa(fd, rt_put(buf, "descriptor "));
	rt_put(rt_put(rt_put(e, " ("), what), ") cannot be restored: ");
	return buf;
}

_Noreturn void rt_refuse_kobject(const struct rt_image *im, uint32_t fd, const char *what, const char *why)
{
	char buf[128];
	rt_refuse_path(im, rt_descriptor_text(buf, fd, what), why);
}

/* fd moved to a number above every descriptor of the image (its holder's until files.c places it) */
long rt_fd_above(long fd, long above)
{
	if (fd < 0)
		return fd;
	long moved = rt_syscall3(__NR_fcntl, fd, F_DUPFD_CLOEXEC, above);
	rt_syscall1(__NR_close, fd);
	return moved;
}

static long rt_make_pipe(const struct rt_image *im, const unsigned char *rec, uint32_t size, uint32_t fd, long above)
{
	int pair[2];
	uint32_t bytes = u32at(rec, CKPT_RPI_BYTES);
	if (rt_nmade_pipes >= RT_MAX_PIPES)
		rt_refuse_kobject(im, fd, "pipe", "more pipes than a restart makes (256)");
	if (size < CKPT_RPI_SIZE + bytes || rt_syscall2(__NR_pipe2, (long)pair, O_CLOEXEC | O_NONBLOCK) < 0)
		rt_refuse_kobject(im, fd, "pipe", "it cannot be made again");
	long reader = rt_fd_above(pair[0], above), writer = rt_fd_above(pair[1], above);
	if (rt_syscall3(__NR_fcntl, writer, F_SETPIPE_SZ, u32at(rec, CKPT_RPI_CAPACITY)) < (long)u32at(rec, CKPT_RPI_CAPACITY))
		rt_refuse_kobject(im, fd, "pipe", "its size is above what this user may set (/proc/sys/fs/pipe-max-size)");
	if (bytes && rt_syscall3(__NR_write, writer, (long)(rec + CKPT_RPI_SIZE), bytes) != (long)bytes)
		rt_refuse_kobject(im, fd, "pipe", "its unread bytes cannot be put back");
	rt_made_pipes[rt_nmade_pipes].inode = u64at(rec, CKPT_RPI_INODE);
	rt_made_pipes[rt_nmade_pipes].reader = reader;
	rt_made_pipes[rt_nmade_pipes].writer = writer;
	return rt_nmade_pipes++;
}

/*
 * A descriptor of a pipe the image holds whole: the end its access mode names. The first
 * descriptor of an end shares the made pipe's open file description; another one (a second open
 * of /proc/self/fd/N) gets one of its own, as it had.
 */
static long rt_open_pipe_end(const struct rt_image *im, const unsigned char *file, const char *path, long above)
{
	uint64_t inode;
	uint32_t size, fd = u32at(file, CKPT_RF_FD);
	if (!rt_field(path, "pipe:[", 10, &inode))
		return RT_OPEN_NOT_MINE;
	const unsigned char *rec = rt_find_kobject(im, CKPT_REC_PIPE, 0, inode, CKPT_RPI_SIZE, &size);
	if (!rec)
		return RT_OPEN_NOT_MINE;
	long i = 0;
	while (i < rt_nmade_pipes && rt_made_pipes[i].inode != inode)
		i++;
	if (i == rt_nmade_pipes)
		i = rt_make_pipe(im, rec, size, fd, above);
	int writing = (u32at(file, CKPT_RF_FLAGS) & O_ACCMODE) == O_WRONLY;
	long *end = writing ? &rt_made_pipes[i].writer : &rt_made_pipes[i].reader;
	if (*end >= 0) {
		long got = rt_syscall3(__NR_fcntl, *end, F_DUPFD_CLOEXEC, above);
		*end = -1 - *end;	/* taken: the next descriptor of this end opens its own */
		return got;
	}
	char proc[32];
	long got = rt_syscall4(__NR_openat, AT_FDCWD, (long)rt_fd_path(proc, -1 - *end), (writing ? O_WRONLY : O_RDONLY) | O_CLOEXEC, 0);
	if (got < 0)
		rt_refuse_kobject(im, fd, path, "a second open of the pipe cannot be made");
	return got;
}

static long rt_make_eventfd(const struct rt_image *im, uint32_t fd)
{
	const unsigned char *rec = rt_find_kobject(im, CKPT_REC_EVENTFD, fd, 0, CKPT_REV_SIZE, 0);
	if (!rec)
		return RT_OPEN_NOT_MINE;
	long flags = O_CLOEXEC | (u32at(rec, CKPT_REV_FLAGS) & CKPT_EVENTFD_SEMAPHORE ? RT_EFD_SEMAPHORE : 0);
	long efd = rt_syscall2(__NR_eventfd2, 0, flags);
	uint64_t count = u64at(rec, CKPT_REV_COUNT);
	if (efd < 0 || (count && rt_syscall3(__NR_write, efd, (long)&count, 8) != 8))
		rt_refuse_kobject(im, fd, "eventfd", "it cannot be made again with its counter");
	return efd;
}

static long rt_make_timerfd(const struct rt_image *im, uint32_t fd)
{
	const unsigned char *rec = rt_find_kobject(im, CKPT_REC_TIMERFD, fd, 0, CKPT_RTF_SIZE, 0);
	if (!rec)
		return RT_OPEN_NOT_MINE;
	long tfd = rt_syscall2(__NR_timerfd_create, u32at(rec, CKPT_RTF_CLOCK), TFD_CLOEXEC);
	if (tfd < 0)
		rt_refuse_kobject(im, fd, "timerfd", "its clock cannot be used here (alarm clocks need CAP_WAKE_ALARM)");
	return tfd;
}

static long rt_make_signalfd(const struct rt_image *im, uint32_t fd)
{
	const unsigned char *rec = rt_find_kobject(im, CKPT_REC_SIGNALFD, fd, 0, CKPT_RSF_SIZE, 0);
	if (!rec)
		return RT_OPEN_NOT_MINE;
	uint64_t mask = u64at(rec, CKPT_RSF_MASK);
	long sfd = rt_syscall4(__NR_signalfd4, -1, (long)&mask, RT_SIGSET_SIZE, SFD_CLOEXEC);
	if (sfd < 0)
		rt_refuse_kobject(im, fd, "signalfd", "it cannot be made again");
	return sfd;
}

struct rt_fd_lookup { uint32_t fd; int found; };

static void rt_note_file(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_fd_lookup *l = arg;
	(void)h;
	l->found |= u32at(p, CKPT_RF_FD) == l->fd;
}

/* An epoll instance, empty: its registrations are made once every descriptor is at its number */
static long rt_make_epoll(const struct rt_image *im, uint32_t fd)
{
	uint32_t size;
	const unsigned char *rec = rt_find_kobject(im, CKPT_REC_EPOLL, fd, 0, CKPT_REP_SIZE, &size);
	if (!rec)
		return RT_OPEN_NOT_MINE;
	uint32_t count = u32at(rec, CKPT_REP_COUNT);
	if (count > (size - CKPT_REP_SIZE) / CKPT_EPOLL_ENTRY_SIZE)
		rt_refuse_kobject(im, fd, "epoll", "its record is inconsistent");
	for (uint32_t i = 0; i < count; i++) {
		struct rt_fd_lookup l = { u32at(rec + CKPT_REP_SIZE + i * CKPT_EPOLL_ENTRY_SIZE, CKPT_EPOLL_TFD), 0 };
		rt_each(im, CKPT_REC_FILE, rt_note_file, &l);
		if (!l.found)
			rt_refuse_kobject(im, fd, "epoll", "a descriptor it watches is not in the image");
	}
	long epfd = rt_syscall1(__NR_epoll_create1, EPOLL_CLOEXEC);
	if (epfd < 0)
		rt_refuse_kobject(im, fd, "epoll", "it cannot be made again");
	return epfd;
}

static long rt_open_anon(const struct rt_image *im, uint32_t fd, const char *path)
{
	long got = RT_OPEN_NOT_MINE;
	if (rt_streq(path, "anon_inode:[eventfd]"))
		got = rt_make_eventfd(im, fd);
	else if (rt_streq(path, "anon_inode:[timerfd]"))
		got = rt_make_timerfd(im, fd);
	else if (rt_streq(path, "anon_inode:[signalfd]"))
		got = rt_make_signalfd(im, fd);
	else if (rt_streq(path, "anon_inode:[eventpoll]"))
		got = rt_make_epoll(im, fd);
	else if (rt_streq(path, "anon_inode:inotify"))
		got = rt_make_inotify(im, fd);
	if (got == RT_OPEN_NOT_MINE && fd > 2)	/* an image from before these were saved, or a kind never saved */
		rt_refuse_kobject(im, fd, path, "the image does not hold this object");
	return got;
}

/*
 * The object of a descriptor's file record, made again at a descriptor of its own (close-on-exec,
 * to be placed by files.c); RT_OPEN_NOT_MINE when files.c's own rule applies. Refuses the image
 * when it cannot be made.
 */
long rt_open_kobject(const struct rt_image *im, const unsigned char *file, const char *path, long above)
{
	uint32_t type = u32at(file, CKPT_RF_TYPE), fd = u32at(file, CKPT_RF_FD);
	if (type == CKPT_FT_PIPE && rt_starts_with(path, "pipe:["))
		return rt_open_pipe_end(im, file, path, above);
	if (type == CKPT_FT_PIPE && path[0] == '/')
		return rt_open_fifo(im, file, path, above);
	if (type == CKPT_FT_OTHER && path[0] == '/')
		return rt_open_symlink(im, fd, path);
	if (type == CKPT_FT_OTHER && rt_starts_with(path, "anon_inode:"))
		return rt_open_anon(im, fd, path);
	if (type == CKPT_FT_REGULAR)
		return rt_open_file_data(im, file, path, above);
	if (type == CKPT_FT_SOCKET)
		return rt_open_socket(im, file, above);
	return RT_OPEN_NOT_MINE;
}

/* A timer armed now, so that the restart's own time is not counted: as relative timers are */
static void rt_arm_timer(void *arg, const unsigned char *h, const unsigned char *p)
{
	(void)arg, (void)h;
	long fd = u32at(p, CKPT_RTF_FD);
	uint32_t flags = u32at(p, CKPT_RTF_SETTIME_FLAGS);
	struct { int64_t interval_sec, interval_nsec, value_sec, value_nsec; } spec = {
		(int64_t)u64at(p, CKPT_RTF_INTERVAL_SEC), (int64_t)u64at(p, CKPT_RTF_INTERVAL_NSEC),
		(int64_t)u64at(p, CKPT_RTF_VALUE_SEC), (int64_t)u64at(p, CKPT_RTF_VALUE_NSEC) };
	uint64_t ticks = u64at(p, CKPT_RTF_TICKS);
	/* a wall-clock deadline stays one; deadlines of the other clocks mean nothing on another boot */
	if ((flags & TFD_TIMER_ABSTIME) && rt_base_clock(u32at(p, CKPT_RTF_CLOCK)) == CLOCK_REALTIME &&
	    (spec.value_sec || spec.value_nsec)) {
		spec.value_sec += (int64_t)u64at(p, CKPT_RTF_NOW_SEC);
		spec.value_nsec += (int64_t)u64at(p, CKPT_RTF_NOW_NSEC);
		if (spec.value_nsec >= 1000000000)
			spec.value_sec++, spec.value_nsec -= 1000000000;
	} else {
		flags = 0;
	}
	if ((spec.value_sec || spec.value_nsec) && rt_syscall4(__NR_timerfd_settime, fd, flags, (long)&spec, 0) < 0)
		rt_warn("a timerfd could not be armed again:", "", "it stays disarmed");
	if (ticks)
		rt_syscall3(__NR_ioctl, fd, TFD_IOC_SET_TICKS, (long)&ticks);
}

static void rt_register_epoll(void *arg, const unsigned char *h, const unsigned char *p)
{
	(void)arg, (void)h;
	long epfd = u32at(p, CKPT_REP_FD);
	for (uint32_t i = 0; i < u32at(p, CKPT_REP_COUNT); i++) {
		const unsigned char *e = p + CKPT_REP_SIZE + i * CKPT_EPOLL_ENTRY_SIZE;
		struct epoll_event ev = { u32at(e, CKPT_EPOLL_EVENTS), u64at(e, CKPT_EPOLL_DATA) };
		if (rt_syscall4(__NR_epoll_ctl, epfd, EPOLL_CTL_ADD, u32at(e, CKPT_EPOLL_TFD), (long)&ev) < 0)
			rt_warn("an epoll registration could not be made again:", "", "its events will not be reported");
	}
}

/* Its own pid or tid as the program knew them: this process's now */
static void rt_restore_fown(void *arg, const unsigned char *h, const unsigned char *p)
{
	const struct rt_image *im = arg;
	(void)h;
	long fd = u32at(p, CKPT_RFO_FD);
	struct { int type, pid; } owner = { (int)u32at(p, CKPT_RFO_OWNER_TYPE), (int)u32at(p, CKPT_RFO_OWNER) };
	if (u32at(p, CKPT_RFO_SIGNAL))
		rt_syscall3(__NR_fcntl, fd, F_SETSIG, u32at(p, CKPT_RFO_SIGNAL));
	if (owner.type == F_OWNER_PID && (uint32_t)owner.pid == u32at(im->process, CKPT_RP_PID))
		owner.pid = (int)rt_ids_real.pid;
	else if (owner.type == F_OWNER_TID && (uint32_t)owner.pid == u32at(im->process, CKPT_RP_TID))
		owner.pid = (int)rt_ids_real.tid;
	else
		owner.pid = 0;
	if (owner.pid)
		rt_syscall3(__NR_fcntl, fd, F_SETOWN_EX, (long)&owner);
}

/* Once every descriptor is at its number: epoll registrations (their targets are there now),
 * timers armed, signal owners set */
void rt_restore_kobjects(const struct rt_image *im)
{
	rt_each(im, CKPT_REC_EPOLL, rt_register_epoll, 0);
	rt_each(im, CKPT_REC_TIMERFD, rt_arm_timer, 0);
	rt_each(im, CKPT_REC_FOWN, rt_restore_fown, (void *)im);
}
