/*
 * O_PATH|O_NOFOLLOW descriptors of symbolic links: the link itself, not what it points to. Saved
 * with the link's target (readlinkat on the descriptor). Restored during the restart's checks by
 * opening the link at its path again with O_PATH|O_NOFOLLOW; one whose name the program removed
 * is made again there with the same target, opened, and removed again. A path that is no longer a
 * link, or one whose target changed, refuses the image: the program would read another link.
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

#define RT_S_IFMT	0170000
#define RT_S_IFLNK	0120000

int rt_is_symlink(const struct rt_stat *st)
{
	return (st->mode & RT_S_IFMT) == RT_S_IFLNK;
}

int rt_save_symlink(struct rt_ckpt_work *w, long fd, const char *path)
{
	char target[RT_PATH_MAX];
	long len = rt_syscall4(__NR_readlinkat, fd, (long)"", (long)target, sizeof target - 1);
	if (len < 0)
		return rt_refuse_descriptor(w, fd, path, "the symbolic link's target cannot be read");
	unsigned char *p = rt_fd_record(w, CKPT_REC_SYMLINK, CKPT_RSL_SIZE + (size_t)len + 1, fd);
	if (!p)
		return RT_SAVE_FULL;
	rt_memcpy(p + CKPT_RSL_SIZE, target, (size_t)len);
	p[CKPT_RSL_SIZE + len] = 0;
	rt_seal(p);
	return 0;
}

/* ---- the restart's side ---- */

/* Whether the link open at fd still points at target */
static int rt_points_at(long fd, const char *target)
{
	char now[RT_PATH_MAX];
	long len = rt_syscall4(__NR_readlinkat, fd, (long)"", (long)now, sizeof now - 1);
	if (len < 0)
		return 0;
	now[len] = 0;
	return rt_streq(now, target);
}

long rt_open_symlink(const struct rt_image *im, uint32_t fd, const char *path)
{
	uint32_t size;
	const unsigned char *rec = rt_find_kobject(im, CKPT_REC_SYMLINK, fd, 0, CKPT_RSL_SIZE + 1, &size);
	if (!rec)
		return RT_OPEN_NOT_MINE;
	const char *target = (const char *)rec + CKPT_RSL_SIZE;
	if (rec[size - 1])
		rt_refuse_kobject(im, fd, path, "its record is inconsistent");
	char name[RT_PATH_MAX];
	int removed = rt_is_deleted(path);
	if (removed) {
		rt_live_path(name, path);
		if (rt_syscall3(__NR_symlinkat, (long)target, AT_FDCWD, (long)name) < 0)
			rt_refuse_kobject(im, fd, path, "the symbolic link cannot be made again at its old path (taken now, or not writable)");
	}
	long got = rt_syscall4(__NR_openat, AT_FDCWD, (long)(removed ? name : path), O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
	if (removed)
		rt_syscall3(__NR_unlinkat, AT_FDCWD, (long)name, 0);
	struct rt_stat st;
	if (got < 0 || rt_syscall2(__NR_fstat, got, (long)&st) < 0 || !rt_is_symlink(&st))
		rt_refuse_kobject(im, fd, path, "its path is no longer a symbolic link");
	if (!rt_points_at(got, target))
		rt_refuse_kobject(im, fd, path, "the symbolic link points elsewhere now");
	return got;
}
