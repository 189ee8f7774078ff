/*
 * Pages that hold only zeros are not stored (docs/image-format.md, "Which pages are stored"). The
 * handler records which pages exist (pagemap) while the program is stopped; this pass, made by the
 * writer on its copy-on-write snapshot before anything is written, takes the pages of only zeros
 * out of the extents of regions whose holes a restart leaves to the kernel (private, with no file
 * behind them: a hole there is a page of zeros again). A region mapped from a file keeps them: its
 * holes are the file's pages, not zeros.
 *
 * Extents split where a run of zero pages is taken out, so the record area is rebuilt into a
 * mapping of its own, with every data offset laid out again, and copied back only if it fits; if it
 * does not, or that mapping cannot be had, the image stores the zeros, as before.
 */
#include "ckpt/save.h"

#define RT_ZERO_EXTRA	(4UL << 20)	/* room for 256 Ki more extents than the handler made */

static int rt_page_is_zero(const uint64_t *page)
{
	uint64_t any = 0;
	for (unsigned i = 0; i < CKPT_IMAGE_PAGE / 8; i++)
		any |= page[i];
	return !any;
}

static int rt_zeros_elidable(const unsigned char *h)
{
	uint32_t flags = *(const uint32_t *)(h + CKPT_RH_FLAGS);
	return *(const uint32_t *)(h + CKPT_RH_KIND) == CKPT_REC_REGION && (flags & CKPT_REGION_HAS_DATA) &&
	       !(flags & (CKPT_REGION_FILE | CKPT_REGION_SHARED));
}

struct rt_rebuild {
	unsigned char *out;
	size_t used, cap;
	uint64_t data_end;
};

/* Appends one extent to the payload being rebuilt; -1 when the area is full */
static int rt_put_extent(struct rt_rebuild *b, uint64_t first, uint64_t count)
{
	if (b->used + CKPT_RE_SIZE > b->cap)
		return -1;
	*(uint64_t *)(b->out + b->used + CKPT_RE_FIRST) = first;
	*(uint64_t *)(b->out + b->used + CKPT_RE_COUNT) = count;
	b->used += CKPT_RE_SIZE;
	return 0;
}

/* The region's extents again, without its zero pages; the pages kept, or -1 when out of room */
static int64_t rt_rebuild_extents(struct rt_rebuild *b, const unsigned char *p, uint32_t size, uint32_t at)
{
	const unsigned char *base = (const unsigned char *)*(const uint64_t *)(p + CKPT_RG_START);
	int64_t kept = 0;
	for (; at + CKPT_RE_SIZE <= size; at += CKPT_RE_SIZE) {
		uint64_t first = *(const uint64_t *)(p + at + CKPT_RE_FIRST), count = *(const uint64_t *)(p + at + CKPT_RE_COUNT);
		uint64_t run = 0;	/* pages of the current run of non-zero pages */
		for (uint64_t i = first; i < first + count; i++) {
			if (!rt_page_is_zero((const uint64_t *)(base + i * CKPT_IMAGE_PAGE))) {
				run++;
				continue;
			}
			if (run && rt_put_extent(b, i - run, run))
				return -1;
			kept += (int64_t)run;
			run = 0;
		}
		if (run && rt_put_extent(b, first + count - run, run))
			return -1;
		kept += (int64_t)run;
	}
	return kept;
}

/* One record copied into the rebuilt area, its data laid out at the next free offset */
static int rt_rebuild_record(struct rt_rebuild *b, const unsigned char *h)
{
	uint32_t size = *(const uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE);
	int elide = rt_zeros_elidable(h);
	uint32_t keep = elide ? rt_region_extents_at(h + CKPT_RH_SIZE, size) : size;
	if (elide && !keep)
		return -1;
	if (b->used + CKPT_RH_SIZE + keep > b->cap)
		return -1;
	unsigned char *nh = b->out + b->used;
	rt_memcpy(nh, h, CKPT_RH_SIZE + keep);
	b->used += CKPT_RH_SIZE + keep;
	uint64_t dsize = *(const uint64_t *)(h + CKPT_RH_DATA_SIZE);
	if (elide) {
		int64_t pages = rt_rebuild_extents(b, h + CKPT_RH_SIZE, size, keep);
		if (pages < 0)
			return -1;
		dsize = (uint64_t)pages * CKPT_IMAGE_PAGE;
		*(uint32_t *)(nh + CKPT_RH_PAYLOAD_SIZE) = (uint32_t)(b->out + b->used - (nh + CKPT_RH_SIZE));
		*(uint64_t *)(nh + CKPT_RH_DATA_SIZE) = dsize;
		if (!dsize)
			*(uint32_t *)(nh + CKPT_RH_FLAGS) &= ~CKPT_REGION_HAS_DATA;
	}
	*(uint64_t *)(nh + CKPT_RH_DATA_OFFSET) = dsize ? b->data_end : 0;	/* made absolute later */
	b->data_end += (dsize + CKPT_IMAGE_PAGE - 1) & ~(uint64_t)(CKPT_IMAGE_PAGE - 1);
	if (elide)	/* after every header field is final: a region left with no data is not sealed again by the writer */
		rt_seal(nh + CKPT_RH_SIZE);
	return 0;
}

void rt_elide_zero_pages(struct rt_ckpt_work *w)
{
	struct rt_rebuild b = { .cap = w->used + RT_ZERO_EXTRA };
	long m = rt_syscall6(__NR_mmap, 0, (long)b.cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m < 0 && m > -4096)
		return;
	b.out = (unsigned char *)m;
	int ok = 1;
	for (size_t at = 0; ok && at < w->used;) {
		const unsigned char *h = w->records + at;
		ok = rt_rebuild_record(&b, h) == 0;
		at += CKPT_RH_SIZE + *(const uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE);
	}
	if (ok && b.used <= RT_RECORDS) {
		rt_memcpy(w->records, b.out, b.used);
		w->used = b.used;
		w->data_end = b.data_end;
	}
	rt_syscall2(__NR_munmap, m, (long)b.cap);
}
