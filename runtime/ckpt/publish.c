/*
 * One writer per image. Every checkpoint writes a temporary file of its own, named after the job
 * and the checkpoint's generation, and puts it in place only if it is a newer state than the image
 * there, deciding under a lock on the image's directory. So a writer left running by a killed
 * run (its copy-on-write snapshot goes on being written after the kill) can neither write into
 * another writer's file nor roll back the image a restarted run has made since; and leftover
 * temporary files of older states are removed by the next checkpoint that lands.
 *
 * A job is named by the time of its first start and a random number, both kept in its memory and
 * so across restarts. Its generation counts checkpoints in the low half and restarts in the high
 * half: a run restarted from an older image outranks whatever the run it replaces still writes.
 */
#include "ckpt/save.h"

struct rt_job rt_job;

static char rt_dir[RT_PATH_MAX];	/* the image's directory */
static const char *rt_base;		/* its file name, inside rt_image_path */

/* A fresh job: a name of its own (a restarted process gets its job back with its memory) */
void rt_job_begin(void)
{
	struct { int64_t sec, nsec; } now = { 0, 0 };
	rt_syscall2(__NR_clock_gettime, CLOCK_REALTIME, (long)&now);
	rt_job.start = (uint64_t)now.sec * 1000000000ULL + (uint64_t)now.nsec;
	if (rt_syscall3(__NR_getrandom, (long)&rt_job.nonce, sizeof rt_job.nonce, 0) != sizeof rt_job.nonce)
		rt_job.nonce = rt_job.start ^ ((uint64_t)rt_syscall0(__NR_getpid) << 40);
	rt_job.generation = 0;
}

/* The generation a process restarted from an image with `generation` takes on */
uint64_t rt_job_restarted(uint64_t generation)
{
	return ((generation >> CKPT_GEN_RESTART_SHIFT) + 1) << CKPT_GEN_RESTART_SHIFT | (generation & 0xffffffffULL);
}

/* Whether state a is newer than state b */
static int rt_job_newer(const struct rt_job *a, const struct rt_job *b)
{
	if (a->start == b->start && a->nonce == b->nonce)
		return a->generation > b->generation;
	return a->start != b->start ? a->start > b->start : a->nonce > b->nonce;
}

/* Splits the image's absolute path into its directory and file name */
void rt_publish_target(const char *path)
{
	size_t slash = 0;
	for (size_t i = 0; path[i]; i++)
		if (path[i] == '/')
			slash = i;
	rt_memcpy(rt_dir, path, slash ? slash : 1);
	rt_dir[slash ? slash : 1] = 0;
	rt_base = path + slash + 1;
}

static char *rt_put_hex(char *out, uint64_t v)
{
	for (int shift = 60; shift >= 0; shift -= 4)
		*out++ = "0123456789abcdef"[(v >> shift) & 15];
	*out = 0;
	return out;
}

/* NAME.<start>-<nonce>-<generation>.tmp, 16 hex digits each */
static char *rt_put_tmp_name(char *out, const char *name, const struct rt_job *j)
{
	out = rt_put(out, name);
	out = rt_put(out, ".");
	out = rt_put_hex(out, j->start);
	out = rt_put(out, "-");
	out = rt_put_hex(out, j->nonce);
	out = rt_put(out, "-");
	out = rt_put_hex(out, j->generation);
	return rt_put(out, ".tmp");
}

static int rt_hex_field(const char *s, uint64_t *v);

/* NAME.g<generation>: every image landed while tracking is on, kept as an incremental's parent (chain.c) */
char *rt_link_name(char *out, const char *path, uint64_t generation)
{
	out = rt_put(out, path);
	out = rt_put(out, ".g");
	return rt_put_hex(out, generation);
}

/* The generation a chain link of this image is named after; 0 if the name is not one */
static int rt_is_link(const char *name, uint64_t *generation)
{
	size_t n = rt_strlen(rt_base);
	return rt_starts_with(name, rt_base) && name[n] == '.' && name[n + 1] == 'g' && rt_strlen(name) == n + 2 + 16 &&
	       rt_hex_field(name + n + 2, generation);
}

/* This checkpoint's temporary file: the image's path with the job and generation added */
void rt_publish_tmp_path(char *out, const char *path)
{
	rt_put_tmp_name(out, path, &rt_job);
}

static int rt_hex_field(const char *s, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < 16; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return 0;
		*v = *v << 4 | (uint64_t)d;
	}
	return 1;
}

/* The job and generation a temporary file of this image is named after; 0 if it is not one */
static int rt_tmp_job(const char *name, struct rt_job *j)
{
	size_t n = rt_strlen(rt_base);
	if (!rt_starts_with(name, rt_base) || name[n] != '.' || rt_strlen(name) != n + 1 + 50 + 4)
		return 0;
	const char *f = name + n + 1;
	return rt_hex_field(f, &j->start) && f[16] == '-' && rt_hex_field(f + 17, &j->nonce) && f[33] == '-' &&
	       rt_hex_field(f + 34, &j->generation) && rt_streq(f + 50, ".tmp");
}

/* The job and generation of the image in place; 0 when there is none this runtime can read */
static int rt_image_job(struct rt_job *j)
{
	unsigned char h[CKPT_IH_SIZE];
	long fd = rt_syscall4(__NR_openat, AT_FDCWD, (long)rt_image_path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	long n = rt_syscall4(__NR_pread64, fd, (long)h, sizeof h, 0);
	rt_syscall1(__NR_close, fd);
	if (n != (long)sizeof h || *(uint64_t *)(h + CKPT_IH_MAGIC) != CKPT_IMAGE_MAGIC ||
	    *(uint32_t *)(h + CKPT_IH_VERSION) != CKPT_IMAGE_VERSION ||
	    rt_crc32c(0, h, CKPT_IH_CRC) != *(uint32_t *)(h + CKPT_IH_CRC))
		return 0;	/* another format, or damaged: anything we write is better */
	j->start = *(uint64_t *)(h + CKPT_IH_JOB_START);
	j->nonce = *(uint64_t *)(h + CKPT_IH_JOB_NONCE);
	j->generation = *(uint64_t *)(h + CKPT_IH_GENERATION);
	return 1;
}

/*
 * Removes the temporary files of states older than the one now in place: they could never land;
 * and once a full image is in place, the chain links but its own: no image in place needs them
 */
static void rt_remove_stale_tmps(long dir, int full)
{
	char buf[4096];
	for (;;) {
		long n = rt_syscall3(__NR_getdents64, dir, (long)buf, sizeof buf);
		if (n <= 0)
			return;
		for (long at = 0; at < n;) {
			const char *name = buf + at + 19;	/* struct linux_dirent64: d_ino, d_off, d_reclen, d_type, d_name */
			struct rt_job j;
			uint64_t g;
			if ((rt_tmp_job(name, &j) && rt_job_newer(&rt_job, &j)) ||
			    (full && rt_is_link(name, &g) && g != rt_job.generation))
				rt_syscall3(__NR_unlinkat, dir, (long)name, 0);
			at += *(const uint16_t *)(buf + at + 16);
		}
	}
}

/*
 * The temporary file, new. One of the same name is a leftover: its name is this state's (job and
 * generation), so a writer killed in an earlier run of the same lineage (the same image restarted
 * again after a kill during its checkpoint) left it, and it never lands; it goes, once.
 */
long rt_publish_open_tmp(const char *tmp)
{
	long fd = rt_syscall4(__NR_openat, AT_FDCWD, (long)tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd != -EEXIST)
		return fd;
	rt_syscall1(__NR_unlink, (long)tmp);
	return rt_syscall4(__NR_openat, AT_FDCWD, (long)tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
}

/*
 * Puts the temporary file in place of the image, if it holds a newer state than the image there;
 * else removes it and returns -ESTALE. The directory's lock makes the check and the rename one
 * step against other writers; where the file system has no such lock, it goes on without.
 */
/* The image's second name, as a chain link, made before it lands (an image in place always has its link) */
static long rt_link_image(const char *tmp, char *link)
{
	rt_link_name(link, rt_image_path, rt_job.generation);
	long r = rt_syscall2(__NR_link, (long)tmp, (long)link);
	if (r == -EEXIST) {	/* a link of a run restarted from an older image, never this state */
		rt_syscall1(__NR_unlink, (long)link);
		r = rt_syscall2(__NR_link, (long)tmp, (long)link);
	}
	return r;
}

long rt_publish(const char *tmp, int incremental)
{
	long dir = rt_syscall4(__NR_openat, AT_FDCWD, (long)rt_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	long r;
	if (dir >= 0)
		while (rt_syscall2(__NR_flock, dir, LOCK_EX) == -EINTR)
			;
	struct rt_job there;
	if (rt_image_job(&there) && !rt_job_newer(&rt_job, &there)) {
		rt_syscall1(__NR_unlink, (long)tmp);
		r = -ESTALE;
	} else {
		char link[RT_PATH_MAX + 32];
		long linked = rt_track_wanted() ? rt_link_image(tmp, link) : -1;	/* none: the next image is full */
		r = rt_syscall2(__NR_rename, (long)tmp, (long)rt_image_path);
		if (r < 0 && linked == 0)
			rt_syscall1(__NR_unlink, (long)link);
		if (r == -ENOENT)	/* a newer state landed meanwhile and removed ours (rt_remove_stale_tmps) */
			r = -ESTALE;
	}
	if (dir >= 0) {
		if (r == 0) {
			rt_syscall1(__NR_fsync, dir);	/* the rename itself survives a crash */
			rt_remove_stale_tmps(dir, !incremental);
		}
		rt_syscall1(__NR_close, dir);	/* and the lock with it */
	}
	return r;
}
