/*
 * The classification of every system call for a job on the shadow (calls.h), as a table indexed
 * by the call's number that the dispatcher reads for each call it is handed.
 */
#include "remote/vfiles.h"

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

#define RT_CALL(name, spec, cls, err) [__NR_##name] = { spec, RT_CALL_##cls, err },
static const struct rt_call_class rt_calls[RT_NR_MAX] = {
#include "remote/calls.h"
};

/* A number no row names (a hole in the table, or a call newer than it) is RT_CALL_UNKNOWN: 0 */
const struct rt_call_class *rt_call_class_of(long nr)
{
	static const struct rt_call_class beyond = { "", RT_CALL_UNKNOWN, 0 };
	return (unsigned long)nr < RT_NR_MAX ? &rt_calls[nr] : &beyond;
}
