/*
 * brk after a restart: the kernel's break is the new process's, not the image's, and moving it
 * back would need CAP_SYS_RESOURCE; so a process made from an image keeps its own break, in
 * anonymous memory above the image's heap. Before any restart the kernel's brk is used as is.
 */
#include "sys/sys.h"

volatile uint64_t rt_brk_top;

long rt_sys_brk(uint64_t addr)
{
	uint64_t top = rt_brk_top, old_end = (top + 4095) & ~4095UL, new_end = (addr + 4095) & ~4095UL;
	if (!rt_restarted)
		return rt_syscall1(__NR_brk, (long)addr);
	if (!addr || addr == top)
		return (long)top;
	if (new_end > old_end) {
		long m = rt_syscall6(__NR_mmap, (long)old_end, (long)(new_end - old_end), PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if ((uint64_t)m != old_end)
			return (long)top;
	} else if (new_end < old_end) {
		rt_syscall2(__NR_munmap, (long)new_end, (long)(old_end - new_end));
	}
	rt_brk_top = addr;
	return (long)addr;
}
