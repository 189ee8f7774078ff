/*
 * The carried objects at run time. ld.so opens a library by name; when the name is a carried
 * object's and the open comes from ld.so itself, the runtime opens the relinked file instead and
 * remembers the descriptor as a window onto the object's bytes: reads, seeks, stat and mmap on it
 * are shifted to the object's place in the file, so ld.so maps the patched copy, page-shared with
 * every other process of the same relinked file. The descriptor is the program's own number, as
 * the original open would have given it; ld.so closes it when the object is mapped.
 */
#include "loader/loader.h"

uint64_t rt_carried_bias[CKPT_CARRIED_MAX];

/* A descriptor ld.so holds on a carried object */
struct rt_window { long fd; uint32_t object; uint64_t pos; };
#define RT_MAX_WINDOWS	16
static struct rt_window rt_windows[RT_MAX_WINDOWS];
static int rt_nwindows;

/* Calls that reach the dispatcher only while a window is open (rt_loader_route) */
static const uint16_t rt_window_calls[] = {
	__NR_read, __NR_pread64, __NR_lseek, __NR_fstat, __NR_newfstatat, __NR_close, __NR_dup2, __NR_dup3,
};
/* Calls that always do in a dynamic program: opens (ld.so's), mappings (slots; code not carried) */
static const uint16_t rt_loader_calls[] = { __NR_open, __NR_openat, __NR_mmap, __NR_mprotect };
static uint8_t rt_routed[RT_NR_MAX];	/* the classes this file set, to be able to clear its own */

const struct ckpt_carried *rt_carried(uint32_t i)
{
	return (const struct ckpt_carried *)(rt_config.carried + rt_load_bias) + i;
}

long rt_open_self(int cloexec)
{
	return rt_syscall4(__NR_openat, AT_FDCWD, (long)"/proc/self/exe", O_RDONLY | (cloexec ? O_CLOEXEC : 0), 0);
}

/* The slot every trampoline of object i calls through: the shim's address */
void rt_fill_slot(uint32_t i)
{
	*(uint64_t *)(rt_carried_bias[i] + rt_carried(i)->slot) = (uint64_t)rt_shim_entry;
}

static void rt_route(const uint16_t *calls, size_t n, int on)
{
	for (size_t i = 0; i < n; i++) {
		uint16_t nr = calls[i];
		if (on && !rt_syscall_class[nr]) {
			rt_syscall_class[nr] = RT_CLASS_DISPATCH;
			rt_routed[nr] = 1;
		} else if (!on && rt_routed[nr]) {
			rt_syscall_class[nr] = 0;
			rt_routed[nr] = 0;
		}
	}
}

void rt_loader_route(void)
{
	rt_route(rt_loader_calls, sizeof rt_loader_calls / sizeof rt_loader_calls[0], 1);
}

static void rt_route_windows(void)
{
	rt_route(rt_window_calls, sizeof rt_window_calls / sizeof rt_window_calls[0], rt_nwindows > 0);
}

static int rt_in_object(uint32_t i, uint64_t a)
{
	const struct ckpt_carried *co = rt_carried(i);
	uint64_t lo = rt_carried_bias[i] + co->first_vaddr;
	return rt_carried_bias[i] && a >= lo && a - lo < co->span;
}

/* ld.so's own calls: through its trampolines or at its sites, both inside its mapping */
static int rt_from_interp(const struct rt_ctx *c)
{
	return rt_in_object(0, c->rip);
}

static const char *rt_base_name(const char *path)
{
	const char *b = path;
	for (const char *s = path; *s; s++)
		if (*s == '/')
			b = s + 1;
	return b;
}

static int rt_has_slash(const char *s)
{
	for (; *s; s++)
		if (*s == '/')
			return 1;
	return 0;
}

/*
 * Which carried object ld.so is asking for; -1 for none. Each object is recorded by the name ld.so
 * asks for and by the path it was found at on the relink machine. A path equal to either is that
 * object: a dlopen by path (perl's auto/List/Util/Util.so and auto/Hash/Util/Util.so share a file
 * name, so --with objects are known by path alone). Otherwise ld.so is searching directories for a
 * DT_NEEDED name without a slash, in whatever directory its search has reached: the file name
 * decides. The glibc-hwcaps subdirectories are left to the file system, where the original's
 * search goes on past them too, so that ld.so records the same path as the original.
 */
static long rt_match(const char *path)
{
	for (uint32_t i = 1; i < rt_config.carried_count; i++) {
		const char *n = (const char *)(rt_carried(i)->names + rt_load_bias);
		if (rt_streq(n, path) || rt_streq(n + rt_strlen(n) + 1, path))
			return i;
	}
	for (const char *s = path; *s; s++)
		if (rt_starts_with(s, "/glibc-hwcaps/"))
			return -1;
	const char *name = rt_base_name(path);
	for (uint32_t i = 1; i < rt_config.carried_count; i++) {
		const char *n = (const char *)(rt_carried(i)->names + rt_load_bias);
		if (!rt_has_slash(n) && (rt_streq(n, name) || rt_streq(rt_base_name(n + rt_strlen(n) + 1), name)))
			return i;
	}
	return -1;
}

static struct rt_window *rt_window(long fd)
{
	for (int i = 0; i < rt_nwindows; i++)
		if (rt_windows[i].fd == fd)
			return &rt_windows[i];
	return 0;
}

static void rt_forget(long fd)
{
	struct rt_window *w = rt_window(fd);
	if (!w)
		return;
	*w = rt_windows[--rt_nwindows];
	rt_route_windows();
}

static int rt_open(const struct rt_ctx *c, const char *path, long flags, long *result)
{
	if (!rt_from_interp(c) || (flags & O_ACCMODE) != O_RDONLY || rt_nwindows == RT_MAX_WINDOWS)
		return 0;
	long object = rt_match(path);
	if (object < 0)
		return 0;
	long fd = rt_open_self(flags & O_CLOEXEC);
	if (fd < 0)
		return 0;	/* no /proc: the file system's copy, if any, as without the runtime */
	rt_windows[rt_nwindows++] = (struct rt_window){ fd, (uint32_t)object, 0 };
	rt_route_windows();
	*result = fd;
	return 1;
}

/* Bytes of the object from `pos`: never past its end, so that it reads as a file of its own */
static long rt_window_read(struct rt_window *w, void *buf, uint64_t n, uint64_t pos)
{
	const struct ckpt_carried *co = rt_carried(w->object);
	if (pos >= co->file_size)
		return 0;
	if (n > co->file_size - pos)
		n = co->file_size - pos;
	return rt_syscall4(__NR_pread64, w->fd, (long)buf, (long)n, (long)(co->file_offset + pos));
}

static long rt_window_seek(struct rt_window *w, long off, long whence)
{
	uint64_t from = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? w->pos : rt_carried(w->object)->file_size;
	if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END)
		return -EINVAL;
	if ((long)(from + off) < 0)
		return -EINVAL;
	return (long)(w->pos = from + off);
}

/* The relinked file's stat, made the object's: its size, and an inode number of its own (ld.so
 * takes two objects with one st_dev/st_ino for the same file, and would load only one) */
static long rt_window_stat(struct rt_window *w, struct rt_stat *st)
{
	long r = rt_syscall2(__NR_fstat, w->fd, (long)st);
	if (r < 0)
		return r;
	st->size = (int64_t)rt_carried(w->object)->file_size;
	st->blocks = (st->size + 511) / 512;
	st->ino ^= (uint64_t)(w->object + 1) << 48;
	return 0;
}

/*
 * The code area after object i's segments, which ld.so never sees (its program headers are the
 * original's), and the slot's page; `fixed` says the room there is already the object's.
 */
void rt_map_area(long fd, uint32_t i, int fixed)
{
	const struct ckpt_carried *co = rt_carried(i);
	uint64_t bias = rt_carried_bias[i];
	long how = MAP_PRIVATE | (fixed ? MAP_FIXED : MAP_FIXED_NOREPLACE);
	if ((co->area_size &&
	     rt_syscall6(__NR_mmap, (long)(bias + co->area), (long)co->area_size, PROT_READ | PROT_EXEC, how, fd,
			 (long)(co->file_offset + co->area)) < 0) ||
	    rt_syscall6(__NR_mmap, (long)(bias + co->slot), 4096, PROT_READ | PROT_WRITE, how, fd,
			(long)(co->file_offset + co->slot)) < 0)
		rt_die("ckpt runtime: no room for a carried library's trampolines after it\n");
	rt_fill_slot(i);
}

/*
 * A mapping of a window: shifted to the object's bytes. ld.so's first mapping of an object (the
 * first segment's offset, the whole span) tells where it is loaded, and is made long enough to
 * hold the code area too, which is mapped right away.
 */
static long rt_window_mmap(struct rt_window *w, const struct rt_ctx *c)
{
	const struct ckpt_carried *co = rt_carried(w->object);
	uint64_t off = c->r9, len = c->rsi;
	int first = off == co->first_offset, fixed = (c->r10 & MAP_FIXED) != 0;
	if (first && !fixed && len < co->span)
		len = co->span;
	long r = rt_syscall6(__NR_mmap, (long)c->rdi, (long)len, (long)c->rdx, (long)c->r10, w->fd, (long)(co->file_offset + off));
	if (r < 0 || !first)
		return r;
	rt_carried_bias[w->object] = (uint64_t)r - co->first_vaddr;
	rt_map_area(w->fd, w->object, !fixed);
	return r;
}

/* Executable code the rewriter never saw (a library not carried, JIT): the SUD net watches it */
static void rt_code_not_carried(uint64_t addr, uint64_t len)
{
	if (rt_sud_on)
		return;
	for (uint32_t i = 0; i < rt_config.carried_count; i++)
		if (rt_in_object(i, addr) && rt_in_object(i, addr + len - 1))
			return;
	rt_sud_on = 1;
	rt_arm_sud();
}

/* After a mapping call the loader did not answer, made by the file layer or the kernel */
void rt_loader_after(const struct rt_ctx *c, long nr, long result)
{
	if (rt_config.carried_count && (nr == __NR_mmap || nr == __NR_mprotect) && result >= 0 && (c->rdx & PROT_EXEC))
		rt_code_not_carried(nr == __NR_mmap ? (uint64_t)result : c->rdi, c->rsi ? c->rsi : 1);
}

static int rt_window_call(struct rt_window *w, const struct rt_ctx *c, long nr, long *result)
{
	switch (nr) {
	case __NR_read: {
		long r = rt_window_read(w, (void *)c->rsi, c->rdx, w->pos);
		if (r > 0)
			w->pos += (uint64_t)r;
		*result = r;
		return 1;
	}
	case __NR_pread64:
		*result = (long)c->r10 < 0 ? -EINVAL : rt_window_read(w, (void *)c->rsi, c->rdx, c->r10);
		return 1;
	case __NR_lseek:
		*result = rt_window_seek(w, (long)c->rsi, (long)c->rdx);
		return 1;
	case __NR_fstat:
		*result = rt_window_stat(w, (struct rt_stat *)c->rsi);
		return 1;
	case __NR_newfstatat:
		if (!(c->r10 & AT_EMPTY_PATH) || *(const char *)c->rsi)
			return 0;
		*result = rt_window_stat(w, (struct rt_stat *)c->rdx);
		return 1;
	case __NR_close:
		*result = rt_syscall1(nr, w->fd);
		rt_forget(w->fd);
		return 1;
	}
	return 0;
}

/* The loader's share of the dispatcher: 1 and *result when it answered the call */
int rt_loader_call(const struct rt_ctx *c, long nr, long *result)
{
	if (!rt_config.carried_count)
		return 0;
	switch (nr) {
	case __NR_open:
		return rt_open(c, (const char *)c->rdi, (long)c->rsi, result);
	case __NR_openat:
		return rt_open(c, (const char *)c->rsi, (long)c->rdx, result);
	case __NR_mmap: {
		struct rt_window *w = (c->r10 & MAP_ANONYMOUS) ? 0 : rt_window((long)c->r8);
		if (!w)
			return 0;
		*result = rt_window_mmap(w, c);
		return 1;
	}
	case __NR_dup2:
	case __NR_dup3:
		if (rt_window((long)c->rsi) && c->rsi != c->rdi)
			rt_forget((long)c->rsi);	/* the window's descriptor is replaced */
		return 0;
	}
	struct rt_window *w = rt_nwindows ? rt_window((long)c->rdi) : 0;
	return w ? rt_window_call(w, c, nr, result) : 0;
}

/* An int3 guard inside a carried object's patched window: where its trampoline resumes; 0: none */
uint64_t rt_loader_redirect(uint64_t at)
{
	for (uint32_t i = 0; i < rt_config.carried_count; i++) {
		if (!rt_in_object(i, at))
			continue;
		const struct ckpt_carried *co = rt_carried(i);
		const struct ckpt_redirect *r = (const void *)(rt_carried_bias[i] + co->redirects);
		uint64_t from = at - rt_carried_bias[i];
		uint32_t lo = 0, hi = co->redirect_count;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (r[mid].from == from)
				return r[mid].to + rt_carried_bias[i];
			if (r[mid].from < from)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return 0;
}
