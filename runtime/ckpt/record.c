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
