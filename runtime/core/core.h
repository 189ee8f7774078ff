/*
 * core/: the top of the runtime, the only room that calls into every other: the start (start.c),
 * the dispatcher every call the shim does not make itself reaches (dispatch.c), the SUD net's
 * SIGSYS and SIGTRAP entries (sud.c), and what every room does around a fork (fork.c). The shim
 * (syscall-shim/) enters here; nothing below includes this header.
 */
#ifndef RT_CORE_H
#define RT_CORE_H

#include "loader/loader.h"

#pragma GCC visibility push(hidden)

/* How a call arrived: through a patched site, or trapped by the SUD net */
enum rt_via { RT_VIA_PATCH, RT_VIA_SUD };

/* start.c: from the shim's rt_start */
void rt_init(struct rt_ctx *regs, uint64_t *initial_sp);

/* dispatch.c */
void rt_dispatch(struct rt_ctx *c, enum rt_via via);
void rt_shim_dispatch(struct rt_ctx *frame);	/* from the shim's slow path */

/* sud.c */
void rt_sud_signals_init(void);

/* fork.c (rt_child_started from the shim too) */
long rt_dispatch_clone(struct rt_ctx *c, long nr);
void rt_child_started(int kind);
uint64_t rt_vfork_resume_address(long child);

#pragma GCC visibility pop
#endif
