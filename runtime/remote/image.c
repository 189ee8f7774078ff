/*
 * Checkpoint images kept on the shadow: CKPT_IMAGE=shadow:NAME and CKPT_RESTART=shadow:NAME. The
 * writer writes the image to /.ckpt/NAME.tmp in the shadow's root as it would write a file, each
 * part at its offset straight from its snapshot (writer.c), has it fsynced and renames it over
 * /.ckpt/NAME: the stored image is replaced whole or not at all. A restart reads it back into a memfd and
 * restarts from that, on whatever machine it runs.
 */
#include "remote/remote.h"

#define RT_CHUNK	CKPT_SH_MAX_DATA

static int rt_image_name(char *out, const char *name, const char *suffix)
{
	size_t n = rt_strlen(name), s = rt_strlen(suffix);
	if (!n || RT_LITERAL_LEN("/.ckpt/") + n + s >= RT_VPATH)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/')
			return -1;
	rt_put(rt_put(rt_put(out, "/.ckpt/"), name), suffix);
	return 0;
}

/* The writer's temporary image on the shadow, /.ckpt/NAME.tmp, made empty: a handle, or -errno */
long rt_image_remote_open(const char *name)
{
	char tmp[RT_VPATH];
	if (rt_image_name(tmp, name, ".tmp"))
		return -EINVAL;
	return rt_remote_path_call(CKPT_SH_OP_OPEN, O_WRONLY | O_CREAT | O_TRUNC, 0600, tmp, 0, 0);
}

/* len bytes at off of the temporary image, sent straight from buf in PWRITEs; 0, or -errno */
long rt_image_remote_pwrite(long handle, const void *buf, uint64_t len, uint64_t off)
{
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < RT_CHUNK ? len - done : RT_CHUNK;
		struct rt_request rq = { .op = CKPT_SH_OP_PWRITE, .handle = (uint32_t)handle, .offset = off + done,
					 .tail = (const char *)buf + done, .tail_len = (size_t)n };
		long r = rt_remote_call(&rq, 0, 0, 0);
		if (r != (long)n)
			return r == RT_RECONNECTED || r >= 0 ? -EIO : r;	/* a new session has lost the handle */
		done += n;
	}
	return 0;
}

/*
 * The temporary image made `size` long, fsynced and renamed over /.ckpt/NAME when `r` (the
 * writing's outcome) is 0; removed otherwise. The stored image is replaced whole or not at all.
 * 0, or -errno (a lost connection counts as EIO).
 */
long rt_image_remote_finish(long handle, const char *name, uint64_t size, long r)
{
	char tmp[RT_VPATH], final[RT_VPATH];
	if (rt_image_name(tmp, name, ".tmp") || rt_image_name(final, name, ""))
		return -EINVAL;
	if (!r) {
		struct rt_request trunc = { .op = CKPT_SH_OP_FTRUNCATE, .handle = (uint32_t)handle, .offset = size };
		r = rt_remote_call(&trunc, 0, 0, 0);
	}
	if (!r) {
		struct rt_request sync = { .op = CKPT_SH_OP_FSYNC, .handle = (uint32_t)handle };
		r = rt_remote_call(&sync, 0, 0, 0);
	}
	rt_remote_close(handle);
	if (r == RT_RECONNECTED || r > 0)
		r = -EIO;
	if (!r) {
		struct rt_request rq = { .op = CKPT_SH_OP_RENAME, .tail = tmp, .tail_len = rt_strlen(tmp) + 1,
					 .tail2 = final, .tail2_len = rt_strlen(final) + 1 };
		r = rt_remote_call(&rq, 0, 0, 0);
	} else {
		rt_remote_path_call(CKPT_SH_OP_UNLINK, 0, 0, tmp, 0, 0);
	}
	return r < 0 ? r : 0;
}

/* A CKPT_RESTART source that gives no image: one line, exit 2, nothing changed */
_Noreturn void rt_cannot_restart(const char *spec, const char *why)
{
	const char *parts[] = { "ckpt: cannot restart from ", spec, ": ", why, "\n" };
	rt_write_line(parts, 5);
	rt_exit(CKPT_EXIT_BAD_IMAGE);
}

/* CKPT_RESTART's value as a path: shadow:NAME is fetched into memory first */
const char *rt_image_source(const char *spec)
{
	static char path[32];
	char remote[RT_VPATH];
	unsigned char stat[CKPT_SH_STAT_SIZE];
	if (!rt_starts_with(spec, "shadow:"))
		return spec;
	if (!rt_remote_on)
		rt_cannot_restart(spec, "CKPT_SHADOW is not set");
	if (rt_image_name(remote, spec + RT_LITERAL_LEN("shadow:"), ""))
		rt_cannot_restart(spec, "not an image name");
	long h = rt_remote_path_call(CKPT_SH_OP_OPEN, 0, 0, remote, 0, 0);
	if (h < 0)
		rt_cannot_restart(spec, "the shadow has no such image");
	struct rt_request fst = { .op = CKPT_SH_OP_FSTAT, .handle = (uint32_t)h };
	long memfd = rt_syscall2(__NR_memfd_create, (long)"ckpt-restart", MFD_CLOEXEC);
	long buf = rt_syscall6(__NR_mmap, 0, RT_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rt_remote_call(&fst, stat, sizeof stat, 0) < 0 || memfd < 0 || (buf < 0 && buf > -4096))
		rt_cannot_restart(spec, "cannot fetch it from the shadow");
	uint64_t size = (uint64_t)((struct rt_stat *)stat)->size;
	for (uint64_t off = 0; off < size;) {
		struct rt_request rq = { .op = CKPT_SH_OP_PREAD, .handle = (uint32_t)h, .count = RT_CHUNK, .offset = off };
		long n = rt_remote_call(&rq, (void *)buf, RT_CHUNK, 0);
		if (n <= 0 || rt_syscall4(__NR_pwrite64, memfd, buf, n, (long)off) != n)
			rt_cannot_restart(spec, "the shadow lost the image while it was read");
		off += (uint64_t)n;
	}
	rt_remote_close(h);
	rt_syscall2(__NR_munmap, buf, RT_CHUNK);
	return rt_fd_path(path, memfd);
}
