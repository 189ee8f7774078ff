/*
 * inotify watches, by path. The kernel shows a watch's inode but not its path, and re-adding by
 * file handle needs CAP_DAC_READ_SEARCH; so the runtime keeps the absolute path of every watch the
 * program adds, and a checkpoint takes the path of each watch the kernel lists from here
 * (ckpt/inotify.c): a path kept for that watch number that names the watched inode now.
 *
 * A checkpoint asks by watch number, not by inotify descriptor, so that a dup'ed or moved instance
 * finds its watches; an entry left from another instance can only answer for a watch of the same
 * number on the same inode, which is the same watch. Not thread-safe: two threads adding watches
 * at the same instant may lose one (a checkpoint then refuses its instance).
 */
#include <linux/inotify.h>
#include "sys/sys.h"

#define RT_WATCHES	256
#define RT_WATCH_PATHS	(64 * 1024)

static struct rt_watch { int32_t fd, wd; uint32_t flags, at; } rt_watches[RT_WATCHES];
static char rt_watch_paths[RT_WATCH_PATHS];
static uint32_t rt_watch_paths_used;
static int rt_nwatches;

static int rt_watch_known(long fd, int32_t wd)
{
	for (int i = 0; i < rt_nwatches; i++)
		if (rt_watches[i].fd == fd && rt_watches[i].wd == wd)
			return 1;
	return 0;
}

/* A free entry: a removed one, or a new one; 0 when the table is full */
static struct rt_watch *rt_watch_slot(void)
{
	for (int i = 0; i < rt_nwatches; i++)
		if (rt_watches[i].wd < 0)
			return &rt_watches[i];
	return rt_nwatches < RT_WATCHES ? &rt_watches[rt_nwatches++] : 0;
}

/* An inode watched again through another path, or with another mask, keeps its first entry */
static void rt_note_watch(long fd, int32_t wd, const char *path, uint32_t mask)
{
	static char abs[RT_PATH_MAX];
	if (rt_watch_known(fd, wd) || rt_absolute_path(abs, path) < 0)
		return;
	size_t len = rt_strlen(abs) + 1;
	struct rt_watch *w = rt_watch_slot();
	if (!w || rt_watch_paths_used + len > RT_WATCH_PATHS)
		return;		/* untracked: a checkpoint refuses its instance */
	rt_memcpy(rt_watch_paths + rt_watch_paths_used, abs, len);
	*w = (struct rt_watch){ (int32_t)fd, wd, mask & (IN_DONT_FOLLOW | IN_ONLYDIR), rt_watch_paths_used };
	rt_watch_paths_used += (uint32_t)len;
}

long rt_sys_inotify_add_watch(long fd, const char *path, uint32_t mask)
{
	long wd = rt_syscall3(__NR_inotify_add_watch, fd, (long)path, mask);
	if (wd >= 0)
		rt_note_watch(fd, (int32_t)wd, path, mask);
	return wd;
}

/* Its entry is freed (its path stays in the pool, which only grows: a program that adds more than
 * 64 KiB of paths in all has its later watches untracked) */
long rt_sys_inotify_rm_watch(long fd, long wd)
{
	long r = rt_syscall2(__NR_inotify_rm_watch, fd, wd);
	for (int i = 0; !r && i < rt_nwatches; i++)
		if (rt_watches[i].fd == fd && rt_watches[i].wd == wd)
			rt_watches[i].wd = -1;
	return r;
}

/*
 * The paths kept for watch number wd, one per call from *i on (start at 0), with their add-time
 * flags (IN_DONT_FOLLOW, IN_ONLYDIR); 0 when there are no more
 */
const char *rt_watch_candidate(int *i, int32_t wd, uint32_t *flags)
{
	for (; *i < rt_nwatches; (*i)++)
		if (rt_watches[*i].wd == wd) {
			*flags = rt_watches[*i].flags;
			return rt_watch_paths + rt_watches[(*i)++].at;
		}
	return 0;
}
