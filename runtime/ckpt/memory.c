/*
 * Memory regions. Saved: every mapping of /proc/self/maps but the vsyscall page and the
 * checkpoint's own scratch mapping, one region record each, with the pages of readable private
 * memory that exist (pagemap) and are not its file's own, as extents (written by the writer).
 * Pages not stored are zeros, or the file's: the relinked binary's (whatever path it has at
 * restart) or another file's, which must then be there, unchanged. Restored: checked against the
 * new process's mappings first (the vDSO layout, a free holding address for the restorer), the
 * region files opened, then laid out in the restorer's plan as what to unmap, the vDSO to move,
 * and every region to map back, from its file when it can be, with its stored pages over it.
 *
 * MAP_SHARED: a file's mapping stores nothing and is mapped shared from the file at its path
 * again (its contents are the file's, as for a file opened read-write); shared anonymous memory
 * (a process's own) is stored whole and mapped shared and anonymous; System V shared memory is
 * shm.c's. Any other shared mapping (of a file deleted or replaced since, a memfd's, an AIO ring)
 * cannot be shared again: a warning at the checkpoint, and the restart refuses the image.
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

#define RT_MAX_MAPS	2048
#define RT_PAGE		4096UL
#define RT_PM_PRESENT	(1ULL << 63)	/* /proc/PID/pagemap (Documentation/admin-guide/mm/pagemap.rst) */
#define RT_PM_SWAPPED	(1ULL << 62)
#define RT_PM_FILE	(1ULL << 61)	/* a file's page (or shared anonymous): never written in a private mapping */
#define RT_PM_GUARD	(1ULL << 58)	/* a guard page (MADV_GUARD_INSTALL, Linux 6.13): touching it faults */

/* The extents of one region record as they are appended: adjacent pages extend the last one */
struct rt_extents {
	struct rt_ckpt_work *w;
	unsigned char *payload;
	uint32_t at;			/* payload offset of the first extent */
	uint64_t count, pages;		/* extents, and pages they hold */
	unsigned char *last;
	uint64_t shift;			/* pages from the region's start to the range being scanned */
};

static int rt_extent_add(struct rt_extents *x, uint64_t first, uint64_t pages)
{
	if (x->last && *(uint64_t *)(x->last + CKPT_RE_FIRST) + *(uint64_t *)(x->last + CKPT_RE_COUNT) == first) {
		*(uint64_t *)(x->last + CKPT_RE_COUNT) += pages;
	} else {
		unsigned char *e = rt_record_grow(x->w, x->payload, CKPT_RE_SIZE);
		if (!e)
			return -1;
		*(uint64_t *)(e + CKPT_RE_FIRST) = first;
		*(uint64_t *)(e + CKPT_RE_COUNT) = pages;
		x->last = e;
		x->count++;
	}
	x->pages += pages;
	return 0;
}

static void rt_extents_clear(struct rt_extents *x)
{
	rt_record_cut(x->w, x->payload, x->at);
	x->count = x->pages = 0;
	x->last = 0;
}

/*
 * The pages of m that exist: present or swapped, and in a region whose untouched pages come from
 * its file, not that file's own pages; with `whole`, every page. Guard pages are never stored (the
 * writer would fault on them): they are noted, to be installed again. Pagemap is read
 * RT_PAGEMAP_BATCH entries at a time.
 */
static int rt_add_existing_pages(struct rt_extents *x, const struct rt_map *m, int from_file, int whole)
{
	struct rt_ckpt_work *w = x->w;
	uint64_t pages = (m->end - m->start) / RT_PAGE, base = m->start / RT_PAGE;
	for (uint64_t done = 0; done < pages;) {
		uint64_t n = pages - done < RT_PAGEMAP_BATCH ? pages - done : RT_PAGEMAP_BATCH;
		long got = rt_syscall4(__NR_pread64, w->pagemap_fd, (long)w->pagemap, (long)(n * 8), (long)((base + done) * 8));
		if (got != (long)(n * 8))
			return -EIO;
		for (uint64_t i = 0; i < n; i++) {
			uint64_t e = w->pagemap[i];
			if (e & RT_PM_GUARD) {
				if (rt_note_guard(w, m->start + (done + i) * RT_PAGE))
					return -ENOMEM;
			} else if ((whole || ((e & (RT_PM_PRESENT | RT_PM_SWAPPED)) && !(from_file && (e & RT_PM_FILE)))) &&
				   rt_extent_add(x, x->shift + done + i, 1)) {
				return -ENOMEM;
			}
		}
		done += n;
	}
	return 0;
}

/*
 * Where the pages a region does not store come from at restart: the relinked binary, another
 * file that is still there and covers the region, or nothing (zeros). A file mapping whose file is
 * gone or replaced has no source: it is stored whole.
 */
/* The descriptor of a file whose contents the image keeps (fdata.c) that a private region maps; -1 when none */
static long rt_kept_file_of(const struct rt_ckpt_work *w, const struct rt_map *m)
{
	if (!m->inode || m->shared || !rt_is_deleted(m->path))
		return -1;
	for (int i = 0; i < w->nunlinked; i++)
		if (w->unlinked[i].dev == m->dev && w->unlinked[i].ino == m->inode)
			return w->unlinked[i].fd;
	return -1;
}

static uint32_t rt_region_source(const struct rt_ckpt_work *w, const struct rt_map *m, struct rt_stat *st)
{
	long kept = rt_kept_file_of(w, m);
	if (kept >= 0)	/* its untouched pages are the kept file's, made again at a restart */
		return rt_syscall2(__NR_fstat, kept, (long)st) == 0 ? CKPT_REGION_FILE : 0;
	if (!m->inode || m->shared)
		return 0;
	if (m->dev == w->exe_dev && m->inode == w->exe_ino)
		return CKPT_REGION_FILE | CKPT_REGION_BINARY;
	if (m->path[0] != '/' || rt_syscall4(__NR_newfstatat, AT_FDCWD, (long)m->path, (long)st, 0) < 0 ||
	    (st->mode & S_IFMT) != S_IFREG || st->dev != m->dev || st->ino != m->inode ||
	    (uint64_t)st->size + RT_PAGE - 1 < m->offset + (m->end - m->start))
		return 0;
	return CKPT_REGION_FILE;
}

/* An incremental image's region: the pages written since the parent are stored, the rest it
 * had are inherited (CKPT_REC_INHERIT, made from w->inherit once the region record is sealed) */
struct rt_incremental {
	struct rt_extents *x;
	uint64_t region, cursor;	/* the region's start; the end of the last run seen */
};

static int rt_inherit(struct rt_ckpt_work *w, uint64_t region, uint64_t start, uint64_t end)
{
	if (start >= end)
		return 0;
	if (w->ninherit == RT_MAX_INHERIT)
		return -1;
	w->inherit[w->ninherit][0] = (start - region) / RT_PAGE;
	w->inherit[w->ninherit][1] = (end - start) / RT_PAGE;
	w->ninherit++;
	return 0;
}

static int rt_add_written(void *arg, uint64_t start, uint64_t end)
{
	struct rt_incremental *inc = arg;
	if (rt_inherit(inc->x->w, inc->region, inc->cursor, start))
		return -1;
	inc->cursor = end;
	return rt_extent_add(inc->x, (start - inc->region) / RT_PAGE, (end - start) / RT_PAGE);
}

/*
 * Stretch by stretch: where the tracking vouches for the pages, the written ones (track.c), the
 * others inherited; elsewhere (memory mapped or changed since the parent) the pages that exist
 */
static int rt_add_incremental(struct rt_extents *x, const struct rt_map *m, int from_file)
{
	struct rt_incremental inc = { x, m->start, 0 };
	for (uint64_t at = m->start; at < m->end;) {
		int tracked;
		uint64_t end = rt_track_stretch(at, m->end, &tracked);
		struct rt_map part = *m;
		part.start = at;
		part.end = end;
		x->shift = (at - m->start) / RT_PAGE;
		inc.cursor = at;
		if (tracked ? rt_track_written(at, end, rt_add_written, &inc) || rt_inherit(x->w, m->start, inc.cursor, end)
			    : rt_add_existing_pages(x, &part, from_file, 0))
			return -1;
		at = end;
	}
	x->shift = 0;
	return 0;
}

/* Which pages of a readable region are stored; on any failure, all of them. Memory a restart
 * mapped from its image is stored whole: the pages not yet touched are the image's, not zeros. */
static int rt_choose_pages(struct rt_extents *x, const struct rt_map *m, uint32_t source, int from_image)
{
	int scan = x->w->pagemap_fd >= 0 && !m->shared && !from_image, sparse = scan && (source || !m->inode);
	if (sparse && x->w->incremental && (m->prot & PROT_WRITE)) {
		if (rt_add_incremental(x, m, source != 0) == 0)
			return 0;
		rt_extents_clear(x);	/* stored as a full image would: more bytes, never a page missed */
		x->w->ninherit = 0;
		x->shift = 0;
	}
	if (scan && rt_add_existing_pages(x, m, source != 0, !sparse) == 0)
		return 0;
	rt_extents_clear(x);
	return rt_extent_add(x, 0, (m->end - m->start) / RT_PAGE);
}

/* MAP_SHARED|MAP_ANONYMOUS memory, as /proc/self/maps names it */
static int rt_is_shared_anonymous(const char *path)
{
	return rt_streq(path, "/dev/zero (deleted)") || rt_streq(path, "/anon_hugepage (deleted)") || !path[0];
}

/* The runtime's own table of shared remote-file offsets (remote/cursors.c): restored private, and
 * shared again through a new memfd at the process's next fork */
static int rt_is_cursor_table(const char *path)
{
	return rt_starts_with(path, "/memfd:ckpt-cursors");
}

/* System V shared memory: shm.c's */
static int rt_is_segment(const char *path)
{
	return rt_starts_with(path, "/SYSV");
}

/* A MAP_SHARED region that is not a file's still at its path: shared again only when it is
 * anonymous, or a System V segment (shm.c) */
static int rt_cannot_share(const char *path)
{
	return !rt_is_shared_anonymous(path) && !rt_is_cursor_table(path) && !rt_is_segment(path);
}

/*
 * A MAP_SHARED region the program cannot write (glibc maps its gconv cache so): stored whole and
 * restored as a private copy, as a file's pages it only reads would be. The program could see no
 * difference but a later change of the file by another process; and the image restarts where the
 * file is not (a carried program on a machine without the system's data files).
 */
static int rt_copied_shared(uint32_t prot)
{
	return !(prot & 2);	/* PROT_WRITE */
}

/* A writable shared mapping of the file still at its path: CKPT_REGION_SHARED_FILE, with st that file's */
static uint32_t rt_shared_source(const struct rt_map *m, struct rt_stat *st)
{
	if (!m->shared || rt_copied_shared(m->prot) || !m->inode || m->path[0] != '/' ||
	    rt_syscall4(__NR_newfstatat, AT_FDCWD, (long)m->path, (long)st, 0) < 0 ||
	    (st->mode & S_IFMT) != S_IFREG || st->dev != m->dev || st->ino != m->inode)
		return 0;
	return CKPT_REGION_SHARED_FILE;
}

/* "0x" and the address in 12 hex digits, as /proc/self/maps shows it */
static char *rt_address_text(char out[24], uint64_t address)
{
	char *e = rt_put(out, "0x");
	for (int shift = 44; shift >= 0; shift -= 4)
		*e++ = "0123456789abcdef"[(address >> shift) & 15];
	*e = 0;
	return out;
}

static void rt_warn_unshareable(const struct rt_map *m)
{
	char at[24];
	rt_address_text(at, m->start);
	rt_warn("MAP_SHARED region at", at, "cannot be shared again (its file is gone or replaced, or it is a memfd's "
		"or the kernel's): a restart will refuse this image (docs/limits.md)");
	rt_note_unrestorable();
}

/* The pages of the region at `start` its parent image holds: the record after the region's */
static int rt_save_inherited(struct rt_ckpt_work *w, uint64_t start)
{
	size_t size = CKPT_INHERIT_EXTENTS + (size_t)w->ninherit * CKPT_RE_SIZE;
	unsigned char *p = rt_record(w, CKPT_REC_INHERIT, 0, size);
	w->ninherit = 0;
	if (!p)
		return -1;
	*(uint64_t *)p = start;
	rt_memcpy(p + CKPT_INHERIT_EXTENTS, w->inherit, size - CKPT_INHERIT_EXTENTS);
	rt_seal(p);
	return 0;
}

static int rt_save_region(struct rt_ckpt_work *w, const struct rt_map *m)
{
	static struct rt_map anonymous;	/* one thread checkpoints */
	int from_image = rt_image_backed(m);
	if (from_image) {	/* saved as the anonymous memory it was, never as the image file's */
		anonymous = *m;
		anonymous.dev = anonymous.inode = anonymous.offset = 0;
		anonymous.path[0] = 0;
		m = &anonymous;
	}
	uint32_t role = rt_map_role(m);
	struct rt_stat st;
	uint32_t shared_file = role == CKPT_ROLE_MEMORY ? rt_shared_source(m, &st) : 0;
	int readable = role == CKPT_ROLE_MEMORY && (m->prot & 1) && !shared_file;
	uint32_t source = role == CKPT_ROLE_MEMORY && !shared_file ? rt_region_source(w, m, &st) : 0;
	size_t plen = rt_strlen(m->path) + 1;
	uint32_t at = (uint32_t)((CKPT_RG_SIZE + plen + 7) & ~7UL);
	if (m->shared && !shared_file && !rt_copied_shared(m->prot) && rt_cannot_share(m->path))
		rt_warn_unshareable(m);
	unsigned char *p = rt_record(w, CKPT_REC_REGION, source | shared_file | (m->shared ? CKPT_REGION_SHARED : 0), at);
	if (!p)
		return -1;
	*(uint64_t *)(p + CKPT_RG_START) = m->start;
	*(uint64_t *)(p + CKPT_RG_END) = m->end;
	*(uint64_t *)(p + CKPT_RG_OFFSET) = m->offset;
	*(uint32_t *)(p + CKPT_RG_PROT) = m->prot;
	*(uint32_t *)(p + CKPT_RG_ROLE) = role;
	*(uint32_t *)(p + CKPT_RG_ADVICE) = rt_advice_of(w, m->start, m->end);
	if (source == CKPT_REGION_FILE || shared_file) {	/* the binary is known by its id instead */
		*(uint64_t *)(p + CKPT_RG_FILE_SIZE) = (uint64_t)st.size;
		*(uint64_t *)(p + CKPT_RG_MTIME_SEC) = st.mtime_sec;
		*(uint32_t *)(p + CKPT_RG_MTIME_NSEC) = (uint32_t)st.mtime_nsec;
	}
	rt_memcpy(p + CKPT_RG_SIZE, m->path, plen);
	struct rt_extents x = { .w = w, .payload = p, .at = at };
	if (readable && rt_choose_pages(&x, m, source, from_image))
		return -1;
	if (x.pages) {
		unsigned char *h = p - CKPT_RH_SIZE;
		*(uint32_t *)(h + CKPT_RH_FLAGS) |= CKPT_REGION_HAS_DATA;
		*(uint64_t *)(h + CKPT_RH_DATA_OFFSET) = w->data_end;	/* made absolute later */
		*(uint64_t *)(h + CKPT_RH_DATA_SIZE) = x.pages * RT_PAGE;
		w->data_end += x.pages * RT_PAGE;
		if (m->shared && rt_snapshot_shared_region(w, p, *(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE)))
			return -1;
	}
	rt_seal(p);	/* the writer adds the contents' checksum and seals the header again */
	return w->ninherit ? rt_save_inherited(w, m->start) : 0;
}

/*
 * The scratch mapping is left out, but the kernel may have merged it with a neighbouring anonymous
 * mapping of the program's into one region: keep the parts of that region outside it.
 */
static int rt_save_outside_scratch(struct rt_ckpt_work *w, const struct rt_map *m)
{
	struct rt_map part = *m;
	if (m->end <= w->scratch_start || m->start >= w->scratch_end)
		return rt_save_region(w, m);
	if (m->start < w->scratch_start) {
		part.end = w->scratch_start;
		if (rt_save_region(w, &part))
			return -1;
	}
	if (m->end > w->scratch_end) {
		part.start = w->scratch_end;
		part.end = m->end;
		part.offset = m->offset + (w->scratch_end - m->start);
		if (rt_save_region(w, &part))
			return -1;
	}
	return 0;
}

static int rt_save_kept_maps(struct rt_ckpt_work *w, long nmaps);

/*
 * Last of the records: a page the checkpoint itself touched for the first time after pagemap was
 * read would be missed (restored as a hole).
 */
int rt_save_memory(struct rt_ckpt_work *w)
{
	struct rt_stat exe;
	int r = 0;
	long n = rt_read_maps(w->maps, RT_MAX_REGIONS, w->maps_text, RT_MAPS_TEXT);
	if (n < 0)
		return -1;
	w->exe_dev = w->exe_ino = 0;
	if (rt_syscall4(__NR_newfstatat, AT_FDCWD, (long)"/proc/thread-self/exe", (long)&exe, 0) == 0)
		w->exe_dev = exe.dev, w->exe_ino = exe.ino;
	rt_read_advice(w);
	w->pagemap_fd = rt_syscall4(__NR_openat, AT_FDCWD, (long)"/proc/thread-self/pagemap", O_RDONLY | O_CLOEXEC, 0);
	for (long i = 0; i < n && !r; i++)
		if (!rt_map_is_vsyscall(&w->maps[i]))
			r = rt_save_outside_scratch(w, &w->maps[i]);
	if (w->pagemap_fd >= 0)
		rt_syscall1(__NR_close, w->pagemap_fd);
	if (!r && w->track)
		rt_track_rearm(w, n);	/* last: nothing of the checkpoint's own is written after it */
	return r ? r : rt_save_shm(w, n) || rt_save_kept_maps(w, n) ? -1 : rt_save_guards(w);
}

/* The regions rt_region_source found mapped from a kept file, with its descriptor */
static int rt_save_kept_maps(struct rt_ckpt_work *w, long nmaps)
{
	unsigned char *p = rt_record(w, CKPT_REC_KEPT_MAPS, 0, 0);
	if (!p)
		return -1;
	for (long i = 0; i < nmaps; i++) {
		long fd = rt_map_role(&w->maps[i]) == CKPT_ROLE_MEMORY ? rt_kept_file_of(w, &w->maps[i]) : -1;
		unsigned char *e = fd < 0 ? 0 : rt_record_grow(w, p, CKPT_KM_SIZE);
		if (fd >= 0 && !e)
			return -1;
		if (e) {
			*(uint64_t *)(e + CKPT_KM_START) = w->maps[i].start;
			*(uint32_t *)(e + CKPT_KM_FD) = (uint32_t)fd;
		}
	}
	rt_seal(p);
	return 0;
}

static struct rt_map rt_current[RT_MAX_MAPS];
static char rt_maps_text[256 * 1024];
static long rt_current_count;

/* The new process's own mappings, read once before anything is checked against them; <0: unreadable */
long rt_collect_maps(void)
{
	rt_current_count = rt_read_maps(rt_current, RT_MAX_MAPS, rt_maps_text, sizeof rt_maps_text);
	return rt_current_count;
}

static void rt_note_kernel_region(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_vdso_check *v = arg;
	uint32_t role = u32at(p, CKPT_RG_ROLE);
	(void)h;
	if (role == CKPT_ROLE_MEMORY || role > CKPT_ROLE_VDSO)
		return;
	v->to[role] = u64at(p, CKPT_RG_START);
	if (v->len[role] != u64at(p, CKPT_RG_END) - u64at(p, CKPT_RG_START))
		v->bad = 1;
}

/* Checks the image's vvar, vclock and vdso have the sizes of the new process's, noting where each goes */
void rt_check_vdso(const struct rt_image *im, struct rt_vdso_check *v)
{
	v->im = im;
	for (long i = 0; i < rt_current_count; i++) {
		uint32_t role = rt_map_role(&rt_current[i]);
		if (role != CKPT_ROLE_MEMORY) {
			v->from[role] = rt_current[i].start;
			v->len[role] = rt_current[i].end - rt_current[i].start;
		}
	}
	rt_each(im, CKPT_REC_REGION, rt_note_kernel_region, v);
	for (int r = 1; r <= 3; r++)
		if (v->len[r] && !v->to[r])
			v->bad = 1;
	if (v->bad)
		rt_refuse(im, "the vDSO layout differs from the kernel the image was made on");
}

/* A holding address free both now and in the image: the restorer lives there */
struct rt_hold_check { uint64_t lo, hi; int clash; };

static void rt_hold_clash(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_hold_check *c = arg;
	(void)h;
	if (u64at(p, CKPT_RG_START) < c->hi && c->lo < u64at(p, CKPT_RG_END))
		c->clash = 1;
}

uint64_t rt_pick_hold(const struct rt_image *im)
{
	for (uint64_t cand = 0x100000000000ULL; cand < 0x700000000000ULL; cand += 0x10000000000ULL) {
		struct rt_hold_check c = { cand, cand + RT_HOLD_SIZE, 0 };
		for (long i = 0; i < rt_current_count; i++)
			if (rt_current[i].start < c.hi && c.lo < rt_current[i].end)
				c.clash = 1;
		rt_each(im, CKPT_REC_REGION, rt_hold_clash, &c);
		if (!c.clash)
			return cand;
	}
	rt_refuse(im, "no free address range for the restorer");
}

/*
 * The files regions are mapped from, opened before anything is torn down (a region whose pages
 * not stored are its file's cannot be restored without it), on numbers above the image's
 * descriptors, and closed by the restorer once everything is mapped.
 */
#define RT_MAX_REGION_FILES	512
static struct {
	const char *path;
	long fd;
	uint32_t flags;		/* O_RDONLY, or O_RDWR for a shared mapping */
	int lent;		/* regions map the program's own descriptor instead (rt_posix_locked_fd) */
	uint64_t size, mtime_sec, mtime_nsec;
} rt_files[RT_MAX_REGION_FILES];
static int rt_nfiles;
static long rt_region_fd[RT_MAX_MAPS];	/* by region record, in image order; -1: anonymous */
#define RT_PLACED	(-2)		/* a System V segment shm.c attached: a remap puts it in place */

static long rt_known_file(const char *path, uint32_t flags)
{
	for (int i = 0; i < rt_nfiles; i++)
		if (rt_streq(rt_files[i].path, path) && rt_files[i].flags == flags)
			return i;
	return -1;
}

static long rt_keep_file(const struct rt_image *im, const char *path, uint32_t flags, long opened);

static long rt_open_file(const struct rt_image *im, const char *path, uint32_t flags)
{
	long known = rt_known_file(path, flags);
	if (known >= 0 || rt_nfiles == RT_MAX_REGION_FILES)
		return known;
	return rt_keep_file(im, path, flags, rt_syscall4(__NR_openat, AT_FDCWD, (long)path, flags | O_CLOEXEC, 0));
}

/* A file just opened (or -1), kept in rt_files under `path` on a number above the image's; its index or -1 */
static long rt_keep_file(const struct rt_image *im, const char *path, uint32_t flags, long opened)
{
	struct rt_stat st;
	if (opened < 0)
		return -1;
	long fd = rt_syscall3(__NR_fcntl, opened, F_DUPFD_CLOEXEC, im->fd + 1);
	rt_syscall1(__NR_close, opened);	/* it may sit on a number the program's descriptors need */
	if (fd < 0)
		return -1;
	if (rt_syscall2(__NR_fstat, fd, (long)&st) < 0 || (st.mode & S_IFMT) != S_IFREG) {
		rt_syscall1(__NR_close, fd);
		return -1;
	}
	rt_files[rt_nfiles].path = path;
	rt_files[rt_nfiles].fd = fd;
	rt_files[rt_nfiles].flags = flags;
	rt_files[rt_nfiles].lent = 0;
	rt_files[rt_nfiles].size = (uint64_t)st.size;
	rt_files[rt_nfiles].mtime_sec = st.mtime_sec;
	rt_files[rt_nfiles].mtime_nsec = st.mtime_nsec;
	return rt_nfiles++;
}

/*
 * A private region of a file removed before the checkpoint that no descriptor kept: its pages are
 * all stored, and a file made at its old path (sparse, as long as its regions need, removed at
 * once) gives the mapping its name back in /proc/self/maps; the regions of one file share it.
 * The old name taken now, or its directory not writable: anonymous memory, with the same bytes.
 */
static long rt_ghost_file(const struct rt_image *im, const char *path, uint64_t end)
{
	char live[RT_PATH_MAX];
	long i = rt_known_file(path, O_RDONLY);
	if (i < 0 && rt_nfiles < RT_MAX_REGION_FILES) {
		rt_live_path(live, path);
		long made = rt_syscall4(__NR_openat, AT_FDCWD, (long)live, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (made >= 0)
			rt_syscall3(__NR_unlinkat, AT_FDCWD, (long)live, 0);
		i = rt_keep_file(im, path, O_RDONLY, made);	/* mapped private: read access is all it needs */
	}
	if (i < 0 || (rt_files[i].size < end && rt_syscall2(__NR_ftruncate, rt_files[i].fd, (long)end) < 0))
		return -1;
	if (rt_files[i].size < end)
		rt_files[i].size = end;
	return i;
}

struct rt_kept_find { uint64_t start; long fd; };

static void rt_match_kept_map(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_kept_find *f = arg;
	for (uint32_t at = 0; at + CKPT_KM_SIZE <= u32at(h, CKPT_RH_PAYLOAD_SIZE); at += CKPT_KM_SIZE)
		if (u64at(p + at, CKPT_KM_START) == f->start)
			f->fd = u32at(p + at, CKPT_KM_FD);
}

/* "/proc/self/fd/N" of the file fdata.c made again for a kept region, in a slot of its own (rt_files
 * keeps the path); 0 when the region is not one */
static const char *rt_kept_path(const struct rt_image *im, const unsigned char *p)
{
	static char paths[RT_MAX_REGION_FILES][32];
	static int used;
	struct rt_kept_find f = { u64at(p, CKPT_RG_START), -1 };
	rt_each(im, CKPT_REC_KEPT_MAPS, rt_match_kept_map, &f);
	long made = f.fd < 0 ? -1 : rt_fdata_made((uint32_t)f.fd);
	if (f.fd >= 0 && made < 0)
		rt_refuse_path(im, "a private mapping of a file the image keeps has no descriptor of that file: ",
			       (const char *)p + CKPT_RG_SIZE);
	if (made < 0 || used == RT_MAX_REGION_FILES)
		return 0;
	rt_fd_path(paths[used], made);
	return paths[used++];
}

/*
 * The file a private region is mapped from again, so that /proc/self/maps names it as before:
 * the binary restarting now for the relinked binary's regions (it may sit at another path), the
 * file fdata.c made again for a kept one, a ghost for a removed one, the recorded path for
 * others; only if it still covers the region (touching a page past its end would be SIGBUS).
 * Returns its index in rt_files, or -1: anonymous.
 */
static long rt_region_file(const struct rt_image *im, const unsigned char *h, const unsigned char *p)
{
	uint32_t flags = u32at(h, CKPT_RH_FLAGS);
	const char *kept = rt_kept_path(im, p);
	if (kept) {
		long i = rt_open_file(im, kept, O_RDONLY);
		return i < 0 || rt_files[i].size + 4095 < u64at(p, CKPT_RG_OFFSET) + (u64at(p, CKPT_RG_END) - u64at(p, CKPT_RG_START)) ? -1 : i;
	}
	const char *path = flags & CKPT_REGION_BINARY ? "/proc/self/exe" : (const char *)p + CKPT_RG_SIZE;
	uint64_t end = u64at(p, CKPT_RG_OFFSET) + (u64at(p, CKPT_RG_END) - u64at(p, CKPT_RG_START));
	if (path[0] != '/' || (flags & CKPT_REGION_SHARED))
		return -1;
	if (rt_is_deleted(path))
		return flags & CKPT_REGION_FILE ? -1 : rt_ghost_file(im, path, end);
	long i = rt_open_file(im, path, O_RDONLY);
	return i < 0 || rt_files[i].size + 4095 < end ? -1 : i;
}

/*
 * The file a MAP_SHARED region is mapped from again, read-write unless the region cannot be made
 * writable; refused when it is gone or now shorter than the part of it the region mapped.
 */
static long rt_shared_region_file(const struct rt_image *im, const unsigned char *p)
{
	const char *path = (const char *)p + CKPT_RG_SIZE;
	uint64_t end = u64at(p, CKPT_RG_OFFSET) + (u64at(p, CKPT_RG_END) - u64at(p, CKPT_RG_START));
	uint64_t had = u64at(p, CKPT_RG_FILE_SIZE);
	long i = rt_open_file(im, path, O_RDWR);
	if (i < 0 && !(u32at(p, CKPT_RG_PROT) & PROT_WRITE))
		i = rt_open_file(im, path, O_RDONLY);
	if (i < 0)
		rt_refuse_path(im, "a file mapped MAP_SHARED cannot be opened again: ", path);
	if (rt_files[i].size < (had < end ? had : end))
		rt_refuse_path(im, "a file mapped MAP_SHARED is shorter than at the checkpoint: ", path);
	return i;
}

/* A file whose pages a region takes is the one it mapped at the checkpoint: same size and mtime */
static int rt_file_unchanged(long i, const unsigned char *p)
{
	return rt_files[i].size == u64at(p, CKPT_RG_FILE_SIZE) && rt_files[i].mtime_sec == u64at(p, CKPT_RG_MTIME_SEC) &&
	       rt_files[i].mtime_nsec == u32at(p, CKPT_RG_MTIME_NSEC);
}

/*
 * A file the program holds a POSIX lock on is mapped from the program's own descriptor: closing
 * one the restart opened would drop the lock (locks.c). The file opened for the checks is closed
 * before the locks are taken.
 */
static long rt_lend_locked(const struct rt_image *im, long i, const unsigned char *p)
{
	int writes = (u32at(p, CKPT_RG_PROT) & PROT_WRITE) && rt_files[i].flags == O_RDWR;
	long fd = rt_posix_locked_fd(im, rt_files[i].path, writes);
	if (fd < 0)
		return rt_files[i].fd;
	rt_files[i].lent = 1;
	return fd;
}

struct rt_region_walk { const struct rt_image *im; long index; uint64_t huge_needed; };

/* The machine's free huge pages of the default size (/proc/meminfo), in bytes, and that size */
static void rt_huge_pages_free(uint64_t *free, uint64_t *size)
{
	static char meminfo[8192];
	const char *s;
	uint64_t pages = 0, kib = 0;
	rt_read_file("/proc/meminfo", meminfo, sizeof meminfo);
	for (s = meminfo; *s; s = rt_next_line(s))
		if (rt_starts_with(s, "HugePages_Free:"))
			rt_parse_number(s + RT_LITERAL_LEN("HugePages_Free:"), 10, &pages);
		else if (rt_starts_with(s, "Hugepagesize:"))
			rt_parse_number(s + RT_LITERAL_LEN("Hugepagesize:"), 10, &kib);
	*size = kib * 1024;
	*free = pages * *size;
}

/* A MAP_HUGETLB region is made again with huge pages, or the image is refused naming it: ordinary
 * pages would change what the program measured or relied on (TLB reach, a hugetlbfs quota) */
static void rt_check_huge_pages(struct rt_region_walk *r, const unsigned char *p)
{
	uint64_t start = u64at(p, CKPT_RG_START), len = u64at(p, CKPT_RG_END) - start, free, size;
	char at[24];
	if (!(u32at(p, CKPT_RG_ADVICE) & CKPT_VM_HUGETLB))
		return;
	rt_huge_pages_free(&free, &size);
	r->huge_needed += len;
	if (!size || start % size || len % size || r->huge_needed > free)
		rt_refuse_path(r->im, "a MAP_HUGETLB region cannot be made again: this machine has too few huge pages of its "
			       "size free (HugePages_Free in /proc/meminfo): ", rt_address_text(at, start));
}

static void rt_open_region(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_region_walk *r = arg;
	uint32_t flags = u32at(h, CKPT_RH_FLAGS);
	const char *path = (const char *)p + CKPT_RG_SIZE;
	long i = -1;
	if (r->index == RT_MAX_MAPS)
		rt_refuse(r->im, "more memory regions than a restart can map");
	rt_check_huge_pages(r, p);
	if ((flags & CKPT_REGION_SHARED) && rt_is_segment(path)) {
		if (!rt_shm_placed(u64at(p, CKPT_RG_START)))
			rt_refuse_path(r->im, "a System V shared memory region has no segment record: ", path);
		rt_region_fd[r->index++] = RT_PLACED;
		return;
	}
	if ((flags & CKPT_REGION_SHARED) && !(flags & CKPT_REGION_SHARED_FILE) && !rt_copied_shared(u32at(p, CKPT_RG_PROT)) &&
	    rt_cannot_share(path))
		rt_refuse_path(r->im, "a MAP_SHARED mapping cannot be shared again (its file was gone or replaced, or it "
			       "is a memfd's or the kernel's): ", path);
	if (flags & CKPT_REGION_SHARED_FILE)
		i = rt_shared_region_file(r->im, p);
	else if (u32at(p, CKPT_RG_ROLE) == CKPT_ROLE_MEMORY)
		i = rt_region_file(r->im, h, p);
	if (i < 0 && (flags & CKPT_REGION_BINARY))
		rt_refuse(r->im, "the restarting binary does not cover a region it mapped");
	if (i < 0 && (flags & CKPT_REGION_FILE))
		rt_refuse_path(r->im, "a file whose pages a memory region holds is gone or shorter: ", path);
	if (i >= 0 && (flags & (CKPT_REGION_FILE | CKPT_REGION_BINARY)) == CKPT_REGION_FILE && !rt_file_unchanged(i, p))
		rt_refuse_path(r->im, "a file whose pages a memory region holds changed since the checkpoint: ", path);
	rt_region_fd[r->index++] = i < 0 ? -1 : rt_lend_locked(r->im, i, p);
}

void rt_prepare_region_files(const struct rt_image *im)
{
	struct rt_region_walk r = { im, 0, 0 };
	rt_nfiles = 0;
	rt_each(im, CKPT_REC_REGION, rt_open_region, &r);
	for (int i = 0; i < rt_nfiles; i++)
		if (rt_files[i].lent) {
			rt_syscall1(__NR_close, rt_files[i].fd);
			rt_files[i].fd = -1;
		}
}

/* Whether fd is one of the files regions are mapped from: the restart keeps it until the restorer is done */
int rt_region_file_held(long fd)
{
	for (int i = 0; i < rt_nfiles; i++)
		if (rt_files[i].fd == fd)
			return 1;
	return 0;
}

void rt_prepare_closes(struct rt_plan_builder *b)
{
	for (int i = 0; i < rt_nfiles; i++)
		if (rt_files[i].fd >= 0) {
			rt_plan_u64(b, (uint64_t)rt_files[i].fd);
			(*(uint64_t *)(b->plan + RT_PLAN_CLOSES))++;
		}
}

/* Large regions mostly stored fill faster with 2 MiB pages; a sparse one would grow by them */
static int rt_wants_huge(const struct rt_plan_builder *b, uint64_t len, uint64_t stored)
{
	return b->huge && stored >= (2UL << 20) && stored * 2 >= len;
}

/* Stored pages mapped from the image: private memory only, not a stack, which must grow down
 * from an anonymous mapping, nor memory with advice the kernel takes only for anonymous memory,
 * nor code (an image on a noexec mount cannot be mapped executable) */
static int rt_maps_image(const struct rt_plan_builder *b, uint64_t flags, uint64_t stored, const unsigned char *p)
{
	return b->map_image && stored && !(flags & (MAP_SHARED | MAP_GROWSDOWN)) && !(u32at(p, CKPT_RG_PROT) & PROT_EXEC) &&
	       !(u32at(p, CKPT_RG_ADVICE) & (CKPT_VM_WIPEONFORK | CKPT_VM_MERGEABLE));
}

static void rt_plan_map(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_plan_builder *b = arg;
	long fd = rt_region_fd[b->region++];
	if (u32at(p, CKPT_RG_ROLE) != CKPT_ROLE_MEMORY || fd == RT_PLACED)
		return;
	uint32_t size = u32at(h, CKPT_RH_PAYLOAD_SIZE), at = rt_region_extents_at(p, size);
	uint64_t len = u64at(p, CKPT_RG_END) - u64at(p, CKPT_RG_START), stored = u64at(h, CKPT_RH_DATA_SIZE);
	uint32_t rflags = u32at(h, CKPT_RH_FLAGS);
	int shared = (rflags & CKPT_REGION_SHARED_FILE) ||
		     ((rflags & CKPT_REGION_SHARED) && rt_is_shared_anonymous((const char *)p + CKPT_RG_SIZE));
	uint64_t flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED | (fd < 0 ? MAP_ANONYMOUS : 0);
	if (rt_streq((const char *)p + CKPT_RG_SIZE, "[stack]") || (u32at(p, CKPT_RG_ADVICE) & CKPT_VM_GROWSDOWN))
		flags |= MAP_GROWSDOWN;	/* the stack goes on growing as the kernel's did */
	int hugetlb = (u32at(p, CKPT_RG_ADVICE) & CKPT_VM_HUGETLB) != 0;
	if (hugetlb)
		flags |= MAP_HUGETLB;	/* rt_check_huge_pages found enough free */

	rt_plan_u64(b, u64at(p, CKPT_RG_START));
	rt_plan_u64(b, len);
	rt_plan_u64(b, u32at(p, CKPT_RG_PROT));
	rt_plan_u64(b, flags);
	rt_plan_u64(b, (uint64_t)fd);
	rt_plan_u64(b, fd < 0 ? 0 : u64at(p, CKPT_RG_OFFSET));
	rt_plan_u64(b, stored ? u64at(h, CKPT_RH_DATA_OFFSET) : (uint64_t)RT_NO_DATA);
	rt_plan_u64(b, (uint64_t)(p - b->im->base) + at);	/* the extents, read by the restorer from the image file */
	rt_plan_u64(b, (size - at) / CKPT_RE_SIZE);
	rt_plan_u64(b, hugetlb ? 0 /* made with MAP_HUGETLB, its pages read in */ : rt_wants_huge(b, len, stored) ? RT_MAP_HUGE
		       : rt_maps_image(b, flags, stored, p) ? RT_MAP_IMAGE : 0);
	(*(uint64_t *)(b->plan + RT_PLAN_MAPS))++;
}

/* The new process's mappings the restorer tears down: all but the vDSO's and its own holding area */
void rt_prepare_unmaps(struct rt_plan_builder *b, uint64_t hold)
{
	for (long i = 0; i < rt_current_count; i++) {
		const struct rt_map *m = &rt_current[i];
		if (rt_map_is_vsyscall(m) || rt_map_role(m) != CKPT_ROLE_MEMORY || m->start == hold)
			continue;
		rt_plan_u64(b, m->start);
		rt_plan_u64(b, m->end - m->start);
		(*(uint64_t *)(b->plan + RT_PLAN_UNMAPS))++;
	}
}

/* Whether [lo, hi) overlaps a mapping of the new process as rt_collect_maps found them */
int rt_taken_now(uint64_t lo, uint64_t hi)
{
	for (long i = 0; i < rt_current_count; i++)
		if (rt_current[i].start < hi && lo < rt_current[i].end)
			return 1;
	return 0;
}

/* The new kernel's vvar, vclock and vdso, moved to where the image had them; then the System V
 * segments shm.c attached */
void rt_prepare_remaps(struct rt_plan_builder *b, const struct rt_vdso_check *v)
{
	for (int r = 1; r <= 3; r++) {
		if (!v->len[r])
			continue;
		rt_plan_u64(b, v->from[r]);
		rt_plan_u64(b, v->len[r]);
		rt_plan_u64(b, v->to[r]);
		(*(uint64_t *)(b->plan + RT_PLAN_REMAPS))++;
	}
	rt_prepare_shm_remaps(b);
}

void rt_prepare_maps(struct rt_plan_builder *b)
{
	rt_each(b->im, CKPT_REC_REGION, rt_plan_map, b);
}
