/*
 * The one contract between the rewriter (TypeScript) and the runtime (C and assembly).
 *
 * Every constant shared by both sides is a `#define CKPT_...` line in this file and nowhere else:
 * scripts/gen-contract.mjs turns these lines into src/contract.generated.ts, and
 * test/contract.test.ts compiles a C program against this header and checks that the offsets the
 * struct really has equal the ones TypeScript writes. Fields are only ever added, at the end.
 *
 * Address kinds: "vaddr" is a link-time virtual address as written in the ELF file. At run time
 * the runtime adds the load bias (run-time address of the config block minus CKPT_CFG.self_vaddr),
 * which is 0 for ET_EXEC and the random base for static-pie.
 */
#ifndef CKPT_CONTRACT_H
#define CKPT_CONTRACT_H

#define CKPT_CONFIG_MAGIC       0x3147464354504b43ULL /* "CKPTCFG1" little-endian */
#define CKPT_CONFIG_VERSION     1

/* struct ckpt_config: byte offsets of each field, all little-endian */
#define CKPT_CFG_MAGIC          0   /* u64: CKPT_CONFIG_MAGIC */
#define CKPT_CFG_VERSION        8   /* u32: CKPT_CONFIG_VERSION */
#define CKPT_CFG_FLAGS          12  /* u32: CKPT_FLAG_* */
#define CKPT_CFG_SELF_VADDR     16  /* u64 vaddr: where this block was placed */
#define CKPT_CFG_ORIG_ENTRY     24  /* u64 vaddr: the program's own e_entry */
#define CKPT_CFG_RT_TEXT        32  /* u64 vaddr: first byte of runtime text (the SUD allowed region) */
#define CKPT_CFG_RT_TEXT_SIZE   40  /* u64 bytes */
#define CKPT_CFG_TRAMP          48  /* u64 vaddr: first trampoline */
#define CKPT_CFG_TRAMP_SIZE     56  /* u64 bytes */
#define CKPT_CFG_SITES          64  /* u32: syscall sites found in the program */
#define CKPT_CFG_SITES_PATCHED  68  /* u32: of those, patched with a trampoline */
#define CKPT_CFG_REDIRECTS      72  /* u64 vaddr: struct ckpt_redirect[], sorted by from */
#define CKPT_CFG_REDIRECT_COUNT 80  /* u32: entries */
#define CKPT_CFG_RESERVED0      84  /* u32: zero */
#define CKPT_CFG_SIZE           88  /* bytes in the block */

/*
 * When the runtime arms the Syscall User Dispatch net. Armed, it costs every system call the
 * kernel's slow entry path (about 18 ns here), so by default it is armed only when the rewriter
 * left sites to it. CKPT_SUD=on|off|auto in the environment overrides these at run time.
 */
#define CKPT_FLAG_SUD_NEEDED    0x1 /* some sites were left to the net: arm it by default */
#define CKPT_FLAG_SUD_ALWAYS    0x2 /* relinked with --sud-net always */
#define CKPT_FLAG_SUD_NEVER     0x4 /* relinked with --sud-net never */

/*
 * struct ckpt_redirect: an int3 left inside a patched window, where an instruction boundary used
 * to be, and the trampoline address that does the same work. A jump that lands there (an indirect
 * branch the rewriter could not see) traps, and the runtime resumes at `to`.
 */
#define CKPT_REDIR_FROM         0   /* u64 vaddr of the int3 byte */
#define CKPT_REDIR_TO           8   /* u64 vaddr in the trampoline */
#define CKPT_REDIR_SIZE         16

/*
 * Trampoline layout around the runtime call (docs/tactics.md):
 *     lea -CKPT_RED_ZONE(%rsp),%rsp ; call rt_shim_entry ; lea CKPT_RED_ZONE(%rsp),%rsp ; ...
 * A child that starts on a new stack, and a vfork parent, resume at the call's return address plus
 * CKPT_TRAMP_RESUME_SKIP, which skips the second lea.
 */
#define CKPT_RED_ZONE           128
#define CKPT_TRAMP_RESUME_SKIP  8

/* Names the rewriter looks up in the runtime object */
#define CKPT_SYM_START          "rt_start"
#define CKPT_SYM_SHIM           "rt_shim_entry"
#define CKPT_SYM_CONFIG         "rt_config"

/* Section names of the added code, as readelf and gdb show them */
#define CKPT_SEC_TEXT           ".ckpt.text"
#define CKPT_SEC_TRAMP          ".ckpt.tramp"
#define CKPT_SEC_RODATA         ".ckpt.rodata"
#define CKPT_SEC_DATA           ".ckpt.data"
#define CKPT_SEC_BSS            ".ckpt.bss"
#define CKPT_SEC_CONFIG         ".ckpt.config"

/* Exit status of a relinked program whose runtime cannot start (bad config block) */
#define CKPT_EXIT_RUNTIME       127

#ifndef __ASSEMBLER__
#include <stdint.h>
struct ckpt_config {
	uint64_t magic;
	uint32_t version;
	uint32_t flags;
	uint64_t self_vaddr;
	uint64_t orig_entry;
	uint64_t rt_text;
	uint64_t rt_text_size;
	uint64_t tramp;
	uint64_t tramp_size;
	uint32_t sites;
	uint32_t sites_patched;
	uint64_t redirects;
	uint32_t redirect_count;
	uint32_t reserved0;
};
struct ckpt_redirect {
	uint64_t from;
	uint64_t to;
};
#define CKPT_CHECK_OFF(f, o) _Static_assert(__builtin_offsetof(struct ckpt_config, f) == (o), #f)
CKPT_CHECK_OFF(magic, CKPT_CFG_MAGIC);
CKPT_CHECK_OFF(version, CKPT_CFG_VERSION);
CKPT_CHECK_OFF(flags, CKPT_CFG_FLAGS);
CKPT_CHECK_OFF(self_vaddr, CKPT_CFG_SELF_VADDR);
CKPT_CHECK_OFF(orig_entry, CKPT_CFG_ORIG_ENTRY);
CKPT_CHECK_OFF(rt_text, CKPT_CFG_RT_TEXT);
CKPT_CHECK_OFF(rt_text_size, CKPT_CFG_RT_TEXT_SIZE);
CKPT_CHECK_OFF(tramp, CKPT_CFG_TRAMP);
CKPT_CHECK_OFF(tramp_size, CKPT_CFG_TRAMP_SIZE);
CKPT_CHECK_OFF(sites, CKPT_CFG_SITES);
CKPT_CHECK_OFF(sites_patched, CKPT_CFG_SITES_PATCHED);
CKPT_CHECK_OFF(redirects, CKPT_CFG_REDIRECTS);
CKPT_CHECK_OFF(redirect_count, CKPT_CFG_REDIRECT_COUNT);
_Static_assert(sizeof(struct ckpt_config) == CKPT_CFG_SIZE, "config size");
_Static_assert(sizeof(struct ckpt_redirect) == CKPT_REDIR_SIZE, "redirect size");
#endif

#endif
