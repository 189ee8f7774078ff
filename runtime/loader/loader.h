/*
 * loader/: a dynamically linked program's interpreter and libraries, carried patched inside the
 * relinked file (docs/dynamic.md). interp.c maps ld.so at start as the kernel would have and shows
 * it the auxiliary vector it expects; carried.c serves ld.so's opens of carried libraries from the
 * relinked file, so that their pages are that file's, knows where each carried object was loaded,
 * and arms the SUD net when code that was not carried appears. Below core/, which calls it.
 */
#ifndef RT_LOADER_H
#define RT_LOADER_H

#include "ckpt/ckpt.h"

#pragma GCC visibility push(hidden)

extern char rt_shim_entry[];	/* syscall-shim/entry.S: where every trampoline calls */

/* interp.c */
void rt_loader_start(uint64_t *initial_sp);

/* carried.c */
extern uint64_t rt_carried_bias[CKPT_CARRIED_MAX];	/* run-time minus link-time address; 0: not mapped */
const struct ckpt_carried *rt_carried(uint32_t i);
long rt_open_self(int cloexec);
void rt_fill_slot(uint32_t i);
void rt_map_area(long fd, uint32_t i, int fixed);
void rt_loader_route(void);
int rt_loader_call(const struct rt_ctx *c, long nr, long *result);
void rt_loader_after(const struct rt_ctx *c, long nr, long result);
uint64_t rt_loader_redirect(uint64_t at);

#pragma GCC visibility pop
#endif
