/*
 * What the files of remote/ that carry a job's file calls to the shadow share: the table of remote
 * descriptors (vfiles.c), the classification of every call (calls.h, calls.c), and the metadata
 * calls (vmeta.c).
 */
#ifndef RT_VFILES_H
#define RT_VFILES_H

#include "remote/remote.h"

#pragma GCC visibility push(hidden)

/* Calls newer than the kernel headers the runtime may be built with: their numbers are fixed */
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef __NR_map_shadow_stack
#define __NR_map_shadow_stack 453
#endif
#ifndef __NR_futex_wake
#define __NR_futex_wake 454
#endif
#ifndef __NR_futex_wait
#define __NR_futex_wait 455
#endif
#ifndef __NR_futex_requeue
#define __NR_futex_requeue 456
#endif
#ifndef __NR_statmount
#define __NR_statmount 457
#endif
#ifndef __NR_listmount
#define __NR_listmount 458
#endif
#ifndef __NR_lsm_get_self_attr
#define __NR_lsm_get_self_attr 459
#endif
#ifndef __NR_lsm_set_self_attr
#define __NR_lsm_set_self_attr 460
#endif
#ifndef __NR_lsm_list_modules
#define __NR_lsm_list_modules 461
#endif
#ifndef __NR_mseal
#define __NR_mseal 462
#endif
#ifndef __NR_setxattrat
#define __NR_setxattrat 463
#endif
#ifndef __NR_getxattrat
#define __NR_getxattrat 464
#endif
#ifndef __NR_listxattrat
#define __NR_listxattrat 465
#endif
#ifndef __NR_removexattrat
#define __NR_removexattrat 466
#endif
#ifndef __NR_open_tree_attr
#define __NR_open_tree_attr 467
#endif
#ifndef __NR_file_getattr
#define __NR_file_getattr 468
#endif
#ifndef __NR_file_setattr
#define __NR_file_setattr 469
#endif

/* calls.c */
enum rt_call_kind { RT_CALL_UNKNOWN, RT_CALL_NONE, RT_CALL_FWD, RT_CALL_REFUSE, RT_CALL_LOCAL };
struct rt_call_class { char spec[7]; uint8_t cls; uint8_t err; };
const struct rt_call_class *rt_call_class_of(long nr);

/* vfiles.c: an open file description of a remote file; dup'd descriptors share one */
struct rt_vdesc {
	uint32_t refs;
	uint32_t flags;
	uint64_t offset;	/* while cursor is -1 */
	uint64_t gen;		/* the connection its handle belongs to */
	int32_t handle;
	int32_t cursor;		/* the offset shared with forked children (cursors.c), or -1 */
	char path[RT_VPATH];
};
enum rt_where { RT_LOCAL, RT_LOCAL_ABS, RT_REMOTE };
struct rt_vdesc *rt_vdesc_of(long fd);
enum rt_where rt_where_is(long dirfd, const char *path, char *abs, long *err);
long rt_handle_of(struct rt_vdesc *d);
long rt_vopen(const char *abs, uint32_t flags, uint32_t mode);
long rt_vstat(struct rt_vdesc *d, const char *abs, int nofollow, void *buf);
long rt_file_call(struct rt_vdesc *d, struct rt_request *rq, void *out, size_t max, size_t *got);
long rt_vio(struct rt_vdesc *d, char *buf, uint64_t count, uint64_t offset, int advance, int write);
uint64_t rt_voff_get(struct rt_vdesc *d);
void rt_voff_set(struct rt_vdesc *d, uint64_t v);
void rt_vforget_range(long first, long last);
uint32_t rt_job_umask(void);

/* vmeta.c: the forwarded calls beyond open, read, write and stat; -ENOSYS for any other call */
long rt_vmeta_call(const struct rt_ctx *c, long nr);
/* the arguments with local paths made absolute (under a remote working directory) in `to`; 1 when
 * the call names a remote object, 0 when not, -errno */
struct rt_routed { char abs[2][RT_VPATH]; enum rt_where where[2]; };
long rt_route_args(const struct rt_ctx *c, const char *spec, long a[6], struct rt_routed *to);

#pragma GCC visibility pop
#endif
