/*
 * An incremental image at restart: its chain resolved into one full image before anything else
 * looks at it. Contract: every link is opened and checked whole (image.c's checks, and that it is
 * the state its child names: same job, the generation and header checksum the child recorded)
 * before anything is changed; a link missing, damaged or not the one named refuses the restart
 * with a message naming that link's file. Then the head's records, with each region's pages
 * resolved link by link (the head's own; those it inherits from the first link that stores them;
 * a page no link stores is a hole, as in a full image), are written as a full image into a memfd,
 * which the restart then checks and restores as it would any image: restore.c, memory.c and the
 * restorer see no chain. The cost: the memory stored by the chain is copied once more, into memory.
 */
#include "ckpt/save.h"
#include "ckpt/restore.h"

#define RT_MAX_LINKS	(RT_MAX_CHAIN + 1)	/* the head and its incremental links */
#define RT_HOLE		0ULL
#define RT_INHERITED	1ULL		/* taken from a link further down */
#define RT_PENDING	2ULL		/* inherited by the link being read: from the next one */
#define RT_SOURCE(k, off)	((uint64_t)((k) + 1) << 48 | (off) >> 12)	/* link k, file offset */
#define RT_SOURCE_LINK(s)	(((s) >> 48) - 1)
#define RT_SOURCE_OFFSET(s)	(((s) & ((1ULL << 48) - 1)) << 12)

static struct rt_image rt_link[RT_MAX_LINKS];
static struct rt_link_names { char path[RT_PATH_MAX], label[2 * RT_PATH_MAX + 32]; } *rt_names;	/* mapped when a chain is resolved */
static int rt_nlinks;

static const unsigned char *rt_record_of(const struct rt_image *im, uint32_t kind)
{
	uint64_t at = CKPT_IH_SIZE;
	for (uint32_t i = 0; i < im->records; i++) {
		const unsigned char *h = im->base + at;
		if (u32at(h, CKPT_RH_KIND) == kind)
			return h;
		at += CKPT_RH_SIZE + u32at(h, CKPT_RH_PAYLOAD_SIZE);
	}
	return 0;
}

/* The parent's path: its file name from the record, in the directory of the child's path */
static void rt_parent_path(char *out, const char *child, const unsigned char *p, uint32_t size)
{
	const char *name = (const char *)p + CKPT_PA_SIZE;
	size_t dir = 0;
	for (size_t i = 0; child[i]; i++)
		if (child[i] == '/')
			dir = i + 1;
	if (size <= CKPT_PA_SIZE || p[size - 1] || dir + rt_strlen(name) + 1 > RT_PATH_MAX)
		out[0] = 0;
	else
		rt_put((char *)rt_memcpy(out, child, dir) + dir, name);
}

/* Opens and checks link k (the parent of link k - 1) */
static void rt_open_link(const struct rt_image *head, int k, const unsigned char *ph)
{
	const unsigned char *p = ph + CKPT_RH_SIZE;
	struct rt_image *l = &rt_link[k];
	uint32_t size = u32at(ph, CKPT_RH_PAYLOAD_SIZE);
	if (size < CKPT_PA_SIZE)
		rt_refuse(&rt_link[k - 1], "its parent record is inconsistent");
	rt_parent_path(rt_names[k].path, rt_link[k - 1].path, p, size);
	const char *head_name = rt_strlen(head->name) < RT_PATH_MAX ? head->name : "the image";	/* the label's bound */
	rt_put(rt_put(rt_put(rt_names[k].label, head_name), ": chain link "), rt_names[k].path);
	l->path = rt_names[k].path;
	l->name = rt_names[k].label;
	l->warn_only = head->warn_only;
	if (!l->path[0])
		rt_refuse(&rt_link[k - 1], "its parent record names no file");
	rt_check_image(l);
	if (u64at(l->base, CKPT_IH_JOB_START) != u64at(head->base, CKPT_IH_JOB_START) ||
	    u64at(l->base, CKPT_IH_JOB_NONCE) != u64at(head->base, CKPT_IH_JOB_NONCE) ||
	    u64at(l->base, CKPT_IH_GENERATION) != u64at(p, CKPT_PA_GENERATION) ||
	    u32at(l->base, CKPT_IH_CRC) != u32at(p, CKPT_PA_HEADER_CRC))
		rt_refuse(l, "not the state its child names (another checkpoint at that name)");
}

static void *rt_scratch(uint64_t size);

/* Every link, head first, down to the full image */
static void rt_open_chain(const struct rt_image *head)
{
	if (!(rt_names = rt_scratch(sizeof *rt_names * RT_MAX_LINKS)))
		rt_refuse(head, "no memory to resolve its chain of incremental images");
	rt_link[0] = *head;
	rt_nlinks = 1;
	for (const unsigned char *ph; (ph = rt_record_of(&rt_link[rt_nlinks - 1], CKPT_REC_PARENT));) {
		if (rt_nlinks == RT_MAX_LINKS)
			rt_refuse(head, "its chain of incremental images is longer than a restart resolves");
		rt_open_link(head, rt_nlinks, ph);
		rt_nlinks++;
	}
}

/* One region record of a link, with its inherited pages when the next record lists them */
struct rt_link_region { const unsigned char *h, *p, *inherit; uint32_t ninherit; };

static int rt_next_region(const struct rt_image *im, uint64_t *at, uint32_t *i, struct rt_link_region *r)
{
	for (; *i < im->records; (*i)++) {
		const unsigned char *h = im->base + *at;
		*at += CKPT_RH_SIZE + u32at(h, CKPT_RH_PAYLOAD_SIZE);
		if (u32at(h, CKPT_RH_KIND) != CKPT_REC_REGION)
			continue;
		r->h = h;
		r->p = h + CKPT_RH_SIZE;
		r->inherit = 0;
		r->ninherit = 0;
		const unsigned char *n = im->base + *at;
		if (*i + 1 < im->records && u32at(n, CKPT_RH_KIND) == CKPT_REC_INHERIT &&
		    u32at(n, CKPT_RH_PAYLOAD_SIZE) >= CKPT_INHERIT_EXTENTS &&
		    u64at(n + CKPT_RH_SIZE, 0) == u64at(r->p, CKPT_RG_START)) {
			r->inherit = n + CKPT_RH_SIZE + CKPT_INHERIT_EXTENTS;
			r->ninherit = (u32at(n, CKPT_RH_PAYLOAD_SIZE) - CKPT_INHERIT_EXTENTS) / CKPT_RE_SIZE;
		}
		(*i)++;
		return 1;
	}
	return 0;
}

/* Runs of pages (first, count) of a region, as extents list them */
struct rt_runs { const unsigned char *at; uint32_t n; };

static uint64_t rt_run_first(const struct rt_runs *r, uint32_t e) { return u64at(r->at, (int)(e * CKPT_RE_SIZE + CKPT_RE_FIRST)); }
static uint64_t rt_run_count(const struct rt_runs *r, uint32_t e) { return u64at(r->at, (int)(e * CKPT_RE_SIZE + CKPT_RE_COUNT)); }

static struct rt_runs rt_stored_runs(const unsigned char *h, const unsigned char *p)
{
	uint32_t size = u32at(h, CKPT_RH_PAYLOAD_SIZE), at = rt_region_extents_at(p, size);
	return (struct rt_runs){ p + at, at ? (size - at) / CKPT_RE_SIZE : 0 };
}

/*
 * The head's region covers [start, end): its pages whose state is `want` and that link k's region r
 * stores take their source from r; those r inherits become RT_PENDING (`inherited` of the head's own)
 */
static void rt_mark_from(uint64_t *state, uint64_t start, uint64_t end, int k, const struct rt_link_region *r,
			 uint64_t want, uint64_t inherited)
{
	uint64_t rstart = u64at(r->p, CKPT_RG_START), off = u64at(r->h, CKPT_RH_DATA_OFFSET);
	struct rt_runs stored = rt_stored_runs(r->h, r->p), inherit = { r->inherit, r->ninherit };
	for (uint32_t e = 0; e < stored.n; e++)
		for (uint64_t j = 0; j < rt_run_count(&stored, e); j++, off += CKPT_IMAGE_PAGE) {
			uint64_t a = rstart + (rt_run_first(&stored, e) + j) * CKPT_IMAGE_PAGE;
			if (a >= start && a < end && state[(a - start) / CKPT_IMAGE_PAGE] == want)
				state[(a - start) / CKPT_IMAGE_PAGE] = RT_SOURCE(k, off);
		}
	for (uint32_t e = 0; e < inherit.n; e++)
		for (uint64_t j = 0; j < rt_run_count(&inherit, e); j++) {
			uint64_t a = rstart + (rt_run_first(&inherit, e) + j) * CKPT_IMAGE_PAGE;
			if (a >= start && a < end && state[(a - start) / CKPT_IMAGE_PAGE] == want)
				state[(a - start) / CKPT_IMAGE_PAGE] = inherited;
		}
}

/* Where each page of the head's region r comes from: state[page] is RT_HOLE or an RT_SOURCE */
static void rt_resolve_region(const struct rt_link_region *r, uint64_t *state)
{
	uint64_t start = u64at(r->p, CKPT_RG_START), end = u64at(r->p, CKPT_RG_END), pages = (end - start) / CKPT_IMAGE_PAGE;
	for (uint64_t i = 0; i < pages; i++)
		state[i] = RT_HOLE;
	rt_mark_from(state, start, end, 0, r, RT_HOLE, RT_INHERITED);
	for (int k = 1; k < rt_nlinks; k++) {
		uint64_t at = CKPT_IH_SIZE;
		uint32_t i = 0;
		struct rt_link_region lr;
		while (rt_next_region(&rt_link[k], &at, &i, &lr))
			if (u64at(lr.p, CKPT_RG_START) < end && start < u64at(lr.p, CKPT_RG_END))
				rt_mark_from(state, start, end, k, &lr, RT_INHERITED, RT_PENDING);
		int left = 0;
		for (uint64_t j = 0; j < pages; j++) {
			if (state[j] == RT_INHERITED)
				state[j] = RT_HOLE;	/* a hole of link k's */
			else if (state[j] == RT_PENDING)
				state[j] = RT_INHERITED, left = 1;
		}
		if (!left)
			return;
	}
	for (uint64_t j = 0; j < pages; j++)
		if (state[j] == RT_INHERITED)
			rt_refuse(&rt_link[rt_nlinks - 1], "it lists pages its parent holds, but names no parent");
}

/* The merged image as it is laid out: records in rec (0 in the sizing pass), data written to fd */
struct rt_merged {
	long fd;
	unsigned char *rec;
	uint64_t used, data_at;		/* bytes of records; the next data offset */
	uint32_t count;
	uint64_t *state;		/* one region's page sources */
	int failed;
};

static void rt_put_data(struct rt_merged *m, const unsigned char *src, uint64_t len, uint32_t *crc)
{
	*crc = rt_crc32c(*crc, src, len);
	if (rt_pwrite_all(m->fd, src, len, m->data_at))
		m->failed = 1;
	m->data_at += len;
}

/* One record copied (its data after the others'); in the sizing pass, only counted */
static void rt_copy_record(struct rt_merged *m, const unsigned char *h)
{
	uint32_t size = u32at(h, CKPT_RH_PAYLOAD_SIZE);
	uint64_t dsize = u64at(h, CKPT_RH_DATA_SIZE);
	if (m->rec) {
		unsigned char *nh = m->rec + m->used;
		rt_memcpy(nh, h, CKPT_RH_SIZE + size);
		if (dsize) {
			uint32_t crc = 0;
			*(uint64_t *)(nh + CKPT_RH_DATA_OFFSET) = m->data_at;
			rt_put_data(m, rt_link[0].base + u64at(h, CKPT_RH_DATA_OFFSET), dsize, &crc);
			*(uint32_t *)(nh + CKPT_RH_CRC) = rt_crc32c(0, nh, CKPT_RH_CRC);
		}
	}
	m->used += CKPT_RH_SIZE + size;
	m->count++;
}

/* A region of the head with pages inherited: its extents and data, resolved down the chain */
static void rt_merge_region(struct rt_merged *m, const struct rt_link_region *r)
{
	uint32_t size = u32at(r->h, CKPT_RH_PAYLOAD_SIZE), at = rt_region_extents_at(r->p, size);
	uint64_t pages = (u64at(r->p, CKPT_RG_END) - u64at(r->p, CKPT_RG_START)) / CKPT_IMAGE_PAGE, stored = 0, extents = 0;
	unsigned char *nh = m->rec ? m->rec + m->used : 0, *np = nh + CKPT_RH_SIZE;
	uint32_t crc = 0;
	rt_resolve_region(r, m->state);
	if (nh)
		rt_memcpy(nh, r->h, CKPT_RH_SIZE + at);
	for (uint64_t i = 0; i < pages;) {
		if (m->state[i] == RT_HOLE) {
			i++;
			continue;
		}
		uint64_t first = i;
		for (; i < pages && m->state[i] != RT_HOLE; i++) {
			uint64_t s = m->state[i];
			uint64_t run = 1;	/* pages of one link, back to back in its file */
			while (i + run < pages && m->state[i + run] == s + run)
				run++;
			if (nh)
				rt_put_data(m, rt_link[RT_SOURCE_LINK(s)].base + RT_SOURCE_OFFSET(s), run * CKPT_IMAGE_PAGE, &crc);
			i += run - 1;
			stored += run;
		}
		if (nh) {
			*(uint64_t *)(np + at + extents * CKPT_RE_SIZE + CKPT_RE_FIRST) = first;
			*(uint64_t *)(np + at + extents * CKPT_RE_SIZE + CKPT_RE_COUNT) = i - first;
		}
		extents++;
	}
	if (nh) {
		uint32_t flags = u32at(r->h, CKPT_RH_FLAGS) & ~(uint32_t)CKPT_REGION_HAS_DATA;
		*(uint32_t *)(nh + CKPT_RH_FLAGS) = flags | (stored ? CKPT_REGION_HAS_DATA : 0);
		*(uint32_t *)(nh + CKPT_RH_PAYLOAD_SIZE) = at + (uint32_t)(extents * CKPT_RE_SIZE);
		*(uint64_t *)(nh + CKPT_RH_DATA_OFFSET) = stored ? m->data_at - stored * CKPT_IMAGE_PAGE : 0;
		*(uint64_t *)(nh + CKPT_RH_DATA_SIZE) = stored * CKPT_IMAGE_PAGE;
		*(uint32_t *)(nh + CKPT_RH_DATA_CRC) = stored ? crc : 0;
		rt_seal(np);
	}
	m->used += CKPT_RH_SIZE + at + extents * CKPT_RE_SIZE;
	m->count++;
}

/* Every record of the head but the chain's own, regions resolved */
static void rt_merge_records(struct rt_merged *m)
{
	const struct rt_image *head = &rt_link[0];
	uint64_t at = CKPT_IH_SIZE;
	for (uint32_t i = 0; i < head->records;) {
		const unsigned char *h = head->base + at;
		uint32_t kind = u32at(h, CKPT_RH_KIND);
		struct rt_link_region r;
		uint64_t next = at;
		uint32_t j = i;
		if (kind == CKPT_REC_REGION && rt_next_region(head, &next, &j, &r) && r.inherit) {
			rt_merge_region(m, &r);
			at = next;
			i = j;
			continue;
		}
		if (kind != CKPT_REC_PARENT && kind != CKPT_REC_INHERIT)
			rt_copy_record(m, h);
		at += CKPT_RH_SIZE + u32at(h, CKPT_RH_PAYLOAD_SIZE);
		i++;
	}
}

static void *rt_scratch(uint64_t size)
{
	long p = rt_syscall6(__NR_mmap, 0, (long)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p < 0 && p > -4096 ? 0 : (void *)p;
}

/* The largest region of the head, in pages: the size of the state array */
static uint64_t rt_largest_region(void)
{
	uint64_t at = CKPT_IH_SIZE, most = 1;
	uint32_t i = 0;
	struct rt_link_region r;
	while (rt_next_region(&rt_link[0], &at, &i, &r)) {
		uint64_t pages = (u64at(r.p, CKPT_RG_END) - u64at(r.p, CKPT_RG_START)) / CKPT_IMAGE_PAGE;
		most = pages > most ? pages : most;
	}
	return most;
}

/* The full image, written into a new memfd; its descriptor */
static long rt_write_merged(const struct rt_image *head)
{
	struct rt_merged m = { .fd = rt_syscall2(__NR_memfd_create, (long)"ckpt-merged", MFD_CLOEXEC) };
	if (m.fd < 0 || !(m.state = rt_scratch(rt_largest_region() * 8)))
		rt_refuse(head, "no memory to resolve its chain of incremental images");
	rt_merge_records(&m);	/* sizing pass */
	uint64_t data_start = (CKPT_IH_SIZE + m.used + CKPT_IMAGE_PAGE - 1) & ~(uint64_t)(CKPT_IMAGE_PAGE - 1);
	if (!(m.rec = rt_scratch(m.used ? m.used : 1)))
		rt_refuse(head, "no memory to resolve its chain of incremental images");
	m.used = 0;
	m.count = 0;
	m.data_at = data_start;
	rt_merge_records(&m);
	unsigned char header[CKPT_IH_SIZE];
	rt_memcpy(header, head->base, CKPT_IH_SIZE);
	*(uint32_t *)(header + CKPT_IH_RECORDS) = m.count;
	*(uint64_t *)(header + CKPT_IH_FILE_SIZE) = m.data_at;
	*(uint32_t *)(header + CKPT_IH_CRC) = rt_crc32c(0, header, CKPT_IH_CRC);
	if (m.failed || rt_pwrite_all(m.fd, header, CKPT_IH_SIZE, 0) || rt_pwrite_all(m.fd, m.rec, m.used, CKPT_IH_SIZE) ||
	    rt_syscall2(__NR_ftruncate, m.fd, (long)m.data_at) < 0)
		rt_refuse(head, "cannot write its chain of incremental images out as one image");
	rt_syscall2(__NR_munmap, (long)m.rec, (long)(m.used ? m.used : 1));
	rt_syscall2(__NR_munmap, (long)m.state, (long)(rt_largest_region() * 8));
	return m.fd;
}

static void rt_close_image(const struct rt_image *im)
{
	rt_syscall2(__NR_munmap, (long)im->base, (long)im->size);
	rt_syscall1(__NR_close, im->fd);
}

/*
 * If the image at im is incremental: its chain checked, then im made the full image it resolves
 * to (a memfd, checked again as any image is). Refuses, changing nothing, if a link is wrong.
 */
void rt_resolve_chain(struct rt_image *im)
{
	static char merged_path[64];
	if (!rt_record_of(im, CKPT_REC_PARENT))
		return;
	rt_open_chain(im);
	long fd = rt_write_merged(im);
	for (int k = 0; k < rt_nlinks; k++)
		rt_close_image(&rt_link[k]);
	rt_utoa((uint64_t)fd, rt_put(merged_path, "/proc/self/fd/"));
	im->path = merged_path;
	im->threads = 0;
	im->nqueued = 0;
	im->leader = 0;
	rt_check_image(im);
	rt_syscall1(__NR_close, fd);
}
