/*
 * The virtual file table of a job whose files live on the shadow (CKPT_SHADOW). A remote file
 * holds a placeholder local descriptor so that descriptor numbers never collide; what the program
 * sees of it (offset, flags, path, the remote handle) lives here, in the runtime's memory, so a
 * checkpoint carries it and a restart on another machine opens the same remote files again at the
 * same offsets. Handles belong to one connection (rt_remote_gen): a file whose handle is stale is
 * opened again by path when next used.
 *
 * The placeholder is an O_PATH descriptor of a private memfd, unlinked, sealed against writes and
 * size changes, mode 000: no other process can name it, and almost every call on it fails with
 * EBADF (read, write, fchmod, fchown, futimens, ftruncate, fallocate, ioctl, mmap, locks, xattrs).
 * No call of the program reaches it anyway (calls.h routes every call that takes a descriptor
 * here); it matters for a program the job execs that is not relinked, which finds remote
 * descriptors it cannot use instead of a /dev/null whose mode and times it could change.
 *
 * Paths are made absolute in the job's view (the working directory is the runtime's when it is
 * remote) and the shadow's policy decides where they go; local ones go to the kernel unchanged.
 */
#include "remote/vfiles.h"

#define RT_VFDS		1024
#define RT_VDESCS	128

/* d's handle is one of the connection open now */
static int rt_vdesc_live(const struct rt_vdesc *d)
{
	return d->handle >= 0 && d->gen == rt_remote_gen && rt_remote_fd >= 0;
}

static struct rt_vdesc rt_vd[RT_VDESCS];
static uint8_t rt_vfd[RT_VFDS];		/* descriptor -> 1 + index in rt_vd; 0: a local descriptor */
static char rt_cwd[RT_VPATH] = "/";
static int rt_cwd_local;			/* the job chdir'ed into a local directory */

struct rt_vdesc *rt_vdesc_of(long fd)
{
	return fd >= 0 && fd < RT_VFDS && rt_vfd[fd] ? &rt_vd[rt_vfd[fd] - 1] : 0;
}

/* The file offset, the process's own or the one it shares with its children */
static uint64_t *rt_voff(struct rt_vdesc *d)
{
	return d->cursor >= 0 ? rt_cursor_offset(d->cursor) : &d->offset;
}

uint64_t rt_voff_get(struct rt_vdesc *d)
{
	return __atomic_load_n(rt_voff(d), __ATOMIC_RELAXED);
}

void rt_voff_set(struct rt_vdesc *d, uint64_t v)
{
	__atomic_store_n(rt_voff(d), v, __ATOMIC_RELAXED);
}

/* Lexically: "a/./b/../c" -> "/a/c"; ".." at the top stays there */
static int rt_normalise(char *out, const char *base, const char *path)
{
	char tmp[2 * RT_VPATH];
	size_t n = 0, o = 0;
	if (path[0] != '/') {
		size_t b = rt_strlen(base);
		if (b >= RT_VPATH)
			return -ENAMETOOLONG;
		rt_memcpy(tmp, base, b);
		n = b;
		tmp[n++] = '/';
	}
	size_t p = rt_strlen(path);
	if (n + p >= sizeof tmp)
		return -ENAMETOOLONG;
	rt_memcpy(tmp + n, path, p + 1);
	for (const char *s = tmp; *s;) {
		while (*s == '/')
			s++;
		const char *e = s;
		while (*e && *e != '/')
			e++;
		size_t len = (size_t)(e - s);
		if (len == 0 || (len == 1 && s[0] == '.')) {
		} else if (len == 2 && s[0] == '.' && s[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			if (o + 1 + len >= RT_VPATH)
				return -ENAMETOOLONG;
			out[o++] = '/';
			rt_memcpy(out + o, s, len);
			o += len;
		}
		s = e;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
	return 0;
}

/* Where PATH (relative to DIRFD) goes; abs gets the job path when it is not plain local */
enum rt_where rt_where_is(long dirfd, const char *path, char *abs, long *err)
{
	const char *base = rt_cwd;
	*err = 0;
	if (!path)
		return RT_LOCAL;
	if (path[0] != '/') {
		struct rt_vdesc *d = dirfd == AT_FDCWD ? 0 : rt_vdesc_of(dirfd);
		if (d)
			base = d->path;
		else if (dirfd != AT_FDCWD || rt_cwd_local)
			return RT_LOCAL;
	}
	if ((*err = rt_normalise(abs, base, path)) < 0)
		return RT_REMOTE;
	if (rt_remote_path_is_local(abs))
		return path[0] == '/' ? RT_LOCAL : RT_LOCAL_ABS;
	return RT_REMOTE;
}

/* The desc's handle on this connection: opened again (no create, truncate or exclusive) if stale */
long rt_handle_of(struct rt_vdesc *d)
{
	if (rt_vdesc_live(d))
		return d->handle;
	long h = rt_remote_path_call(CKPT_SH_OP_OPEN, d->flags & ~(O_CREAT | O_TRUNC | O_EXCL), 0, d->path, 0, 0);
	if (h < 0)
		return h;
	d->handle = (int32_t)h;
	d->gen = rt_remote_gen;
	return h;
}

/* A request about an open file, asked again on a new connection if the old one went away */
long rt_file_call(struct rt_vdesc *d, struct rt_request *rq, void *out, size_t max, size_t *got)
{
	for (;;) {
		long h = rt_handle_of(d);
		if (h < 0)
			return h;
		rq->handle = (uint32_t)h;
		long r = rt_remote_call(rq, out, max, got);
		if (r != RT_RECONNECTED)
			return r;
		/* an append the lost server may have made: made again at the end it had before, it
		 * lands on itself instead of twice (one writer per file assumed; docs/limits.md) */
		if (rq->op == CKPT_SH_OP_PWRITE)
			rq->flags &= ~(uint32_t)CKPT_SH_APPEND;
	}
}

static int rt_vdesc_is_parents(const struct rt_vdesc *d);

static void rt_vdesc_put(struct rt_vdesc *d)
{
	if (--d->refs)
		return;
	if (rt_in_shared_child() && rt_vdesc_is_parents(d))
		return;	/* a vfork child's close: the description stays its parent's */
	if (rt_vdesc_live(d))
		rt_remote_close(d->handle);
	d->handle = -1;
	rt_cursor_drop(d->cursor);
	d->cursor = -1;
}

/* Forget what the program's descriptor fd was, after the kernel closed or replaced it */
static void rt_forget(long fd)
{
	struct rt_vdesc *d = rt_vdesc_of(fd);
	if (!d)
		return;
	rt_vfd[fd] = 0;
	rt_vdesc_put(d);
}

static long rt_ph_template = -1;	/* the placeholder the others are opened from (a high number) */
static uint64_t rt_ph_dev, rt_ph_ino;	/* what it is, to know it again after a restart */
static uint64_t rt_ph_pid;		/* the process whose placeholders were last checked */

static int rt_ph_is_template(long fd)
{
	struct rt_stat st;
	return fd >= 0 && rt_syscall2(__NR_fstat, fd, (long)&st) == 0 && st.dev == rt_ph_dev && st.ino == rt_ph_ino;
}

/* A new template: the memfd made, sealed and closed, an O_PATH descriptor of it kept */
static long rt_ph_make(void)
{
	char proc[32];
	struct rt_stat st;
	long m = rt_syscall2(__NR_memfd_create, (long)"ckpt-remote-placeholder", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (m < 0)
		return m;
	rt_syscall3(__NR_fcntl, m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	rt_syscall2(__NR_fchmod, m, 0);
	long t = rt_syscall4(__NR_openat, AT_FDCWD, (long)rt_fd_path(proc, m), O_PATH | O_CLOEXEC, 0);
	rt_syscall1(__NR_close, m);
	if (t < 0)
		return t;
	t = rt_high_fd(t, 24, 1);
	rt_syscall2(__NR_fstat, t, (long)&st);
	rt_ph_dev = st.dev;
	rt_ph_ino = st.ino;
	rt_ph_template = t;
	return t;
}

/* A new placeholder descriptor, a description of its own (kcmp tells remote files apart) */
static long rt_placeholder(uint32_t cloexec)
{
	char proc[32];
	if (!rt_ph_is_template(rt_ph_template) && rt_ph_make() < 0)
		return -ENFILE;
	long fd = rt_syscall4(__NR_openat, AT_FDCWD, (long)rt_fd_path(proc, rt_ph_template), O_PATH | cloexec, 0);
	if (fd == -ENOENT)	/* no /proc: a dup, sharing the template's description */
		fd = rt_syscall3(__NR_fcntl, rt_ph_template, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
	return fd;
}

int rt_remote_placeholder(long fd)
{
	return rt_remote_on && (rt_vdesc_of(fd) || (fd == rt_ph_template && fd >= 0));
}

/*
 * In a process made from an image, the descriptors of remote files are what the restart put there
 * (docs/limits.md: /dev/null): they are placeholders again before any call of the program goes on,
 * and before an exec or a fork hands them on. A fork child finds its template valid and keeps all.
 */
static void rt_placeholders_check(void)
{
	if (rt_ph_pid == rt_ids_real.pid || rt_ph_template < 0)
		return;
	rt_ph_pid = rt_ids_real.pid;
	if (rt_ph_is_template(rt_ph_template))
		return;
	rt_syscall1(__NR_close, rt_ph_template);	/* what the restart put at its number */
	rt_ph_template = -1;
	for (long fd = 0; fd < RT_VFDS; fd++) {
		if (!rt_vdesc_of(fd))
			continue;
		long cloexec = rt_syscall2(__NR_fcntl, fd, F_GETFD) & FD_CLOEXEC ? O_CLOEXEC : 0;
		long p = rt_placeholder((uint32_t)cloexec);
		if (p >= 0 && p != fd) {
			rt_syscall3(__NR_dup3, p, fd, cloexec);
			rt_syscall1(__NR_close, p);
		}
	}
}

long rt_vopen(const char *abs, uint32_t flags, uint32_t mode)
{
	int i = 0;
	while (i < RT_VDESCS && (rt_vd[i].refs || rt_vdesc_is_parents(&rt_vd[i])))
		i++;
	if (i == RT_VDESCS)
		return -ENFILE;
	if (flags & O_CREAT)
		mode &= ~rt_job_umask();
	long h = rt_remote_path_call(CKPT_SH_OP_OPEN, flags & ~O_CLOEXEC, mode, abs, 0, 0);
	if (h < 0)
		return h;
	long fd = rt_placeholder(flags & O_CLOEXEC);
	if (fd < 0 || fd >= RT_VFDS) {
		rt_remote_close(h);
		if (fd >= 0)
			rt_syscall1(__NR_close, fd);
		return fd < 0 ? fd : -24;	/* EMFILE */
	}
	struct rt_vdesc *d = &rt_vd[i];
	d->refs = 1;
	d->flags = flags & ~(O_CREAT | O_TRUNC | O_EXCL | O_CLOEXEC);
	d->offset = 0;
	d->cursor = -1;
	d->gen = rt_remote_gen;
	d->handle = (int32_t)h;
	rt_memcpy(d->path, abs, rt_strlen(abs) + 1);
	rt_vfd[fd] = (uint8_t)(i + 1);
	if (d->flags & O_APPEND) {	/* where appends land: the end, as far as this process knows */
		struct rt_stat st;
		if (rt_vstat(d, 0, 0, &st) >= 0)
			d->offset = (uint64_t)st.size;
	}
	return fd;
}

/*
 * read or write COUNT bytes in chunks the protocol allows, stopping at a short count: at OFFSET
 * (pread/pwrite), or at the file offset, which then moves (ADVANCE: read/write). The range at the
 * file offset is reserved with one atomic add, since forked children may share the offset; a
 * short count gives back what it did not use if nobody moved the offset meanwhile. A write to an
 * O_APPEND file goes at the end this process knows (where the shadow appends it).
 */
long rt_vio(struct rt_vdesc *d, char *buf, uint64_t count, uint64_t offset, int advance, int write)
{
	int append = write && (d->flags & O_APPEND);
	uint64_t start = offset;
	if (append)
		start = rt_voff_get(d);
	else if (advance)
		start = __atomic_fetch_add(rt_voff(d), count, __ATOMIC_RELAXED);
	uint64_t done = 0, after = start;
	while (done < count) {
		uint32_t n = count - done > CKPT_SH_MAX_DATA ? CKPT_SH_MAX_DATA : (uint32_t)(count - done);
		struct rt_request rq = { .op = write ? CKPT_SH_OP_PWRITE : CKPT_SH_OP_PREAD, .flags = append ? CKPT_SH_APPEND : 0,
					 .count = write ? 0 : n, .offset = start + done, .tail = write ? buf + done : 0, .tail_len = write ? n : 0 };
		long r = write ? rt_file_call(d, &rq, &after, sizeof after, 0) : rt_file_call(d, &rq, buf + done, n, 0);
		if (r < 0)
			return done ? (long)done : r;
		done += (uint64_t)r;
		if ((uint64_t)r < n)
			break;
	}
	if (append && advance)
		rt_voff_set(d, after);
	else if (advance && done < count) {
		uint64_t reserved = start + count;
		__atomic_compare_exchange_n(rt_voff(d), &reserved, start + done, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	}
	return (long)done;
}

long rt_vstat(struct rt_vdesc *d, const char *abs, int nofollow, void *buf)
{
	if (d) {
		struct rt_request rq = { .op = CKPT_SH_OP_FSTAT };
		return rt_file_call(d, &rq, buf, CKPT_SH_STAT_SIZE, 0);
	}
	return rt_remote_path_call(CKPT_SH_OP_STAT, nofollow ? CKPT_SH_NOFOLLOW : 0, 0, abs, buf, CKPT_SH_STAT_SIZE);
}

/* struct statx from a struct stat: the basic fields, which is all the shadow knows */
static void rt_statx_from_stat(unsigned char *x, const struct rt_stat *st)
{
	for (int i = 0; i < 256; i++)
		x[i] = 0;
	*(uint32_t *)(x + 0) = 0x7ff;				/* stx_mask: STATX_BASIC_STATS */
	*(uint32_t *)(x + 4) = (uint32_t)st->blksize;
	*(uint32_t *)(x + 16) = (uint32_t)st->nlink;
	*(uint32_t *)(x + 20) = st->uid;
	*(uint32_t *)(x + 24) = st->gid;
	*(uint16_t *)(x + 28) = (uint16_t)st->mode;
	*(uint64_t *)(x + 32) = st->ino;
	*(uint64_t *)(x + 40) = (uint64_t)st->size;
	*(uint64_t *)(x + 48) = (uint64_t)st->blocks;
	const uint64_t t[4][2] = { { st->atime_sec, st->atime_nsec }, { 0, 0 }, { st->ctime_sec, st->ctime_nsec },
				   { st->mtime_sec, st->mtime_nsec } };
	for (int i = 0; i < 4; i++) {		/* atime, btime, ctime, mtime at 64, 80, 96, 112 */
		*(uint64_t *)(x + 64 + 16 * i) = t[i][0];
		*(uint32_t *)(x + 72 + 16 * i) = (uint32_t)t[i][1];
	}
	*(uint32_t *)(x + 128) = (uint32_t)(st->rdev >> 8);	/* stx_rdev_major, minor */
	*(uint32_t *)(x + 132) = (uint32_t)(st->rdev & 0xff);
	*(uint32_t *)(x + 136) = (uint32_t)(st->dev >> 8);
	*(uint32_t *)(x + 140) = (uint32_t)(st->dev & 0xff);
}

/* dup, dup2, dup3, fcntl(F_DUPFD...): the kernel moves the placeholder, the table follows (made
 * under the lock, which these calls never wait in, so the table and the kernel's agree) */
static long rt_vdup(const struct rt_ctx *c, long nr, long oldfd)
{
	long r = rt_syscall4(nr, (long)c->rdi, (long)c->rsi, (long)c->rdx, (long)c->r10);
	if (r < 0 || r == oldfd || r >= RT_VFDS)
		return r;
	rt_forget(r);
	struct rt_vdesc *d = rt_vdesc_of(oldfd);
	if (d) {
		d->refs++;
		rt_vfd[r] = (uint8_t)(rt_vfd[oldfd]);
	}
	return r;
}

static long rt_vlseek(struct rt_vdesc *d, int64_t off, long whence)
{
	int64_t base = 0;
	struct rt_stat st;
	if (whence == 1)
		base = (int64_t)rt_voff_get(d);
	else if (whence == 2) {
		long r = rt_vstat(d, 0, 0, &st);
		if (r < 0)
			return r;
		base = st.size;
	} else if (whence != 0)
		return -EINVAL;
	if (base + off < 0)
		return -EINVAL;
	rt_voff_set(d, (uint64_t)(base + off));
	return base + off;
}

static long rt_vgetdents(struct rt_vdesc *d, void *buf, uint64_t count)
{
	size_t got = 0;
	uint32_t n = count > CKPT_SH_MAX_DATA ? CKPT_SH_MAX_DATA : (uint32_t)count;
	struct rt_request rq = { .op = CKPT_SH_OP_GETDENTS, .count = n, .offset = rt_voff_get(d) };
	long r = rt_file_call(d, &rq, buf, n, &got);
	if (r <= 0)
		return r;
	/* the next call starts after the last record: its d_off */
	uint64_t next = 0;
	for (size_t at = 0; at + 19 <= (size_t)r; at += *(uint16_t *)((char *)buf + at + 16))
		next = *(uint64_t *)((char *)buf + at + 8);
	rt_voff_set(d, next);
	return r;
}

static long rt_vreadv(struct rt_vdesc *d, const uint64_t *iov, long cnt, int64_t offset, int write)
{
	long total = 0;
	uint64_t at = offset < 0 ? 0 : (uint64_t)offset;
	for (long i = 0; i < cnt; i++) {
		char *base = (char *)iov[2 * i];
		uint64_t len = iov[2 * i + 1];
		long r = rt_vio(d, base, len, at, offset < 0, write);
		if (r < 0)
			return total ? total : r;
		total += r;
		at += (uint64_t)r;
		if ((uint64_t)r < len)
			break;
	}
	return total;
}

/* Calls on a descriptor: remote when it is one of ours */
static long rt_fd_call(const struct rt_ctx *c, long nr, struct rt_vdesc *d)
{
	switch (nr) {
	case __NR_read:
		return rt_vio(d, (char *)c->rsi, c->rdx, 0, 1, 0);
	case __NR_write:
		return rt_vio(d, (char *)c->rsi, c->rdx, 0, 1, 1);
	case __NR_pread64:
		return rt_vio(d, (char *)c->rsi, c->rdx, c->r10, 0, 0);
	case __NR_pwrite64:
		return rt_vio(d, (char *)c->rsi, c->rdx, c->r10, 0, 1);
	case __NR_readv:
	case __NR_writev:
		return rt_vreadv(d, (const uint64_t *)c->rsi, (long)c->rdx, -1, nr == __NR_writev);
	case __NR_preadv:
	case __NR_pwritev:
	case __NR_preadv2:	/* an offset of -1: at the file offset; the RWF_ flags are hints */
	case __NR_pwritev2:
		return rt_vreadv(d, (const uint64_t *)c->rsi, (long)c->rdx, (int64_t)c->r10,
				 nr == __NR_pwritev || nr == __NR_pwritev2);
	case __NR_readahead:
	case __NR_fadvise64:
		return 0;	/* advice: the shadow reads what it is asked for */
	case __NR_lseek:
		return rt_vlseek(d, (int64_t)c->rsi, (long)c->rdx);
	case __NR_fstat:
		return rt_vstat(d, 0, 0, (void *)c->rsi);
	case __NR_getdents64:
		return rt_vgetdents(d, (void *)c->rsi, c->rdx);
	case __NR_ftruncate: {
		struct rt_request rq = { .op = CKPT_SH_OP_FTRUNCATE, .offset = c->rsi };
		return rt_file_call(d, &rq, 0, 0, 0);
	}
	case __NR_fsync:
	case __NR_fdatasync:
	case __NR_sync_file_range:
	case __NR_syncfs: {
		struct rt_request rq = { .op = CKPT_SH_OP_FSYNC };
		return rt_file_call(d, &rq, 0, 0, 0);
	}
	case __NR_fchdir:
		rt_memcpy(rt_cwd, d->path, rt_strlen(d->path) + 1);
		rt_cwd_local = 0;
		return 0;
	default:
		return -ENOSYS;
	}
}

/* A remote descriptor is closed and forgotten under the lock (no other thread's remote open takes
 * its number between the two); a local one without it: a close may wait (a socket's linger) */
static long rt_close(long fd)
{
	if (!rt_vdesc_of(fd))
		return rt_remote_local_call(__NR_close, fd, 0, 0, 0, 0, 0);
	long r = rt_syscall1(__NR_close, fd);
	if (r == 0)
		rt_forget(fd);
	return r;
}

/* close_range has closed (or marked close-on-exec: nothing to forget) first..last */
void rt_vforget_range(long first, long last)
{
	for (long fd = first < 0 ? 0 : first; fd <= last && fd < RT_VFDS; fd++)
		rt_forget(fd);
}

/* The job's umask, which the kernel would apply to the modes of files it creates */
uint32_t rt_job_umask(void)
{
	long old = rt_syscall1(__NR_umask, 0);
	rt_syscall1(__NR_umask, old);
	return (uint32_t)old;
}

/*
 * fcntl on a remote descriptor: the descriptor flags are the kernel's (on the placeholder), the
 * file status flags this table's; record locks are refused (ENOLCK: the shadow holds none) and the
 * rest (leases, notifications, seals, pipe sizes, owners) do not apply to a remote file (EINVAL)
 */
static long rt_fcntl(const struct rt_ctx *c, long nr)
{
	long fd = (long)(int)c->rdi, cmd = (long)c->rsi;
	struct rt_vdesc *d = rt_vdesc_of(fd);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return rt_vdup(c, nr, fd);
	if (!d || cmd == F_GETFD || cmd == F_SETFD)
		return rt_remote_local_call(nr, (long)c->rdi, (long)c->rsi, (long)c->rdx, 0, 0, 0);
	switch (cmd) {
	case F_GETFL:
		return d->flags;
	case F_SETFL:	/* the bits that can change */
		d->flags = (d->flags & ~(O_APPEND | O_NONBLOCK)) | ((uint32_t)c->rdx & (O_APPEND | O_NONBLOCK));
		return 0;
	case F_GETLK: case F_SETLK: case F_SETLKW: case F_OFD_GETLK: case F_OFD_SETLK: case F_OFD_SETLKW:
		return -ENOLCK;
	default:
		return -EINVAL;
	}
}

static int rt_path_in_rsi(long nr)
{
	return nr == __NR_openat || nr == __NR_newfstatat || nr == __NR_statx || nr == __NR_faccessat ||
	       nr == __NR_faccessat2 || nr == __NR_mkdirat || nr == __NR_unlinkat || nr == __NR_readlinkat;
}

static const char *rt_path_arg(long nr, const struct rt_ctx *c, long *dirfd)
{
	*dirfd = rt_path_in_rsi(nr) ? (long)(int)c->rdi : AT_FDCWD;
	return (const char *)(rt_path_in_rsi(nr) ? c->rsi : c->rdi);
}

/* A local path: to the kernel as it came, or (relative to a remote cwd) made absolute */
static long rt_local_call(const struct rt_ctx *c, long nr, const char *abs, int substitute)
{
	long a[6] = { (long)c->rdi, (long)c->rsi, (long)c->rdx, (long)c->r10, (long)c->r8, (long)c->r9 };
	if (substitute && rt_path_in_rsi(nr)) {
		a[0] = AT_FDCWD;
		a[1] = (long)abs;
	} else if (substitute) {
		a[0] = (long)abs;
	}
	long r = rt_remote_local_call(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (nr == __NR_chdir && r == 0)
		rt_cwd_local = 1;
	return r;
}

static long rt_rename(const struct rt_ctx *c, long nr)
{
	char from[RT_VPATH], to[RT_VPATH];	/* the thread's own: a local rename runs without the lock */
	long err1, err2, d1 = AT_FDCWD, d2 = AT_FDCWD;
	const char *p1 = (const char *)c->rdi, *p2 = (const char *)c->rsi;
	if (nr != __NR_rename) {
		d1 = (long)(int)c->rdi, p1 = (const char *)c->rsi, d2 = (long)(int)c->rdx, p2 = (const char *)c->r10;
	}
	uint32_t flags = nr == __NR_renameat2 ? (uint32_t)c->r8 : 0;
	enum rt_where w1 = rt_where_is(d1, p1, from, &err1), w2 = rt_where_is(d2, p2, to, &err2);
	if (err1 || err2)
		return err1 ? err1 : err2;
	if (w1 != RT_REMOTE && w2 != RT_REMOTE) {	/* a path relative to a remote cwd goes absolute */
		if (w1 == RT_LOCAL_ABS)
			d1 = AT_FDCWD, p1 = from;
		if (w2 == RT_LOCAL_ABS)
			d2 = AT_FDCWD, p2 = to;
		return rt_remote_local_call(__NR_renameat2, d1, (long)p1, d2, (long)p2, flags, 0);
	}
	if (w1 != w2)
		return -EXDEV;	/* one side local, one remote */
	if (flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;	/* RENAME_WHITEOUT: for overlay file systems, not a job's */
	struct rt_request rq = { .op = CKPT_SH_OP_RENAME, .flags = (flags & RENAME_NOREPLACE ? CKPT_SH_NOREPLACE : 0) |
				 (flags & RENAME_EXCHANGE ? CKPT_SH_EXCHANGE : 0), .tail = from, .tail_len = rt_strlen(from) + 1,
				 .tail2 = to, .tail2_len = rt_strlen(to) + 1 };
	return rt_remote_call(&rq, 0, 0, 0);
}

static long rt_path_op(const struct rt_ctx *c, long nr)
{
	char abs[RT_VPATH];	/* the thread's own: a local call runs without the lock */
	long dirfd, err;
	const char *path = rt_path_arg(nr, c, &dirfd);
	struct rt_vdesc *dird = rt_vdesc_of(dirfd);
	/* fstatat/statx with AT_EMPTY_PATH on a remote descriptor: its own metadata */
	if ((nr == __NR_newfstatat || nr == __NR_statx) && dird && path && !path[0]) {
		struct rt_stat st;
		long r = rt_vstat(dird, 0, 0, nr == __NR_statx ? (void *)&st : (void *)c->rdx);
		if (r >= 0 && nr == __NR_statx)
			rt_statx_from_stat((unsigned char *)c->r8, &st);
		return r;
	}
	enum rt_where w = rt_where_is(dirfd, path, abs, &err);
	if (err)
		return err;
	if (w != RT_REMOTE)
		return rt_local_call(c, nr, abs, w == RT_LOCAL_ABS);
	switch (nr) {
	case __NR_open:
		return rt_vopen(abs, (uint32_t)c->rsi, (uint32_t)c->rdx);
	case __NR_creat:
		return rt_vopen(abs, 01 | O_CREAT | O_TRUNC, (uint32_t)c->rsi);
	case __NR_openat:
		return rt_vopen(abs, (uint32_t)c->rdx, (uint32_t)c->r10);
	case __NR_stat:
	case __NR_lstat:
		return rt_vstat(0, abs, nr == __NR_lstat, (void *)c->rsi);
	case __NR_newfstatat:
		return rt_vstat(0, abs, (c->r10 & AT_SYMLINK_NOFOLLOW) != 0, (void *)c->rdx);
	case __NR_statx: {
		struct rt_stat st;
		long r = rt_vstat(0, abs, (c->rdx & AT_SYMLINK_NOFOLLOW) != 0, &st);
		if (r >= 0)
			rt_statx_from_stat((unsigned char *)c->r8, &st);
		return r;
	}
	case __NR_access:
		return rt_remote_path_call(CKPT_SH_OP_ACCESS, 0, (uint32_t)c->rsi, abs, 0, 0);
	case __NR_faccessat:
	case __NR_faccessat2:
		return rt_remote_path_call(CKPT_SH_OP_ACCESS, 0, (uint32_t)c->rdx, abs, 0, 0);
	case __NR_mkdir:
	case __NR_mkdirat: {
		uint32_t mode = (uint32_t)(nr == __NR_mkdir ? c->rsi : c->rdx) & ~rt_job_umask();
		return rt_remote_path_call(CKPT_SH_OP_MKDIR, 0, mode, abs, 0, 0);
	}
	case __NR_rmdir:
		return rt_remote_path_call(CKPT_SH_OP_RMDIR, 0, 0, abs, 0, 0);
	case __NR_unlink:
		return rt_remote_path_call(CKPT_SH_OP_UNLINK, 0, 0, abs, 0, 0);
	case __NR_unlinkat:
		return rt_remote_path_call(c->rdx & AT_REMOVEDIR ? CKPT_SH_OP_RMDIR : CKPT_SH_OP_UNLINK, 0, 0, abs, 0, 0);
	case __NR_readlink:
	case __NR_readlinkat: {
		/* readlink gives at most bufsiz bytes, truncated, as the kernel's does */
		size_t size = nr == __NR_readlink ? c->rdx : c->r10;
		long r = rt_remote_path_call(CKPT_SH_OP_READLINK, 0, 0, abs, (void *)(nr == __NR_readlink ? c->rsi : c->rdx), size);
		return r > (long)size ? (long)size : r;
	}
	case __NR_chdir: {
		long r = rt_remote_path_call(CKPT_SH_OP_CHDIR, 0, 0, abs, 0, 0);
		if (r == 0) {
			rt_memcpy(rt_cwd, abs, rt_strlen(abs) + 1);
			rt_cwd_local = 0;
		}
		return r;
	}
	case __NR_truncate: {
		long fd = rt_vopen(abs, 01, 0);
		if (fd < 0)
			return fd;
		struct rt_request rq = { .op = CKPT_SH_OP_FTRUNCATE, .offset = c->rsi };
		long r = rt_file_call(rt_vdesc_of(fd), &rq, 0, 0, 0);
		rt_close(fd);
		return r;
	}
	default:
		return -ENOSYS;
	}
}

static long rt_getcwd(const struct rt_ctx *c)
{
	size_t n = rt_strlen(rt_cwd) + 1;
	if (rt_cwd_local)
		return rt_remote_local_call(__NR_getcwd, (long)c->rdi, (long)c->rsi, 0, 0, 0, 0);
	if (n > c->rsi)
		return -ERANGE;
	rt_memcpy((void *)c->rdi, rt_cwd, n);
	return (long)n;
}

/* A call calls.h refuses for remote objects: its errno when it names one, else the kernel's */
static long rt_refuse_or_local(const struct rt_ctx *c, long nr, const struct rt_call_class *k)
{
	long a[6];
	struct rt_routed p;
	long remote = rt_route_args(c, k->spec, a, &p);
	if (nr == __NR_mmap && (c->r10 & MAP_ANONYMOUS))
		remote = 0;	/* the descriptor is not used */
	if (remote < 0)
		return remote;
	if (remote || !k->spec[0])	/* no arguments to look at: refused whenever the job is on the shadow */
		return -(long)k->err;
	return rt_remote_local_call(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* The forwarded calls on descriptors that vfiles.c answers: remote ones here, local ones the kernel's */
static long rt_fd_or_local(const struct rt_ctx *c, long nr)
{
	struct rt_vdesc *d = rt_vdesc_of((long)(int)c->rdi);
	if (d)
		return rt_fd_call(c, nr, d);
	long r = rt_remote_local_call(nr, (long)c->rdi, (long)c->rsi, (long)c->rdx, (long)c->r10, (long)c->r8, (long)c->r9);
	if (nr == __NR_fchdir && r == 0)
		rt_cwd_local = 1;
	return r;
}

/*
 * For a call the runtime makes itself when it may be made here (inotify's, which kobjects records):
 * the errno the table refuses it with when it names a remote object, or 0
 */
long rt_remote_refusal(const struct rt_ctx *c, long nr)
{
	if (!rt_remote_handles(nr))
		return 0;
	const struct rt_call_class *k = rt_call_class_of(nr);
	long a[6];
	struct rt_routed p;
	rt_remote_enter();
	long remote = k->cls == RT_CALL_REFUSE ? rt_route_args(c, k->spec, a, &p) : 0;
	rt_remote_leave();
	if (remote < 0)
		return remote;
	return k->cls == RT_CALL_REFUSE && (remote || !k->spec[0]) ? -(long)k->err : 0;
}

/* A call that names remote objects, or may: made under the remote lock (remote/connection.c) */
static long rt_sys_remote_locked(const struct rt_ctx *c, long nr, const struct rt_call_class *k)
{
	rt_placeholders_check();
	if (k->cls == RT_CALL_REFUSE)
		return rt_refuse_or_local(c, nr, k);
	switch (nr) {
	case __NR_close:
		return rt_close((long)(int)c->rdi);
	case __NR_dup:
	case __NR_dup2:
	case __NR_dup3:
		return rt_vdup(c, nr, (long)(int)c->rdi);
	case __NR_fcntl:
		return rt_fcntl(c, nr);
	case __NR_getcwd:
		return rt_getcwd(c);
	case __NR_rename:
	case __NR_renameat:
	case __NR_renameat2:
		return rt_rename(c, nr);
	case __NR_read: case __NR_write: case __NR_fstat: case __NR_lseek: case __NR_pread64:
	case __NR_pwrite64: case __NR_readv: case __NR_writev: case __NR_fsync: case __NR_fdatasync:
	case __NR_ftruncate: case __NR_fchdir: case __NR_getdents64: case __NR_preadv: case __NR_pwritev:
	case __NR_preadv2: case __NR_pwritev2: case __NR_readahead: case __NR_fadvise64:
	case __NR_sync_file_range: case __NR_syncfs:
		return rt_fd_or_local(c, nr);
	case __NR_open: case __NR_creat: case __NR_openat: case __NR_stat: case __NR_lstat:
	case __NR_newfstatat: case __NR_statx: case __NR_access: case __NR_faccessat: case __NR_faccessat2:
	case __NR_mkdir: case __NR_mkdirat: case __NR_rmdir: case __NR_unlink: case __NR_unlinkat:
	case __NR_readlink: case __NR_readlinkat: case __NR_chdir: case __NR_truncate:
		return rt_path_op(c, nr);
	default:
		return rt_vmeta_call(c, nr);
	}
}

long rt_sys_remote(const struct rt_ctx *c, long nr)
{
	const struct rt_call_class *k = rt_call_class_of(nr);
	if (k->cls == RT_CALL_UNKNOWN)
		return -ENOSYS;	/* it might name a file: never made on the execute machine unseen */
	if (k->cls != RT_CALL_REFUSE && k->cls != RT_CALL_FWD)
		return rt_call_restartable(nr, (long)c->rdi, (long)c->rsi, (long)c->rdx, (long)c->r10, (long)c->r8, (long)c->r9);
	rt_remote_enter();
	long r = rt_sys_remote_locked(c, nr, k);
	rt_remote_leave();
	return r;
}

/* Every call calls.h names a file for comes to the dispatcher, and unknown numbers too */
static void rt_route_remote_calls(void)
{
	for (long nr = 0; nr < RT_NR_MAX; nr++)
		if (rt_call_class_of(nr)->cls != RT_CALL_NONE && !rt_syscall_class[nr])
			rt_syscall_class[nr] = RT_CLASS_REMOTE;
}

int rt_remote_handles(long nr)
{
	return rt_remote_on && rt_call_class_of(nr)->cls != RT_CALL_NONE;
}

/* The policy's stdin, stdout and stderr on the shadow, in place of the job's own */
static void rt_remote_stdio_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		const char *path = rt_remote_stdio(fd);
		if (!path)
			continue;
		/* appended to: the job's processes (shell children...) each have their own offsets */
		long v = rt_vopen(path, fd ? O_WRONLY | O_CREAT | O_TRUNC | O_APPEND : O_RDONLY, 0644);
		if (v < 0)
			continue;
		rt_syscall2(__NR_dup2, v, fd);
		rt_syscall1(__NR_close, v);
		rt_forget(fd);
		rt_vfd[fd] = rt_vfd[v];
		rt_vfd[v] = 0;
	}
}

static int rt_hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * CKPT_VFDS from the process that exec'd this one: "cwd:HEXPATH", then ";cur:FD:SLOT+1[:take]" when
 * the cursor table is shared (SLOT: the predecessor's holder slot, this process's too; take: this
 * process holds no references yet, it was a vfork child),
 * ";drop:CURSOR+1" for each cursor its predecessor held and this process does not inherit, and
 * ";FD:FLAGS:OFFSET:CURSOR+1:HEXPATH" for each remote descriptor (CURSOR+1 = 0: a private offset).
 * Descriptors that name one cursor share one description again, as they did before the exec.
 */
static const char *rt_parse_u64s(const char *s, uint64_t *v, int n)
{
	for (int i = 0; i < n; i++, s += *s == ':') {
		v[i] = 0;
		for (; *s >= '0' && *s <= '9'; s++)
			v[i] = v[i] * 10 + (uint64_t)(*s - '0');
	}
	return s;
}

static struct rt_vdesc *rt_vdesc_with_cursor(int32_t cursor)
{
	for (int i = 0; cursor >= 0 && i < RT_VDESCS; i++)
		if (rt_vd[i].refs && rt_vd[i].cursor == cursor)
			return &rt_vd[i];
	return 0;
}

static void rt_vfiles_inherit_fd(const uint64_t *v, const char *path, size_t n, int take)
{
	int32_t cursor = v[3] && rt_cursors_fd >= 0 ? (int32_t)(v[3] - 1) : -1;
	struct rt_vdesc *same = rt_vdesc_with_cursor(cursor);
	if (v[0] >= RT_VFDS)
		return;
	if (same) {
		same->refs++;
		rt_vfd[v[0]] = (uint8_t)(same - rt_vd + 1);
		return;
	}
	int i = 0;
	while (i < RT_VDESCS && rt_vd[i].refs)
		i++;
	if (i == RT_VDESCS)
		return;
	rt_vd[i] = (struct rt_vdesc){ .refs = 1, .flags = (uint32_t)v[1], .offset = v[2], .handle = -1, .cursor = cursor };
	rt_memcpy(rt_vd[i].path, path, n + 1);
	rt_vfd[v[0]] = (uint8_t)(i + 1);
	if (take)
		rt_cursor_hold(cursor);
	else
		rt_cursor_held(cursor);
}

static void rt_vfiles_inherit(const char *s)
{
	int take = 0;
	while (s && *s) {
		uint64_t v[4] = { 0, 0, 0, 0 };
		int is_cwd = rt_starts_with(s, "cwd:");
		if (rt_starts_with(s, "cur:")) {
			s = rt_parse_u64s(s + 4, v, 2);
			take = rt_starts_with(s, "take");
			if (rt_cursors_adopt((long)v[0]) < 0)
				rt_syscall1(__NR_close, (long)v[0]);
			else if (!take)
				rt_cursors_adopt_slot((uint32_t)v[1]);
		} else if (rt_starts_with(s, "drop:")) {
			s = rt_parse_u64s(s + 5, v, 1);
			if (!take && v[0] && rt_cursors_fd >= 0)
				rt_cursor_drop((int32_t)(v[0] - 1));
		} else {
			if (is_cwd)
				s += 4;
			else
				s = rt_parse_u64s(s, v, 4);
			char path[RT_VPATH];
			size_t n = 0;
			for (; rt_hex(s[0]) >= 0 && rt_hex(s[1]) >= 0 && n < RT_VPATH - 1; s += 2)
				path[n++] = (char)(rt_hex(s[0]) << 4 | rt_hex(s[1]));
			path[n] = 0;
			if (is_cwd)
				rt_memcpy(rt_cwd, path, n + 1);
			else
				rt_vfiles_inherit_fd(v, path, n, take);
		}
		while (*s && *s != ';')
			s++;
		if (*s)
			s++;
	}
}

void rt_vfiles_init(char **envp)
{
	if (!rt_remote_on)
		return;
	rt_route_remote_calls();
	const char *inherited = rt_getenv(envp, "CKPT_VFDS");
	if (inherited)
		rt_vfiles_inherit(inherited);
	else if (!rt_remote_kind_is_child())
		rt_remote_stdio_open();
}

static char *rt_put_hex(char *o, const char *s)
{
	for (; *s; s++) {
		*o++ = "0123456789abcdef"[(unsigned char)*s >> 4];
		*o++ = "0123456789abcdef"[*s & 15];
	}
	return o;
}

/* fd stays open over an exec */
static int rt_survives_exec(long fd)
{
	return !(rt_syscall2(__NR_fcntl, fd, F_GETFD) & FD_CLOEXEC);
}

/* The description stays open over an exec: one of its descriptors does */
static int rt_vdesc_survives_exec(const struct rt_vdesc *d)
{
	for (long fd = 0; fd < RT_VFDS; fd++)
		if (rt_vdesc_of(fd) == d && rt_survives_exec(fd))
			return 1;
	return 0;
}

/*
 * execve: the new program (if it is relinked too) takes the remote descriptors that stay open
 * over the exec, the cursor table and the working directory, from CKPT_VFDS; a forked child's
 * exec stays a child.
 */
char **rt_vfiles_exec_env(char **envp)
{
	static char blob[65536], kind[] = "CKPT_SHADOW_KIND=child";
	static char *env[4096];
	char *o = blob, *end = blob + sizeof blob - 64 - 2 * RT_VPATH;
	int n = 0;
	if (!rt_remote_on)
		return envp;
	rt_remote_enter();	/* the blob is built whole (two threads' execs: docs/limits.md) */
	rt_placeholders_check();
	int shared = rt_in_shared_child();
	o = rt_put(o, "CKPT_VFDS=cwd:");
	o = rt_put_hex(o, rt_cwd);
	if (rt_cursors_fd >= 0) {
		o = rt_put(o, ";cur:");
		o = rt_utoa((uint64_t)rt_cursors_fd, o);
		*o++ = ':';
		o = rt_utoa(shared ? 0 : rt_cursors_slot_for_exec(), o);
		if (shared)
			o = rt_put(o, ":take");
		for (int i = 0; !shared && i < RT_VDESCS && o < end; i++) {
			if (!rt_vd[i].refs || rt_vd[i].cursor < 0 || rt_vdesc_survives_exec(&rt_vd[i]))
				continue;
			o = rt_put(o, ";drop:");
			o = rt_utoa((uint64_t)rt_vd[i].cursor + 1, o);
		}
	}
	for (long fd = 0; fd < RT_VFDS; fd++) {
		struct rt_vdesc *d = rt_vdesc_of(fd);
		if (!d || !rt_survives_exec(fd) || o >= end)
			continue;
		*o++ = ';';
		o = rt_utoa((uint64_t)fd, o);
		*o++ = ':';
		o = rt_utoa(d->flags, o);
		*o++ = ':';
		o = rt_utoa(rt_voff_get(d), o);
		*o++ = ':';
		o = rt_utoa((uint64_t)(d->cursor + 1), o);
		*o++ = ':';
		o = rt_put_hex(o, d->path);
	}
	*o = 0;
	rt_remote_leave();
	for (; envp && *envp && n < 4092; envp++)
		if (!rt_starts_with(*envp, "CKPT_VFDS=") && !rt_starts_with(*envp, "CKPT_SHADOW_KIND=") &&
		    !rt_starts_with(*envp, "CKPT_SHADOW_ADDR="))
			env[n++] = *envp;
	env[n++] = blob;
	env[n++] = (char *)rt_remote_addr_env();
	if (rt_remote_kind_is_child())
		env[n++] = kind;
	env[n] = 0;
	return env;
}

/*
 * Before a fork or vfork: every offset moves into the shared cursor table (made now if need be,
 * or made again after a restart, with this process's references), so the child shares them.
 */
void rt_vfiles_before_fork(void)
{
	if (!rt_remote_on)
		return;
	rt_placeholders_check();
	int restarted = rt_cursors_restarted();
	if (rt_cursors_share() < 0)
		return;
	if (restarted) {
		int32_t held[RT_VDESCS];
		for (int i = 0; i < RT_VDESCS; i++)
			held[i] = rt_vd[i].refs ? rt_vd[i].cursor : -1;
		rt_cursors_recount(held, RT_VDESCS);
	}
	for (int i = 0; i < RT_VDESCS; i++)
		if (rt_vd[i].refs && rt_vd[i].cursor < 0)
			rt_vd[i].cursor = rt_cursor_new(rt_vd[i].offset);
}

/* A forked child with its own memory: a reference to each cursor its file table names */
void rt_vfiles_forked(void)
{
	rt_cursors_forked();
	for (int i = 0; rt_remote_on && i < RT_VDESCS; i++)
		if (rt_vd[i].refs)
			rt_cursor_hold(rt_vd[i].cursor);
}

/* The process ends: its references go (a vfork child's are its parent's) */
void rt_vfiles_exit(void)
{
	if (!rt_remote_on || rt_in_shared_child())
		return;
	rt_remote_enter();
	for (int i = 0; i < RT_VDESCS; i++)
		if (rt_vd[i].refs)
			rt_cursor_drop(rt_vd[i].cursor);
	rt_cursors_exit();
	rt_remote_leave();
}

/*
 * A vfork child (vfork, or posix_spawn's clone(CLONE_VM|CLONE_VFORK)) runs in its parent's memory,
 * this table included, until it execs or exits; but its descriptors are its own (the kernel's table
 * is not shared), and what it does to them (posix_spawn's file actions: dup2, close, open, chdir)
 * must not change what its parent finds. So the parent's table is saved before the call and put back
 * when the parent runs again. The child's closes of the parent's descriptions send no CLOSE; a
 * handle the child opened itself (its exec passes the file on by path) is closed then.
 */
/* What a desc holds but its path (a path never changes while the desc is open) */
struct rt_vhead { uint32_t refs, flags; uint64_t offset, gen; int32_t handle, cursor; };

static struct {
	uint8_t due;	/* saved, and not yet put back */
	int cwd_local;
	uint8_t fd[RT_VFDS];
	struct rt_vhead vd[RT_VDESCS];
	char cwd[RT_VPATH];
} rt_vsaved;

/* The parent has this description open: a running vfork child neither closes it nor reuses its slot */
static int rt_vdesc_is_parents(const struct rt_vdesc *d)
{
	return rt_vsaved.due && rt_vsaved.vd[d - rt_vd].refs;
}

void rt_vfiles_vfork_save(void)
{
	if (!rt_remote_on || rt_in_shared_child())
		return;
	rt_memcpy(rt_vsaved.fd, rt_vfd, sizeof rt_vfd);
	for (int i = 0; i < RT_VDESCS; i++) {
		const struct rt_vdesc *d = &rt_vd[i];
		rt_vsaved.vd[i] = (struct rt_vhead){ d->refs, d->flags, d->offset, d->gen, d->handle, d->cursor };
	}
	rt_memcpy(rt_vsaved.cwd, rt_cwd, rt_strlen(rt_cwd) + 1);
	rt_vsaved.cwd_local = rt_cwd_local;
	rt_vsaved.due = 1;
}

/* In the parent, once its vfork child has exec'd or exited: the parent's table again */
void rt_vfiles_vfork_done(void)
{
	if (!rt_vsaved.due || rt_in_shared_child())
		return;
	for (int i = 0; i < RT_VDESCS; i++) {
		struct rt_vdesc *d = &rt_vd[i];
		struct rt_vhead was = rt_vsaved.vd[i];
		int was_live = was.handle >= 0 && was.gen == rt_remote_gen;
		if (was.refs && rt_vdesc_live(d) && !was_live) {	/* the parent's file, opened again by the child: kept */
			was.handle = d->handle;
			was.gen = d->gen;
		} else if (d->refs && rt_vdesc_live(d) && !was.refs) {	/* the child's own */
			rt_remote_close(d->handle);
		}
		d->refs = was.refs;
		d->flags = was.flags;
		d->offset = was.offset;
		d->gen = was.gen;
		d->handle = was.handle;
		d->cursor = was.cursor;
	}
	rt_memcpy(rt_vfd, rt_vsaved.fd, sizeof rt_vfd);
	rt_memcpy(rt_cwd, rt_vsaved.cwd, rt_strlen(rt_vsaved.cwd) + 1);
	rt_cwd_local = rt_vsaved.cwd_local;
	rt_vsaved.due = 0;
}
