/*
 * The classification of every system call for a job on the shadow (calls.h), as a table indexed
 * by the call's number that the dispatcher reads for each call it is handed.
 */
#include "remote/vfiles.h"

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
