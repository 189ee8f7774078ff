/*
 * The forwarded calls beyond open, read, write and stat (calls.h, class FWD): links, modes,
 * owners, times, FIFOs, file system statistics, fallocate, copies between descriptors, close_range,
 * openat2, and poll and select over remote descriptors. Each looks at the objects its arguments
 * name: when one is remote, the shadow carries the call out (docs/shadow-protocol.md); when none
 * is, the kernel makes it, with relative paths made absolute under a remote working directory.
 */
#include "remote/vfiles.h"

#define RT_UTIME_NOW	((1L << 30) - 1)
#define RT_UTIME_OMIT	((1L << 30) - 2)
#define RT_CLOSE_RANGE_CLOEXEC	(1u << 2)	/* linux/close_range.h */
#define RT_POLL_FILE	(POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)	/* a regular file is always ready */

/* Where each path argument goes, and its job path when not plain local (in `to`, the caller's:
 * a local call made with one of these paths runs without the remote lock) */
long rt_route_args(const struct rt_ctx *c, const char *spec, long a[6], struct rt_routed *to)
{
	const long regs[6] = { (long)c->rdi, (long)c->rsi, (long)c->rdx, (long)c->r10, (long)c->r8, (long)c->r9 };
	long remote = 0, err;
	int np = 0;
	for (int i = 0; i < 6; i++)
		a[i] = regs[i];
	for (int i = 0; i < 6 && spec[i]; i++) {
		if (spec[i] == 'f' && rt_vdesc_of((long)(int)a[i]))
			remote = 1;
		if (spec[i] != 'p' || np == 2)
			continue;
		int at = i > 0 && spec[i - 1] == 'd';
		enum rt_where w = rt_where_is(at ? (long)(int)a[i - 1] : AT_FDCWD, (const char *)a[i], to->abs[np], &err);
		if (err)
			return err;
		if (w == RT_REMOTE)
			remote = 1;
		else if (w == RT_LOCAL_ABS) {
			a[i] = (long)to->abs[np];
			if (at)
				a[i - 1] = AT_FDCWD;
		}
		to->where[np++] = w;
	}
	return remote;
}

static long rt_kernel(long nr, const long a[6])
{
	return rt_remote_local_call(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* The call as the program made it, by the kernel */
static long rt_as_made(const struct rt_ctx *c, long nr)
{
	return rt_remote_local_call(nr, (long)c->rdi, (long)c->rsi, (long)c->rdx, (long)c->r10, (long)c->r8, (long)c->r9);
}

/* A request about the file of a remote descriptor: `rq` without its handle */
static long rt_handle_request(struct rt_vdesc *d, struct rt_request rq, void *out, size_t max)
{
	return rt_file_call(d, &rq, out, max, 0);
}

/* A request about a path (its tail: `pre` bytes, then the path), or two paths */
static long rt_path_request(struct rt_request rq, const void *pre, size_t pre_len, const char *path, const char *path2, void *out, size_t max)
{
	static char tail[CKPT_SH_TIMES_SIZE + RT_VPATH];
	rt_memcpy(tail, pre, pre_len);
	size_t n = rt_strlen(path) + 1;
	rt_memcpy(tail + pre_len, path, n);
	rq.tail = tail;
	rq.tail_len = pre_len + n;
	if (path2) {
		rq.tail2 = path2;
		rq.tail2_len = rt_strlen(path2) + 1;
	}
	return rt_remote_call(&rq, out, max, 0);
}

/* The descriptor the call acts on by itself: AT_EMPTY_PATH with "", or (utimensat) no path */
static struct rt_vdesc *rt_own_fd(long dirfd, const char *path, long flags, int null_path_ok)
{
	if (path ? path[0] == 0 && (flags & AT_EMPTY_PATH) : null_path_ok)
		return rt_vdesc_of(dirfd);
	return 0;
}

static long rt_vlink(const struct rt_ctx *c, long nr)
{
	long a[6], flags = nr == __NR_linkat ? (long)c->r8 : 0;
	struct rt_routed p;
	long remote = rt_route_args(c, rt_call_class_of(nr)->spec, a, &p);
	if (remote <= 0)
		return remote < 0 ? remote : rt_kernel(nr, a);
	if (p.where[0] != RT_REMOTE || p.where[1] != RT_REMOTE)
		return -EXDEV;
	if (flags & ~(long)(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	struct rt_request rq = { .op = CKPT_SH_OP_LINK, .flags = flags & AT_SYMLINK_FOLLOW ? CKPT_SH_FOLLOW : 0 };
	return rt_path_request(rq, 0, 0, p.abs[0], p.abs[1], 0, 0);
}

/* symlink(target, path): the target is text, stored as it is */
static long rt_vsymlink(const struct rt_ctx *c, long nr)
{
	long a[6];
	struct rt_routed p;
	long remote = rt_route_args(c, rt_call_class_of(nr)->spec, a, &p);
	if (remote <= 0)
		return remote < 0 ? remote : rt_kernel(nr, a);
	const char *target = (const char *)c->rdi;
	size_t n = rt_strlen(target) + 1;
	if (n > RT_VPATH)
		return -ENAMETOOLONG;
	struct rt_request rq = { .op = CKPT_SH_OP_SYMLINK };
	return rt_path_request(rq, target, n, p.abs[0], 0, 0, 0);
}

/*
 * The calls that change one object's metadata, by path or by descriptor. `op_path` and `op_fd`
 * are the shadow's two forms; the request's count and offset carry the values.
 */
struct rt_meta { uint32_t op_path, op_fd, count; uint64_t offset; const void *pre; size_t pre_len; };

static long rt_meta_on(const struct rt_ctx *c, long nr, long fd_arg, long flags, int null_path_ok, const struct rt_meta *m)
{
	long a[6];
	struct rt_routed p;
	const char *spec = rt_call_class_of(nr)->spec;
	struct rt_vdesc *d = spec[0] == 'f' ? rt_vdesc_of(fd_arg)
			   : spec[0] == 'd' ? rt_own_fd((long)(int)c->rdi, (const char *)c->rsi, flags, null_path_ok) : 0;
	if (d) {
		struct rt_request rq = { .op = m->op_fd, .count = m->count, .offset = m->offset, .tail = m->pre, .tail_len = m->pre_len };
		return rt_handle_request(d, rq, 0, 0);
	}
	if (spec[0] == 'f' || (!c->rsi && spec[0] == 'd'))
		return rt_as_made(c, nr);
	long remote = rt_route_args(c, spec, a, &p);
	if (remote <= 0)
		return remote < 0 ? remote : rt_kernel(nr, a);
	struct rt_request rq = { .op = m->op_path, .flags = flags & AT_SYMLINK_NOFOLLOW ? CKPT_SH_NOFOLLOW : 0,
				 .count = m->count, .offset = m->offset };
	return rt_path_request(rq, m->pre, m->pre_len, p.abs[0], 0, 0, 0);
}

static long rt_vchmod(const struct rt_ctx *c, long nr)
{
	int at = nr == __NR_fchmodat || nr == __NR_fchmodat2;
	long flags = nr == __NR_fchmodat2 ? (long)c->r10 : 0;
	struct rt_meta m = { CKPT_SH_OP_CHMOD, CKPT_SH_OP_FCHMOD, (uint32_t)(at ? c->rdx : c->rsi) & 07777, 0, 0, 0 };
	return rt_meta_on(c, nr, (long)(int)c->rdi, flags, 0, &m);
}

static long rt_vchown(const struct rt_ctx *c, long nr)
{
	int at = nr == __NR_fchownat;
	long flags = at ? (long)c->r8 : nr == __NR_lchown ? AT_SYMLINK_NOFOLLOW : 0;
	uint32_t uid = (uint32_t)(at ? c->rdx : c->rsi), gid = (uint32_t)(at ? c->r10 : c->rdx);
	struct rt_meta m = { CKPT_SH_OP_CHOWN, CKPT_SH_OP_FCHOWN, uid, gid, 0, 0 };
	return rt_meta_on(c, nr, (long)(int)c->rdi, flags, 0, &m);
}

/* utime, utimes, futimesat, utimensat: the times as two timespecs, NULL meaning now */
static long rt_vutimes(const struct rt_ctx *c, long nr)
{
	int64_t t[4] = { 0, RT_UTIME_NOW, 0, RT_UTIME_NOW };
	const int64_t *in = (const int64_t *)(nr == __NR_utime || nr == __NR_utimes ? c->rsi : c->rdx);
	long flags = nr == __NR_utimensat ? (long)c->r10 : 0;
	if (flags & ~(long)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	for (int i = 0; in && i < 2; i++) {
		if (nr == __NR_utime) {		/* struct utimbuf: two seconds */
			t[2 * i] = in[i];
			t[2 * i + 1] = 0;
			continue;
		}
		int64_t sec = in[2 * i], frac = in[2 * i + 1];
		int ns = nr == __NR_utimensat;
		if (ns && (frac == RT_UTIME_NOW || frac == RT_UTIME_OMIT)) {
			t[2 * i + 1] = frac;
			continue;
		}
		if (frac < 0 || frac >= (ns ? 1000000000 : 1000000))
			return -EINVAL;
		t[2 * i] = sec;
		t[2 * i + 1] = ns ? frac : frac * 1000;
	}
	if (t[1] == RT_UTIME_OMIT && t[3] == RT_UTIME_OMIT)
		return 0;	/* as the kernel answers, before it looks at the path */
	struct rt_meta m = { CKPT_SH_OP_UTIMENS, CKPT_SH_OP_FUTIMENS, 0, 0, t, sizeof t };
	return rt_meta_on(c, nr, (long)(int)c->rdi, flags, nr == __NR_utimensat, &m);
}

static long rt_vmknod(const struct rt_ctx *c, long nr)
{
	int at = nr == __NR_mknodat;
	uint32_t mode = (uint32_t)(at ? c->rdx : c->rsi);
	uint64_t dev = at ? c->r10 : c->rdx;
	struct rt_meta m = { CKPT_SH_OP_MKNOD, 0, (mode & ~07777) | (mode & 07777 & ~rt_job_umask()), dev, 0, 0 };
	return rt_meta_on(c, nr, AT_FDCWD, 0, 0, &m);
}

static long rt_vstatfs(const struct rt_ctx *c, long nr)
{
	long a[6];
	struct rt_routed p;
	void *buf = (void *)c->rsi;
	struct rt_vdesc *d = nr == __NR_fstatfs ? rt_vdesc_of((long)(int)c->rdi) : 0;
	if (d) {
		struct rt_request rq = { .op = CKPT_SH_OP_FSTATFS };
		return rt_handle_request(d, rq, buf, CKPT_SH_STATFS_SIZE);
	}
	long remote = nr == __NR_fstatfs ? 0 : rt_route_args(c, "p", a, &p);
	if (remote <= 0)
		return remote < 0 ? remote : nr == __NR_fstatfs ? rt_as_made(c, nr) : rt_kernel(nr, a);
	struct rt_request rq = { .op = CKPT_SH_OP_STATFS };
	return rt_path_request(rq, 0, 0, p.abs[0], 0, buf, CKPT_SH_STATFS_SIZE);
}

static long rt_vfallocate(const struct rt_ctx *c, long nr)
{
	struct rt_vdesc *d = rt_vdesc_of((long)(int)c->rdi);
	if (!d)
		return rt_as_made(c, nr);
	uint64_t len = c->r10;
	struct rt_request rq = { .op = CKPT_SH_OP_FALLOCATE, .flags = (uint32_t)c->rsi, .offset = c->rdx, .tail = &len, .tail_len = sizeof len };
	return rt_handle_request(d, rq, 0, 0);
}

/* openat2: openat with its flags and mode in a struct; the RESOLVE_ rules are not the shadow's */
static long rt_vopenat2(const struct rt_ctx *c, long nr)
{
	long a[6];
	struct rt_routed p;
	long remote = rt_route_args(c, "dp", a, &p);
	if (remote <= 0)
		return remote < 0 ? remote : rt_kernel(nr, a);
	const uint64_t *how = (const uint64_t *)c->rdx;
	if (c->r10 < 24 || how[2])
		return -EINVAL;
	return rt_vopen(p.abs[0], (uint32_t)how[0], (uint32_t)how[1]);
}

/* Under the lock: no other thread's remote open takes a number closed here before it is forgotten */
static long rt_vclose_range(const struct rt_ctx *c, long nr)
{
	long r = rt_syscall3(nr, (long)c->rdi, (long)c->rsi, (long)c->rdx);
	if (r == 0 && !(c->rdx & RT_CLOSE_RANGE_CLOEXEC))
		rt_vforget_range((long)(uint32_t)c->rdi, (long)(uint32_t)c->rsi);
	return r;
}

/*
 * sendfile, splice, copy_file_range. Between two remote files the shadow copies (COPY: the data
 * stays on the submit machine); between a remote file and a local descriptor (a pipe, a socket, a
 * local file) the bytes pass through a buffer here, up to its size a call (a short count, which
 * these calls may give). An offset pointer, when given, is used and moved instead of the file offset.
 */
#define RT_COPY_MAX	(16u << 20)
#define RT_BOUNCE	65536	/* mapped for each call: a local end is read or written without the lock */

struct rt_end { long fd; struct rt_vdesc *d; int64_t *off; };

static long rt_end_io(struct rt_end *e, char *buf, uint64_t n, int write)
{
	long r;
	if (e->d)
		r = rt_vio(e->d, buf, n, e->off ? (uint64_t)*e->off : 0, !e->off, write);
	else if (e->off)
		r = rt_remote_local_call(write ? __NR_pwrite64 : __NR_pread64, e->fd, (long)buf, (long)n, *e->off, 0, 0);
	else
		r = rt_remote_local_call(write ? __NR_write : __NR_read, e->fd, (long)buf, (long)n, 0, 0, 0);
	if (r > 0 && e->off)
		*e->off += r;
	return r;
}

static long rt_copy_through(struct rt_end *in, struct rt_end *out, uint64_t len, char *bounce)
{
	long got = rt_end_io(in, bounce, len < RT_BOUNCE ? len : RT_BOUNCE, 0);
	long put = 0;
	while (got > 0 && put < got) {	/* what was read is written whole: nothing to give back */
		long r = rt_end_io(out, bounce + put, (uint64_t)(got - put), 1);
		if (r <= 0)
			return put ? put : r;
		put += r;
	}
	return got < 0 ? got : put;
}

static long rt_copy_bounced(struct rt_end *in, struct rt_end *out, uint64_t len)
{
	long m = rt_syscall6(__NR_mmap, 0, RT_BOUNCE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m < 0 && m > -4096)
		return m;
	long r = rt_copy_through(in, out, len, (char *)m);
	rt_syscall2(__NR_munmap, m, RT_BOUNCE);
	return r;
}

static long rt_copy_remote(struct rt_end *in, struct rt_end *out, uint64_t len)
{
	uint32_t n = len > RT_COPY_MAX ? RT_COPY_MAX : (uint32_t)len;
	uint64_t from = in->off ? (uint64_t)*in->off : rt_voff_get(in->d), to = out->off ? (uint64_t)*out->off : rt_voff_get(out->d);
	struct { uint32_t handle, pad; uint64_t at; } tail = { 0, 0, to };
	long r;
	do {	/* both handles on the connection open now */
		long h = rt_handle_of(out->d);
		if (h < 0)
			return h;
		tail.handle = (uint32_t)h;
		struct rt_request rq = { .op = CKPT_SH_OP_COPY, .count = n, .offset = from, .tail = &tail, .tail_len = sizeof tail };
		h = rt_handle_of(in->d);
		if (h < 0)
			return h;
		rq.handle = (uint32_t)h;
		r = rt_remote_call(&rq, 0, 0, 0);
	} while (r == RT_RECONNECTED);
	if (r > 0) {
		if (in->off)
			*in->off += r;
		else
			rt_voff_set(in->d, from + (uint64_t)r);
		if (out->off)
			*out->off += r;
		else
			rt_voff_set(out->d, to + (uint64_t)r);
	}
	return r;
}

static long rt_vcopy(const struct rt_ctx *c, long nr)
{
	struct rt_end in, out;
	uint64_t len;
	if (nr == __NR_sendfile) {
		in = (struct rt_end){ (long)(int)c->rsi, 0, (int64_t *)c->rdx };
		out = (struct rt_end){ (long)(int)c->rdi, 0, 0 };
		len = c->r10;
	} else {
		in = (struct rt_end){ (long)(int)c->rdi, 0, (int64_t *)c->rsi };
		out = (struct rt_end){ (long)(int)c->rdx, 0, (int64_t *)c->r10 };
		len = c->r8;
	}
	in.d = rt_vdesc_of(in.fd);
	out.d = rt_vdesc_of(out.fd);
	if (!in.d && !out.d)
		return rt_as_made(c, nr);
	if (nr == __NR_copy_file_range && c->r9)
		return -EINVAL;
	if ((in.off && *in.off < 0) || (out.off && *out.off < 0))
		return -EINVAL;
	if (len == 0)
		return 0;
	if (in.d && out.d) {
		if (nr == __NR_splice)
			return -EINVAL;	/* one end of a splice is a pipe */
		if (!(out.d->flags & O_APPEND))
			return rt_copy_remote(&in, &out, len);
	}
	return rt_copy_bounced(&in, &out, len);
}

/* poll and ppoll: remote descriptors are regular files, ready for what they are asked; the kernel
 * sees them as -1 (ignored), and waits not at all when one of them is ready. Entries past
 * RT_POLL_MINE are the kernel's as they are (docs/limits.md). */
#define RT_POLL_MINE	4096
static long rt_vpoll(const struct rt_ctx *c, long nr)
{
	struct rt_pollfd { int32_t fd; int16_t events, revents; } *p = (struct rt_pollfd *)c->rdi;
	uint8_t mine[RT_POLL_MINE / 8];
	uint64_t n = c->rsi < RT_POLL_MINE ? c->rsi : RT_POLL_MINE;
	long ready = 0;
	int found = 0;
	struct { int64_t sec, nsec; } zero = { 0, 0 };
	for (uint64_t i = 0; i < n; i++) {
		mine[i / 8] &= (uint8_t)~(1u << (i % 8));
		if (p[i].fd < 0 || !rt_vdesc_of(p[i].fd))
			continue;
		mine[i / 8] |= (uint8_t)(1u << (i % 8));
		p[i].fd = -2 - p[i].fd;
		ready += (p[i].events & RT_POLL_FILE) != 0;
		found = 1;
	}
	long timeout = (long)c->rdx;	/* poll's milliseconds, ppoll's timespec */
	if (ready)
		timeout = nr == __NR_poll ? 0 : (long)&zero;
	long r = rt_remote_local_call(nr, (long)c->rdi, (long)c->rsi, timeout, (long)c->r10, (long)c->r8, 0);
	for (uint64_t i = 0; found && i < n; i++) {
		if (!(mine[i / 8] & (1u << (i % 8))))
			continue;
		p[i].fd = -2 - p[i].fd;
		p[i].revents = (int16_t)(p[i].events & RT_POLL_FILE);
	}
	return r < 0 ? r : r + ready;
}

/* select and pselect6 likewise: remote descriptors leave the sets the kernel sees, and come back
 * ready for reading and writing, never exceptional */
static long rt_vselect(const struct rt_ctx *c, long nr)
{
	uint64_t *sets[3] = { (uint64_t *)c->rsi, (uint64_t *)c->rdx, (uint64_t *)c->r10 };
	uint64_t ready_bits[2][1024 / 64];
	long nfds = (long)(int)c->rdi, count = 0;
	if (nfds > 1024)
		nfds = 1024;	/* remote descriptors are all below 1024 */
	struct { int64_t sec, nsec; } zero = { 0, 0 };
	for (long fd = 0; fd < nfds; fd++) {
		uint64_t bit = 1ull << (fd % 64);
		for (int s = 0; s < 3; s++) {
			if (s < 2)
				ready_bits[s][fd / 64] &= ~bit;
			if (!sets[s] || !(sets[s][fd / 64] & bit) || !rt_vdesc_of(fd))
				continue;
			sets[s][fd / 64] &= ~bit;
			if (s < 2) {
				ready_bits[s][fd / 64] |= bit;
				count++;
			}
		}
	}
	long timeout = (long)c->r8;
	if (count)
		timeout = (long)&zero;	/* a timeval and a timespec of zero look alike */
	long r = rt_remote_local_call(nr, (long)c->rdi, (long)c->rsi, (long)c->rdx, (long)c->r10, timeout, (long)c->r9);
	for (long fd = 0; fd < nfds; fd++)
		for (int s = 0; s < 2; s++)
			if (sets[s] && (ready_bits[s][fd / 64] >> (fd % 64) & 1))
				sets[s][fd / 64] |= 1ull << (fd % 64);
	return r < 0 ? r : r + count;
}

long rt_vmeta_call(const struct rt_ctx *c, long nr)
{
	switch (nr) {
	case __NR_link: case __NR_linkat:
		return rt_vlink(c, nr);
	case __NR_symlink: case __NR_symlinkat:
		return rt_vsymlink(c, nr);
	case __NR_chmod: case __NR_fchmod: case __NR_fchmodat: case __NR_fchmodat2:
		return rt_vchmod(c, nr);
	case __NR_chown: case __NR_lchown: case __NR_fchown: case __NR_fchownat:
		return rt_vchown(c, nr);
	case __NR_utime: case __NR_utimes: case __NR_futimesat: case __NR_utimensat:
		return rt_vutimes(c, nr);
	case __NR_mknod: case __NR_mknodat:
		return rt_vmknod(c, nr);
	case __NR_statfs: case __NR_fstatfs:
		return rt_vstatfs(c, nr);
	case __NR_fallocate:
		return rt_vfallocate(c, nr);
	case __NR_openat2:
		return rt_vopenat2(c, nr);
	case __NR_close_range:
		return rt_vclose_range(c, nr);
	case __NR_sendfile: case __NR_splice: case __NR_copy_file_range:
		return rt_vcopy(c, nr);
	case __NR_poll: case __NR_ppoll:
		return rt_vpoll(c, nr);
	case __NR_select: case __NR_pselect6:
		return rt_vselect(c, nr);
	default:
		return -ENOSYS;
	}
}
