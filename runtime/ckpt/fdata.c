/*
 * Files that have no name to reopen, kept in the image: a file unlinked while open (tmpfile(), a
 * spill file), an O_TMPFILE file, a memfd. Their data extents (SEEK_DATA/SEEK_HOLE: holes stay
 * holes) go to the image's data area, up to CKPT_FDATA_MAX bytes a file (docs/limits.md); a memfd
 * keeps its name and seals. At restart the file is made again as it was: created at its old path
 * and unlinked again, or made with O_TMPFILE in its old directory, or by memfd_create; then opened
 * with the descriptor's access mode.
 *
 * The contents are copied while the program is stopped, into a snapshot memfd of the checkpoint's
 * own (its place there kept beside the descriptor, rt_snapshot_at), so that the writer (which runs
 * on while the program does) writes the file as it was at the checkpoint, not as it is later.
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

#define RT_DELETED " (deleted)"

/* ---- the checkpoint's side ---- */

static uint32_t rt_fdata_kind(long fd, const char *path)
{
	if (rt_starts_with(path, "/memfd:"))
		return CKPT_FDATA_MEMFD;
	return (rt_syscall2(__NR_fcntl, fd, F_GETFL) & __O_TMPFILE) == __O_TMPFILE ? CKPT_FDATA_TMPFILE : CKPT_FDATA_UNLINKED;
}

/* A lower descriptor of the same unlinked file (another open file description of it), or ~0 */
static uint32_t rt_same_file(const struct rt_ckpt_work *w, const struct rt_stat *st)
{
	for (int i = 0; i < w->nunlinked; i++)
		if (w->unlinked[i].dev == st->dev && w->unlinked[i].ino == st->ino)
			return w->unlinked[i].fd;
	return ~0u;
}

static long rt_snapshot(struct rt_ckpt_work *w)
{
	if (w->snapshot_fd < 0)
		w->snapshot_fd = rt_syscall2(__NR_memfd_create, (long)"ckpt-snapshot", MFD_CLOEXEC);
	return w->snapshot_fd;
}

/* The extents of reader's data, listed after the record's fixed part and copied into the
 * snapshot from `at` on; the bytes copied, or -1 */
static int64_t rt_copy_extents(struct rt_ckpt_work *w, unsigned char *p, long reader, uint64_t size, uint64_t at)
{
	int64_t copied = 0;
	long snap = rt_snapshot(w);
	for (int64_t off = 0; snap >= 0 && (uint64_t)off < size;) {
		int64_t data = rt_syscall3(__NR_lseek, reader, off, SEEK_DATA);
		if (data < 0)
			break;	/* ENXIO: no data after off */
		int64_t hole = rt_syscall3(__NR_lseek, reader, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)(copied + hole - data) > CKPT_FDATA_MAX)
			return -1;
		unsigned char *e = rt_record_grow(w, p, CKPT_FDATA_EXTENT_SIZE);
		if (!e || rt_syscall3(__NR_lseek, snap, (long)(at + (uint64_t)copied), SEEK_SET) < 0)
			return -1;
		*(uint64_t *)(e + CKPT_FDATA_OFFSET) = (uint64_t)data;
		*(uint64_t *)(e + CKPT_FDATA_LENGTH) = (uint64_t)(hole - data);
		(*(uint32_t *)(p + CKPT_RFD_EXTENTS))++;
		for (int64_t from = data; from < hole;) {
			long n = rt_syscall4(__NR_sendfile, snap, reader, (long)&from, (long)(hole - from));
			if (n <= 0)
				return -1;
		}
		copied += hole - data;
		off = hole;
	}
	return snap < 0 ? -1 : copied;
}

/* Where the contents of descriptor fd's file are in the snapshot, or -1 (zeros.c lays the data
 * area out again after the records are made, so a record's data offset does not say) */
int64_t rt_snapshot_at(const struct rt_ckpt_work *w, uint32_t fd)
{
	for (int i = 0; i < w->nunlinked; i++)
		if (w->unlinked[i].fd == fd)
			return (int64_t)w->unlinked[i].snapshot_at;
	return -1;
}

/*
 * Shared memory the image stores (anonymous, System V, a read-only file mapping kept private): the
 * writer's snapshot of it is not copy-on-write, so the program, running on, would change it under
 * the writer and the image would hold memory from after the registers. Its stored pages (payload p
 * of a region record, `size` bytes) are copied now, while the program is stopped; 0, or -1.
 */
int rt_snapshot_shared_region(struct rt_ckpt_work *w, const unsigned char *p, uint32_t size)
{
	long snap = rt_snapshot(w);
	if (snap < 0 || w->nshared == RT_MAX_REGIONS)
		return -1;
	uint64_t start = u64at(p, CKPT_RG_START), copied = 0;
	uint64_t at = u64at(p - CKPT_RH_SIZE, CKPT_RH_DATA_OFFSET);	/* its place in the data area, as a file's contents */
	for (uint32_t e = rt_region_extents_at(p, size); e + CKPT_RE_SIZE <= size; e += CKPT_RE_SIZE) {
		uint64_t from = start + u64at(p, e + CKPT_RE_FIRST) * CKPT_IMAGE_PAGE, len = u64at(p, e + CKPT_RE_COUNT) * CKPT_IMAGE_PAGE;
		for (uint64_t done = 0; done < len;) {
			long n = rt_syscall4(__NR_pwrite64, snap, (long)(from + done), (long)(len - done), (long)(at + copied));
			if (n == -EINTR)
				continue;
			if (n <= 0)
				return -1;
			done += (uint64_t)n, copied += (uint64_t)n;
		}
	}
	w->shared_copies[w->nshared].start = start;
	w->shared_copies[w->nshared++].at = at;
	return 0;
}

/* Where the stored pages of the shared region at start are in the snapshot, or -1 */
int64_t rt_shared_snapshot_at(const struct rt_ckpt_work *w, uint64_t start)
{
	for (int i = 0; i < w->nshared; i++)
		if (w->shared_copies[i].start == start)
			return (int64_t)w->shared_copies[i].at;
	return -1;
}

static int rt_save_contents(struct rt_ckpt_work *w, unsigned char *p, long fd)
{
	char proc[32];
	long reader = rt_syscall4(__NR_openat, AT_FDCWD, (long)rt_fd_path(proc, fd), O_RDONLY | O_CLOEXEC, 0);
	if (reader < 0)
		return -1;
	uint64_t at = w->data_end;
	int64_t copied = rt_copy_extents(w, p, reader, u64at(p, CKPT_RFD_FILE_SIZE), at);
	rt_syscall1(__NR_close, reader);
	if (copied < 0)
		return -1;
	unsigned char *h = p - CKPT_RH_SIZE;
	w->unlinked[w->nunlinked].snapshot_at = at;
	if (copied) {
		*(uint64_t *)(h + CKPT_RH_DATA_OFFSET) = at;	/* in the data area; the writer adds where it starts */
		*(uint64_t *)(h + CKPT_RH_DATA_SIZE) = (uint64_t)copied;
		w->data_end = (at + (uint64_t)copied + CKPT_IMAGE_PAGE - 1) & ~(uint64_t)(CKPT_IMAGE_PAGE - 1);
	}
	return 0;
}

/*
 * Whether the file is mapped MAP_SHARED: a restart maps regions back as private copies (memory.c),
 * so the program's writes through the mapping would no longer reach the file it made again
 */
static int rt_mapped_shared(struct rt_ckpt_work *w, const struct rt_stat *st)
{
	long n = rt_read_maps(w->maps, RT_MAX_REGIONS, w->maps_text, RT_MAPS_TEXT);
	for (long i = 0; i < n; i++)
		if (w->maps[i].shared && w->maps[i].inode == st->ino && w->maps[i].dev == st->dev)
			return 1;
	return 0;
}

/*
 * A regular file with no name left: recorded with its contents. One whose name is gone but that
 * has other links cannot be found again by path, and is refused. Others are files.c's.
 */
int rt_save_file_data(struct rt_ckpt_work *w, long fd, const struct rt_stat *st, const char *path)
{
	size_t len = rt_strlen(path);
	int deleted = len > RT_LITERAL_LEN(RT_DELETED) && rt_streq(path + len - RT_LITERAL_LEN(RT_DELETED), RT_DELETED);
	if (!deleted)
		return RT_SAVE_NOT_MINE;
	if (st->nlink)
		return rt_refuse_descriptor(w, fd, path, "its name was removed and its other links are not known");
	if (rt_mapped_shared(w, st))
		return rt_refuse_descriptor(w, fd, path, "it is mapped MAP_SHARED, and the mapping would come back a private copy");
	if (w->nunlinked >= RT_MAX_UNLINKED)
		return rt_refuse_descriptor(w, fd, path, "more unlinked files and memfds than a checkpoint keeps (256)");
	unsigned char *p = rt_fd_record(w, CKPT_REC_FILE_DATA, CKPT_RFD_SIZE, fd);
	if (!p)
		return RT_SAVE_FULL;
	long seals = rt_syscall2(__NR_fcntl, fd, F_GET_SEALS);
	*(uint32_t *)(p + CKPT_RFD_KIND) = rt_fdata_kind(fd, path);
	*(uint64_t *)(p + CKPT_RFD_FILE_SIZE) = (uint64_t)st->size;
	*(uint32_t *)(p + CKPT_RFD_SEALS) = seals > 0 ? (uint32_t)seals : 0;
	*(uint32_t *)(p + CKPT_RFD_MODE) = st->mode & 07777;
	*(uint32_t *)(p + CKPT_RFD_SAME_FILE) = rt_same_file(w, st);
	if (u32at(p, CKPT_RFD_SAME_FILE) == ~0u && rt_save_contents(w, p, fd) < 0)
		return rt_refuse_descriptor(w, fd, path, "its contents cannot be read, or are over 256 MiB (CKPT_FDATA_MAX)");
	rt_seal(p);
	w->unlinked[w->nunlinked].dev = st->dev;
	w->unlinked[w->nunlinked].ino = st->ino;
	w->unlinked[w->nunlinked++].fd = (uint32_t)fd;
	return 0;
}

/* ---- the restart's side ---- */

/* The path a file record names, without " (deleted)", in out; its length */
static size_t rt_live_path(char *out, const char *path)
{
	size_t len = rt_strlen(path) - RT_LITERAL_LEN(RT_DELETED);
	if (len >= RT_PATH_MAX)
		len = RT_PATH_MAX - 1;
	rt_memcpy(out, path, len);
	out[len] = 0;
	return len;
}

/* "/memfd:NAME (deleted)": NAME */
static long rt_make_memfd(const unsigned char *rec, const char *path)
{
	char name[RT_PATH_MAX];
	rt_live_path(name, path + RT_LITERAL_LEN("/memfd:"));
	(void)rec;
	return rt_syscall2(__NR_memfd_create, (long)name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

/*
 * A file at its old path, unlinked again (or, when that name is taken now, a nameless one there).
 * An O_TMPFILE file is opened as the program opened it (its open flags show O_TMPFILE), with the
 * descriptor's access mode, which O_TMPFILE requires to be a writing one.
 */
static long rt_make_unlinked(const unsigned char *rec, const char *path, uint32_t access)
{
	char live[RT_PATH_MAX];
	size_t len = rt_live_path(live, path);
	uint32_t mode = u32at(rec, CKPT_RFD_MODE) | 0600;	/* written and reopened now, then chmod'ed */
	long fd = -1;
	if (u32at(rec, CKPT_RFD_KIND) == CKPT_FDATA_UNLINKED) {
		fd = rt_syscall4(__NR_openat, AT_FDCWD, (long)live, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd >= 0)
			rt_syscall3(__NR_unlinkat, AT_FDCWD, (long)live, 0);
	}
	if (fd < 0) {
		while (len > 1 && live[len - 1] != '/')
			len--;
		live[len > 1 ? len - 1 : len] = 0;	/* its directory */
		if (u32at(rec, CKPT_RFD_KIND) != CKPT_FDATA_TMPFILE || access == O_RDONLY)
			access = O_RDWR;
		fd = rt_syscall4(__NR_openat, AT_FDCWD, (long)live, O_TMPFILE | access | O_CLOEXEC, mode);
	}
	return fd;
}

static int rt_fill(const struct rt_image *im, long fd, const unsigned char *h, const unsigned char *rec, uint32_t size)
{
	uint32_t extents = u32at(rec, CKPT_RFD_EXTENTS);
	const unsigned char *data = im->base + u64at(h, CKPT_RH_DATA_OFFSET);
	uint64_t used = 0;
	if (extents > (size - CKPT_RFD_SIZE) / CKPT_FDATA_EXTENT_SIZE ||
	    rt_syscall2(__NR_ftruncate, fd, (long)u64at(rec, CKPT_RFD_FILE_SIZE)) < 0)
		return -1;
	for (uint32_t i = 0; i < extents; i++) {
		const unsigned char *e = rec + CKPT_RFD_SIZE + i * CKPT_FDATA_EXTENT_SIZE;
		uint64_t off = u64at(e, CKPT_FDATA_OFFSET), len = u64at(e, CKPT_FDATA_LENGTH);
		if (len > u64at(h, CKPT_RH_DATA_SIZE) - used)
			return -1;
		for (uint64_t done = 0; done < len;) {
			long n = rt_syscall4(__NR_pwrite64, fd, (long)(data + used + done), (long)(len - done), (long)(off + done));
			if (n <= 0)
				return -1;
			done += (uint64_t)n;
		}
		used += len;
	}
	return 0;
}

struct rt_fdata_find { uint32_t fd; const unsigned char *h; };

static void rt_match_fdata(void *arg, const unsigned char *h, const unsigned char *p)
{
	struct rt_fdata_find *f = arg;
	if (!f->h && u32at(h, CKPT_RH_PAYLOAD_SIZE) >= CKPT_RFD_SIZE && u32at(p, CKPT_RFD_FD) == f->fd)
		f->h = h;
}

/* Reopened through /proc/self/fd with the descriptor's access mode and open flags */
static long rt_reopen(long made, const unsigned char *file)
{
	char proc[32];
	uint32_t flags = u32at(file, CKPT_RF_FLAGS) & ~(O_CREAT | O_TRUNC | O_EXCL | O_TMPFILE);	/* O_TMPFILE has O_DIRECTORY in it */
	return rt_syscall4(__NR_openat, AT_FDCWD, (long)rt_fd_path(proc, made), flags | O_CLOEXEC, 0);
}

static struct { uint32_t fd; long made; } rt_made[RT_MAX_UNLINKED];
static int rt_nmade;

/* The made file of a lower descriptor, found among the ones made so far; -1 when none */
static long rt_made_file(uint32_t fd)
{
	for (int i = 0; i < rt_nmade; i++)
		if (rt_made[i].fd == fd)
			return rt_made[i].made;
	return -1;
}

static long rt_make_file(const struct rt_image *im, const unsigned char *h, const unsigned char *file, const char *path, long above)
{
	const unsigned char *rec = h + CKPT_RH_SIZE;
	uint32_t fd = u32at(rec, CKPT_RFD_FD), kind = u32at(rec, CKPT_RFD_KIND), seals = u32at(rec, CKPT_RFD_SEALS);
	uint32_t access = u32at(file, CKPT_RF_FLAGS) & O_ACCMODE;
	long made = kind == CKPT_FDATA_MEMFD ? rt_make_memfd(rec, path) : rt_make_unlinked(rec, path, access);
	if (made < 0 || rt_fill(im, made, h, rec, u32at(h, CKPT_RH_PAYLOAD_SIZE)) < 0)
		rt_refuse_kobject(im, fd, path, "it cannot be made again with its contents");
	if (kind == CKPT_FDATA_MEMFD && seals && rt_syscall3(__NR_fcntl, made, F_ADD_SEALS, seals) < 0)
		rt_refuse_kobject(im, fd, path, "its seals cannot be set again");
	made = rt_fd_above(made, above);
	if (rt_nmade >= RT_MAX_UNLINKED)
		rt_refuse_kobject(im, fd, path, "more unlinked files and memfds than a restart makes (256)");
	rt_made[rt_nmade].fd = fd;
	rt_made[rt_nmade++].made = made;
	return made;
}

/* A regular file the image keeps the contents of, made again; RT_OPEN_NOT_MINE for one reopened by path */
long rt_open_file_data(const struct rt_image *im, const unsigned char *file, const char *path, long above)
{
	struct rt_fdata_find f = { u32at(file, CKPT_RF_FD), 0 };
	rt_each(im, CKPT_REC_FILE_DATA, rt_match_fdata, &f);
	if (!f.h)
		return RT_OPEN_NOT_MINE;
	const unsigned char *rec = f.h + CKPT_RH_SIZE;
	uint32_t same = u32at(rec, CKPT_RFD_SAME_FILE);
	long made = same != ~0u ? rt_made_file(same) : rt_make_file(im, f.h, file, path, above);
	if (made < 0)
		rt_refuse_kobject(im, f.fd, path, "the descriptor it shares its file with is not in the image");
	/* the O_TMPFILE open itself, whose flags say O_TMPFILE as the program's did; others opened anew */
	int as_made = same == ~0u && u32at(rec, CKPT_RFD_KIND) == CKPT_FDATA_TMPFILE &&
		      (rt_syscall2(__NR_fcntl, made, F_GETFL) & (O_ACCMODE | O_TMPFILE)) == (u32at(file, CKPT_RF_FLAGS) & (O_ACCMODE | O_TMPFILE));
	long fd = as_made ? rt_syscall3(__NR_fcntl, made, F_DUPFD_CLOEXEC, above) : rt_reopen(made, file);
	if (fd < 0)
		rt_refuse_kobject(im, f.fd, path, "it cannot be opened again with its access mode");
	if (same == ~0u)
		rt_syscall2(__NR_fchmod, made, u32at(rec, CKPT_RFD_MODE));
	return fd;
}
