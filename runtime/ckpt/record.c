/*
 * The record area every kind of state writes into (docs/image-format.md): a record is reserved,
 * zeroed and counted, filled by its kind, then sealed with its checksums as soon as it is complete.
 * Memory contents are checksummed by the writer as it writes them.
 */
#include "ckpt/save.h"

/* A zeroed record of payload bytes, or 0 when the record area is full */
void *rt_record(struct rt_ckpt_work *w, uint32_t kind, uint32_t flags, size_t payload)
{
	unsigned char *h = w->records + w->used;
	if (w->used + CKPT_RH_SIZE + payload > RT_RECORDS)
		return 0;
	for (size_t i = 0; i < CKPT_RH_SIZE + payload; i++)
		h[i] = 0;
	*(uint32_t *)(h + CKPT_RH_KIND) = kind;
	*(uint32_t *)(h + CKPT_RH_FLAGS) = flags;
	*(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE) = (uint32_t)payload;
	w->used += CKPT_RH_SIZE + payload;
	w->count++;
	return h + CKPT_RH_SIZE;
}

/*
 * The last record reserved, grown by extra zeroed bytes at its end (a list whose length is known
 * only as it is made); returns where they start, or 0 when the record area is full.
 */
void *rt_record_grow(struct rt_ckpt_work *w, unsigned char *payload, size_t extra)
{
	unsigned char *h = payload - CKPT_RH_SIZE;
	if (w->used + extra > RT_RECORDS)
		return 0;
	unsigned char *at = w->records + w->used;
	for (size_t i = 0; i < extra; i++)
		at[i] = 0;
	*(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE) += (uint32_t)extra;
	w->used += extra;
	return at;
}

/* The last record reserved, cut back to size bytes of payload */
void rt_record_cut(struct rt_ckpt_work *w, unsigned char *payload, size_t size)
{
	unsigned char *h = payload - CKPT_RH_SIZE;
	w->used -= *(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE) - size;
	*(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE) = (uint32_t)size;
}

void rt_seal(unsigned char *payload)
{
	unsigned char *h = payload - CKPT_RH_SIZE;
	*(uint32_t *)(h + CKPT_RH_PAYLOAD_CRC) = rt_crc32c(0, payload, *(uint32_t *)(h + CKPT_RH_PAYLOAD_SIZE));
	*(uint32_t *)(h + CKPT_RH_CRC) = rt_crc32c(0, h, CKPT_RH_CRC);
}

/* A record whose payload is one NUL-terminated string */
int rt_record_string(struct rt_ckpt_work *w, uint32_t kind, const char *s, size_t len)
{
	unsigned char *p = rt_record(w, kind, 0, len + 1);
	if (!p)
		return -1;
	rt_memcpy(p, s, len);
	rt_seal(p);
	return 0;
}
