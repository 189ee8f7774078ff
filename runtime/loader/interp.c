/*
 * The interpreter, mapped by the runtime: the kernel saw no PT_INTERP in the relinked file (the
 * rewriter turned it into PT_NULL), so it mapped only the program and entered the runtime. Here
 * the carried ld.so is mapped from the relinked file as the kernel maps an interpreter, and the
 * auxiliary vector is made the one ld.so would have had: the program's own headers (with
 * PT_INTERP, which ld.so reads for its own name), its own entry, ld.so's base.
 */
#include <linux/auxvec.h>
#include <linux/elf.h>
#include "loader/loader.h"

#define RT_MAX_PHDRS	32

static long rt_pread(long fd, void *buf, size_t n, uint64_t off)
{
	return rt_syscall4(__NR_pread64, fd, (long)buf, (long)n, (long)off);
}

static long rt_prot_of(uint32_t pf)
{
	return ((pf & PF_R) ? PROT_READ : 0) | ((pf & PF_W) ? PROT_WRITE : 0) | ((pf & PF_X) ? PROT_EXEC : 0);
}

/* One PT_LOAD: its file pages, then the zeroes of its bss past them */
static void rt_map_segment(long fd, const struct ckpt_carried *co, uint64_t bias, const Elf64_Phdr *ph)
{
	uint64_t start = bias + (ph->p_vaddr & ~4095ULL);
	uint64_t file_end = bias + ph->p_vaddr + ph->p_filesz;
	uint64_t mem_end = bias + ph->p_vaddr + ph->p_memsz;
	long prot = rt_prot_of(ph->p_flags);
	if (ph->p_filesz) {
		long r = rt_syscall6(__NR_mmap, (long)start, (long)(file_end - start), prot, MAP_PRIVATE | MAP_FIXED, fd,
				     (long)(co->file_offset + (ph->p_offset & ~4095ULL)));
		if (r < 0)
			rt_die("ckpt runtime: cannot map the carried interpreter\n");
	}
	uint64_t page_end = (file_end + 4095) & ~4095ULL;
	/* as the kernel does: the whole page past the file's bytes reads as zero (ld.so's own malloc
	 * starts at its bss's end and takes the rest of that page) */
	if (mem_end > file_end && (prot & PROT_WRITE) && ph->p_filesz)
		for (uint64_t a = file_end; a < page_end; a++)
			*(volatile char *)a = 0;
	if (mem_end > page_end &&
	    rt_syscall6(__NR_mmap, (long)page_end, (long)(mem_end - page_end), prot,
			MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0) < 0)
		rt_die("ckpt runtime: cannot map the carried interpreter\n");
}

/* Maps the carried object `co` from the relinked file `fd` anywhere; returns its entry point */
static uint64_t rt_map_interp(long fd, const struct ckpt_carried *co, uint64_t *bias_out)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[RT_MAX_PHDRS];
	if (rt_pread(fd, &eh, sizeof eh, co->file_offset) != sizeof eh || eh.e_phnum > RT_MAX_PHDRS ||
	    eh.e_phentsize != sizeof ph[0] ||
	    rt_pread(fd, ph, eh.e_phnum * sizeof ph[0], co->file_offset + eh.e_phoff) != (long)(eh.e_phnum * sizeof ph[0]))
		rt_die("ckpt runtime: the carried interpreter is unreadable (file damaged?)\n");
	long base = rt_syscall6(__NR_mmap, 0, (long)co->span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base < 0)
		rt_die("ckpt runtime: no room to map the carried interpreter\n");
	uint64_t bias = (uint64_t)base - co->first_vaddr;
	for (int i = 0; i < eh.e_phnum; i++)
		if (ph[i].p_type == PT_LOAD)
			rt_map_segment(fd, co, bias, &ph[i]);
	*bias_out = bias;
	return bias + eh.e_entry;
}

/* The auxiliary vector after the environment: what ld.so is told of the program and of itself */
static void rt_fix_auxv(uint64_t *initial_sp, uint64_t interp_base)
{
	uint64_t *p = initial_sp + 1 + initial_sp[0] + 1;
	while (*p)
		p++;
	for (p++; p[0] != AT_NULL; p += 2) {
		if (p[0] == AT_PHDR)
			p[1] = rt_config.loader_phdr + rt_load_bias;
		else if (p[0] == AT_PHNUM)
			p[1] = rt_config.loader_phnum;
		else if (p[0] == AT_ENTRY)
			p[1] = rt_config.orig_entry + rt_load_bias;
		else if (p[0] == AT_BASE)
			p[1] = interp_base;
	}
}

void rt_loader_start(uint64_t *initial_sp)
{
	if (!rt_config.carried_count)
		return;
	const struct ckpt_carried *co = rt_carried(0);
	long fd = rt_open_self(1);
	if (fd < 0)
		rt_die("ckpt runtime: cannot open /proc/self/exe to map the carried interpreter\n");
	uint64_t bias;
	rt_entry_target = rt_map_interp(fd, co, &bias);
	rt_carried_bias[0] = bias;
	rt_map_area(fd, 0, 1);
	rt_syscall1(__NR_close, fd);
	rt_fix_auxv(initial_sp, bias + co->first_vaddr);
	rt_loader_route();
}
