/* Restart from an image: the image as image.c checked it, read by restore.c and every kind's restore. */
#ifndef RT_CKPT_IMAGE_H
#define RT_CKPT_IMAGE_H

#include "ckpt/ckpt.h"

#pragma GCC visibility push(hidden)

struct rt_image {
	const char *path;
	const char *name;	/* what messages call it: CKPT_RESTART's value, which path may only hold */
	long fd;
	const unsigned char *base;
	uint64_t size;
	const unsigned char *process, *regs, *sigactions, *cwd, *rlimits, *itimers, *queued;
	const unsigned char *leader;	/* the leader's thread record; 0 in images from before threads */
	uint32_t threads;		/* thread records of the other threads */
	uint32_t nqueued;
	uint32_t records;
	int warn_only;		/* CKPT_FILES_CHANGED=warn (default) or refuse */
	int tcp_close;		/* CKPT_TCP_CLOSE=1: TCP connections made closed sockets, not refused */
	uint64_t dev, ino;	/* the image file's */
	long verifier_fd;	/* RT_PAGES_LAZY: the verifier's pipe (lazy.c); -1: none */
	long verifier_go;	/* the pipe whose close by the restorer starts it; -1: none */
	int pages;		/* CKPT_LAZY: RT_PAGES_*; RT_PAGES_LAZY leaves the data's checksums to the verifier */
};

/* How a restart gives the program its stored pages (lazy.c) */
#define RT_PAGES_READ	0	/* read into anonymous memory */
#define RT_PAGES_MAP	1	/* checked, then mapped from the image */
#define RT_PAGES_LAZY	2	/* mapped; checked by a verifier while the program runs */

static inline uint32_t u32at(const unsigned char *p, int off) { return *(const uint32_t *)(p + off); }
static inline uint64_t u64at(const unsigned char *p, int off) { return *(const uint64_t *)(p + off); }

/* image.c */
void rt_check_image(struct rt_image *im);
_Noreturn void rt_refuse(const struct rt_image *im, const char *why);
_Noreturn void rt_refuse_path(const struct rt_image *im, const char *why, const char *path);
void rt_warn(const char *what, const char *path, const char *why);
typedef void (*rt_record_fn)(void *arg, const unsigned char *header, const unsigned char *payload);
void rt_each(const struct rt_image *im, uint32_t kind, rt_record_fn fn, void *arg);

/* merge.c: an incremental image's chain, resolved into one full image */
void rt_resolve_chain(struct rt_image *im);

#pragma GCC visibility pop
#endif
