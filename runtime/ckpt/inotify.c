/*
 * inotify instances: every watch, with its number and mask, re-added by path at restart. The
 * kernel lists each watch's number, inode and mask (/proc/self/fdinfo); its path comes from what
 * the runtime kept when the program added it (sys/inotify.c), and must still name that inode.
 * Refused at checkpoint (the previous image kept): a watch whose path is not known or now names
 * another file, and events not yet read (they would be lost: looked for before the checkpoint
 * makes its temporary image, since that is an event too; one that comes in the few moments
 * between is lost). At restart a watch whose path cannot
 * be watched refuses the image.
 */
#include <linux/inotify.h>
#include "ckpt/save.h"
#include "ckpt/restore.h"

/* ---- the checkpoint's side ---- */

struct rt_kwatch { uint64_t wd, ino, sdev, mask; };

/* One "inotify wd:1 ino:3f7e8 sdev:fe00000 mask:100 ..." line (all hexadecimal); 1 when it is one */
static int rt_parse_watch(const char *line, struct rt_kwatch *k)
{
	const char *keys[] = { "inotify wd:", "ino:", "sdev:", "mask:" };
	uint64_t *out[] = { &k->wd, &k->ino, &k->sdev, &k->mask };
	if (!rt_starts_with(line, keys[0]))
		return 0;
	const char *s = line;
	for (int i = 0; i < 4; i++) {
		if (!(s = rt_in_line(s, keys[i])))
			return 0;
		s = rt_parse_number(s, 16, out[i]);
	}
	return 1;
}

/* The kernel's s_dev (major << 20 | minor), as stat encodes a device number */
static uint64_t rt_stat_dev(uint64_t sdev)
{
	uint64_t major = sdev >> 20, minor = sdev & 0xfffff;
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffULL) << 12);
}

/* The kept path that names the watched inode now, or 0 */
static const char *rt_path_of_watch(const struct rt_kwatch *k, uint32_t *flags)
{
	int cursor = 0;
	for (const char *path; (path = rt_watch_candidate(&cursor, (int32_t)k->wd, flags));) {
		struct rt_stat st;
		int at = *flags & IN_DONT_FOLLOW ? AT_SYMLINK_NOFOLLOW : 0;
		if (rt_syscall4(__NR_newfstatat, AT_FDCWD, (long)path, (long)&st, at) == 0 &&
		    st.ino == k->ino && st.dev == rt_stat_dev(k->sdev))
			return path;
	}
	return 0;
}

static int rt_save_watches(struct rt_ckpt_work *w, long fd, unsigned char *p, uint32_t count)
{
	uint32_t i = 0;
	struct rt_kwatch k;
	for (const char *line = w->fdinfo; *line && i < count; line = rt_next_line(line)) {
		uint32_t flags = 0;
		if (!rt_parse_watch(line, &k))
			continue;
		const char *path = rt_path_of_watch(&k, &flags);
		if (!path)
			return rt_refuse_descriptor(w, fd, "inotify", "a watch's path is not known or now names another file");
		size_t len = rt_strlen(path) + 1;
		unsigned char *at = rt_record_grow(w, p, len);
		if (!at)
			return RT_SAVE_FULL;
		rt_memcpy(at, path, len);
		unsigned char *e = p + CKPT_RIN_SIZE + i++ * CKPT_INOTIFY_ENTRY_SIZE;
		*(uint32_t *)(e + CKPT_INOTIFY_WD) = (uint32_t)k.wd;
		*(uint32_t *)(e + CKPT_INOTIFY_MASK) = (uint32_t)k.mask | flags;
		*(uint32_t *)(e + CKPT_INOTIFY_PATH_AT) = (uint32_t)(at - p);
	}
	return i == count ? 0 : rt_refuse_descriptor(w, fd, "inotify", "its watches changed while they were read");
}

/* Events not yet read were refused before the checkpoint made its temporary image (rt_check_unread_events) */
int rt_save_inotify(struct rt_ckpt_work *w, long fd)
{
	struct rt_kwatch k;
	uint32_t count = 0;
	if (rt_read_fdinfo(w, fd) < 0)
		return rt_refuse_descriptor(w, fd, "inotify", "its watches cannot be read");
	for (const char *line = w->fdinfo; *line; line = rt_next_line(line))
		count += (uint32_t)rt_parse_watch(line, &k);
	unsigned char *p = rt_fd_record(w, CKPT_REC_INOTIFY, CKPT_RIN_SIZE + (size_t)count * CKPT_INOTIFY_ENTRY_SIZE, fd);
	if (!p)
		return RT_SAVE_FULL;
	*(uint32_t *)(p + CKPT_RIN_COUNT) = count;
	int r = rt_save_watches(w, fd, p, count);
	if (!r)
		rt_seal(p);
	return r;
}

static int rt_refuse_unread(void *arg, long fd)
{
	struct rt_ckpt_work *w = arg;
	char link[32], proc[32];
	int unread = 0;
	long n = rt_syscall4(__NR_readlinkat, AT_FDCWD, (long)rt_fd_path(proc, fd), (long)link, sizeof link - 1);
	if (n != RT_LITERAL_LEN("anon_inode:inotify") || rt_memcmp(link, "anon_inode:inotify", (size_t)n))
		return 0;
	if (rt_syscall3(__NR_ioctl, fd, FIONREAD, (long)&unread) < 0 || unread)
		return rt_refuse_descriptor(w, fd, "inotify", "it has events not yet read, which would be lost");
	return 0;
}

/*
 * Before the checkpoint makes its temporary image, whose creation is itself an event for a program
 * watching that directory: events the program has not read would be lost, so they refuse the
 * checkpoint. Returns 0, or -ENOTRECOVERABLE when refused (said on stderr).
 */
long rt_check_unread_events(struct rt_ckpt_work *w)
{
	return rt_each_fd(w->scanbuf, sizeof w->scanbuf, rt_refuse_unread, w) == RT_SAVE_REFUSED ? -ENOTRECOVERABLE : 0;
}

/* ---- the restart's side ---- */

/*
 * A watch at its number: the kernel gives the next number after the last it gave, so the path is
 * added and removed again until the number comes up. Each removal queues an IN_IGNORED event,
 * drained once the instance is made.
 */
static void rt_add_watch(const struct rt_image *im, uint32_t fd, long ifd, const unsigned char *p, const unsigned char *e)
{
	const char *path = (const char *)p + u32at(e, CKPT_INOTIFY_PATH_AT);
	long want = u32at(e, CKPT_INOTIFY_WD);
	for (long tries = 0; tries <= CKPT_INOTIFY_MAX_SKIP; tries++) {
		long wd = rt_syscall3(__NR_inotify_add_watch, ifd, (long)path, u32at(e, CKPT_INOTIFY_MASK));
		if (wd == want)
			return;
		if (wd < 0)
			rt_refuse_kobject(im, fd, "inotify", "a watched path cannot be watched here");
		if (wd > want)
			break;
		rt_syscall2(__NR_inotify_rm_watch, ifd, wd);
	}
	rt_refuse_kobject(im, fd, "inotify", "a watch cannot be given its number again");
}

/* The next entry by watch number after `after`, or 0 */
static const unsigned char *rt_next_watch(const unsigned char *p, uint32_t count, long after)
{
	const unsigned char *best = 0;
	for (uint32_t i = 0; i < count; i++) {
		const unsigned char *e = p + CKPT_RIN_SIZE + i * CKPT_INOTIFY_ENTRY_SIZE;
		if ((long)u32at(e, CKPT_INOTIFY_WD) > after && (!best || u32at(e, CKPT_INOTIFY_WD) < u32at(best, CKPT_INOTIFY_WD)))
			best = e;
	}
	return best;
}

static int rt_paths_inside(const unsigned char *p, uint32_t size, uint32_t count)
{
	if (count > (size - CKPT_RIN_SIZE) / CKPT_INOTIFY_ENTRY_SIZE || p[size - 1])
		return 0;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t at = u32at(p + CKPT_RIN_SIZE + i * CKPT_INOTIFY_ENTRY_SIZE, CKPT_INOTIFY_PATH_AT);
		if (at < CKPT_RIN_SIZE + count * CKPT_INOTIFY_ENTRY_SIZE || at >= size)
			return 0;
	}
	return 1;
}

long rt_make_inotify(const struct rt_image *im, uint32_t fd)
{
	uint32_t size;
	const unsigned char *p = rt_find_kobject(im, CKPT_REC_INOTIFY, fd, 0, CKPT_RIN_SIZE, &size);
	if (!p)
		return RT_OPEN_NOT_MINE;
	uint32_t count = u32at(p, CKPT_RIN_COUNT);
	if (!rt_paths_inside(p, size, count))
		rt_refuse_kobject(im, fd, "inotify", "its record is inconsistent");
	long ifd = rt_syscall1(__NR_inotify_init1, IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0)
		rt_refuse_kobject(im, fd, "inotify", "it cannot be made again");
	long last = 0;
	for (const unsigned char *e; (e = rt_next_watch(p, count, last)); last = u32at(e, CKPT_INOTIFY_WD))
		rt_add_watch(im, fd, ifd, p, e);
	static char drain[4096];
	while (rt_syscall3(__NR_read, ifd, (long)drain, sizeof drain) > 0)
		;
	return ifd;
}
