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
/* Dynamically linked programs (docs/dynamic.md); all zero for a static one */
#define CKPT_CFG_LOADER_PHDR    88  /* u64 vaddr: the program headers ld.so is shown (AT_PHDR), PT_INTERP kept */
#define CKPT_CFG_LOADER_PHNUM   96  /* u32: their count (AT_PHNUM) */
#define CKPT_CFG_CARRIED_COUNT  100 /* u32: entries of the carried-object table; the first is ld.so */
#define CKPT_CFG_CARRIED        104 /* u64 vaddr: struct ckpt_carried[] */
#define CKPT_CFG_SIZE           112 /* bytes in the block */

/*
 * struct ckpt_carried: a shared object (ld.so first, then the libraries) carried, patched, inside
 * the relinked file. "object-relative" addresses are the object's own link-time vaddrs.
 */
#define CKPT_CO_FILE_OFFSET     0   /* u64: where the object's bytes start in the relinked file (page-aligned) */
#define CKPT_CO_FILE_SIZE       8   /* u64: its size in bytes */
#define CKPT_CO_FIRST_VADDR     16  /* u64 object-relative: the first PT_LOAD's vaddr, page-aligned down */
#define CKPT_CO_FIRST_OFFSET    24  /* u64: the first PT_LOAD's file offset, page-aligned down */
#define CKPT_CO_SPAN            32  /* u64: bytes from FIRST_VADDR to the end of the slot's page */
#define CKPT_CO_SLOT            40  /* u64 object-relative: the u64 the runtime fills with rt_shim_entry,
                                       first in a page of its own (RW) right after the code area */
#define CKPT_CO_REDIRECTS       48  /* u64 object-relative: struct ckpt_redirect[] (object-relative) */
#define CKPT_CO_REDIRECT_COUNT  56  /* u32 */
#define CKPT_CO_FLAGS           60  /* u32: CKPT_CARRIED_* */
#define CKPT_CO_NAMES           64  /* u64 vaddr: "name\0file\0": what ld.so asks for, and the file's own name */
#define CKPT_CO_AREA            72  /* u64 object-relative, page-aligned: the code area ld.so never sees
                                       (trampolines, redirects), at the same distance in the file */
#define CKPT_CO_AREA_SIZE       80  /* u64: its bytes (RX) */
#define CKPT_CO_SIZE            88
#define CKPT_CARRIED_INTERP     0x1 /* the program interpreter: the runtime maps it itself */
#define CKPT_CARRIED_MAX        1024

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

/*
 * Checkpoint images (docs/image-format.md). A file header, then records; each record is a
 * 40-byte header, a payload, and optionally bulk data (memory contents) at a page-aligned offset
 * in the data area after the records. Every byte is covered by a CRC-32C. Fields are only added.
 */
#define CKPT_IMAGE_MAGIC        0x31474d4954504b43ULL /* "CKPTIMG1" little-endian */
#define CKPT_IMAGE_VERSION      5
#define CKPT_IMAGE_PAGE         4096

#define CKPT_IH_MAGIC           0   /* u64: CKPT_IMAGE_MAGIC */
#define CKPT_IH_VERSION         8   /* u32 */
#define CKPT_IH_RECORDS         12  /* u32: records that follow the header */
#define CKPT_IH_FILE_SIZE       16  /* u64: bytes in the whole file */
#define CKPT_IH_BINARY_ID       24  /* u64: CRC-32C of the config block (0 in the high half) */
#define CKPT_IH_JOB_START       32  /* u64: CLOCK_REALTIME ns of the job's first start (kept across restarts) */
#define CKPT_IH_JOB_NONCE       40  /* u64: random at the job's first start; with JOB_START names the job */
#define CKPT_IH_GENERATION      48  /* u64: restarts of the job << 32 | its checkpoints (CKPT_GEN_*) */
#define CKPT_IH_RESERVED        56  /* u32: zero */
#define CKPT_IH_CRC             60  /* u32: CRC-32C of bytes 0..59 */
#define CKPT_IH_SIZE            64

/* An image replaces the one in place only if it is a newer state: of the same job, a higher
 * generation; of another job, a later JOB_START (docs/image-format.md, "One writer per image") */
#define CKPT_GEN_RESTART_SHIFT  32

#define CKPT_RH_KIND            0   /* u32: CKPT_REC_* */
#define CKPT_RH_FLAGS           4   /* u32: per kind */
#define CKPT_RH_PAYLOAD_SIZE    8   /* u32: payload bytes right after this header */
#define CKPT_RH_PAYLOAD_CRC     12  /* u32 */
#define CKPT_RH_DATA_OFFSET     16  /* u64: file offset of bulk data, page-aligned; 0: none */
#define CKPT_RH_DATA_SIZE       24  /* u64: bulk data bytes */
#define CKPT_RH_DATA_CRC        32  /* u32 */
#define CKPT_RH_CRC             36  /* u32: CRC-32C of bytes 0..35 */
#define CKPT_RH_SIZE            40

#define CKPT_REC_PROCESS        1   /* struct ckpt_rec_process */
#define CKPT_REC_REGS           2   /* struct ckpt_rec_regs, then the xsave area */
#define CKPT_REC_SIGACTIONS     3   /* 64 x struct { u64 handler, flags, restorer, mask } */
#define CKPT_REC_REGION         4   /* struct ckpt_rec_region, the path, the stored extents; data: their pages */
#define CKPT_REC_FILE           5   /* struct ckpt_rec_file; the path at CKPT_RF_PATH_AT */
#define CKPT_REC_CWD            6   /* the working directory, NUL-terminated */
#define CKPT_REC_EXE            7   /* the relinked binary (/proc/self/exe), NUL-terminated */
#define CKPT_REC_RLIMITS        8   /* CKPT_RLIMITS_COUNT x { u64 cur, max } */
#define CKPT_REC_ITIMERS        9   /* 3 x { u64 interval_sec, interval_usec, value_sec, value_usec } */
#define CKPT_REC_SIGINFO        10  /* N x 128-byte siginfo: the signals queued at the checkpoint, in order */
#define CKPT_REC_THREAD         11  /* struct ckpt_rec_thread, one per thread; then (not the leader's) a regs block and its xsave area */
#define CKPT_REC_POSIX_TIMERS   30  /* N x CKPT_PT_SIZE: the program's POSIX timers (timer_create) */
#define CKPT_REC_LOCKS          31  /* N x CKPT_LK_SIZE: the file locks the program held (flock, fcntl, OFD) */
#define CKPT_REC_TASK           32  /* struct ckpt_rec_task: prctl state, scheduling policy and nice value */
#define CKPT_REC_SYSV_SHM       33  /* N x CKPT_SM_SIZE: System V shared memory segments attached */
#define CKPT_REC_GUARDS         34  /* N x { u64 start, end }: guard pages (MADV_GUARD_INSTALL), page-aligned */
#define CKPT_REC_KEPT_MAPS      58  /* N x CKPT_KM_SIZE: private regions mapped from a file whose contents the image keeps */
#define CKPT_REC_SYSV_IPC       57  /* N x CKPT_SI_SIZE: System V message queues and semaphore sets the program used */
#define CKPT_REC_PARENT         40  /* struct ckpt_rec_parent, then the parent's file name: the image is incremental */
#define CKPT_REC_INHERIT        41  /* u64 region start, then extents (CKPT_RE_*): pages of that region the parent holds */

/*
 * An incremental image (docs/image-format.md, "Incremental images"): its memory regions store only
 * the pages written since its parent; the pages a CKPT_REC_INHERIT record lists are the parent's
 * at the same address (found through the parent's own records, down the chain to a full image).
 * The parent is a file in the same directory, named by the NUL-terminated name after this struct.
 */
#define CKPT_PA_GENERATION      0   /* u64: the parent's CKPT_IH_GENERATION (same job as this image) */
#define CKPT_PA_HEADER_CRC      8   /* u32: the parent's CKPT_IH_CRC */
#define CKPT_PA_DEPTH           12  /* u32: incremental links from this image down to the full one (1: the parent is full) */
#define CKPT_PA_SIZE            16  /* then the parent's file name, NUL-terminated */
#define CKPT_INHERIT_EXTENTS    8   /* offset of the first extent in a CKPT_REC_INHERIT payload */
#define CKPT_GUARD_SIZE         16
#define CKPT_RLIMITS_COUNT      16
#define CKPT_SIGINFO_SIZE       128
#define CKPT_ITIMER_SIZE        32

/* struct ckpt_rec_process */
#define CKPT_RP_PID             0   /* u32 */
#define CKPT_RP_TID             4   /* u32 */
#define CKPT_RP_PPID            8   /* u32 */
#define CKPT_RP_SIGNAL          12  /* u32: the signal that made the checkpoint */
#define CKPT_RP_LOAD_BIAS       16  /* u64: run-time address minus link-time vaddr */
#define CKPT_RP_BRK             24  /* u64: the program break */
#define CKPT_RP_XFEATURES       32  /* u64: XCR0 of the CPU that made the image */
#define CKPT_RP_FS_BASE         40  /* u64 */
#define CKPT_RP_UMASK           48  /* u32 */
#define CKPT_RP_CKPT_SIGNAL     52  /* u32: CKPT_SIGNAL, the checkpoint-and-continue signal */
#define CKPT_RP_RSEQ_ADDR       56  /* u64: the program's rseq area, 0 if none registered */
#define CKPT_RP_RSEQ_LEN        64  /* u32 */
#define CKPT_RP_RSEQ_SIG        68  /* u32 */
#define CKPT_RP_ALTSTACK_SP     72  /* u64: sigaltstack at the checkpoint */
#define CKPT_RP_ALTSTACK_SIZE   80  /* u64 */
#define CKPT_RP_ALTSTACK_FLAGS  88  /* u32: SS_DISABLE (2) when none */
#define CKPT_RP_INTERVAL        92  /* u32: CKPT_INTERVAL seconds, 0 when none */
#define CKPT_RP_VACATE_SIGNAL   96  /* u32: CKPT_VACATE_SIGNAL, 0 when none */
#define CKPT_RP_FLAGS           100 /* u32: CKPT_PROC_* */
#define CKPT_RP_TIME            104 /* u64: wall-clock seconds when the checkpoint was made */
#define CKPT_RP_PENDING         112 /* u64: blocked signals pending at the checkpoint (raised again at restart) */
#define CKPT_RP_SIZE            120
#define CKPT_PROC_VACATE        0x1 /* made by the vacate signal: the process then exited */

/* struct ckpt_rec_regs: the interrupted context, as the signal frame held it */
#define CKPT_RR_UC_FLAGS        0   /* u64 */
#define CKPT_RR_GREGS           8   /* u64[23], in ucontext gregs order */
#define CKPT_RR_SIGMASK         192 /* u64 */
#define CKPT_RR_XSAVE_SIZE      200 /* u32: bytes of the xsave area that follow */
#define CKPT_RR_RESERVED        204 /* u32 */
#define CKPT_RR_SIZE            208

/* struct ckpt_rec_thread: one thread's own state. The leader (the thread that took the checkpoint
 * signal) has its registers in CKPT_REC_REGS; every other thread's follow at CKPT_RT_REGS, laid out
 * as a CKPT_REC_REGS payload (CKPT_RR_*, then the xsave area) */
#define CKPT_RT_TID             0   /* u32: the tid the program knows */
#define CKPT_RT_FLAGS           4   /* u32: CKPT_THREAD_* */
#define CKPT_RT_FS_BASE         8   /* u64 */
#define CKPT_RT_CLEAR_TID       16  /* u64: clear_child_tid (set_tid_address), 0 when none */
#define CKPT_RT_ROBUST_HEAD     24  /* u64: the robust futex list (set_robust_list), 0 when none */
#define CKPT_RT_ROBUST_LEN      32  /* u64 */
#define CKPT_RT_RSEQ_ADDR       40  /* u64: the thread's rseq area, 0 if none registered */
#define CKPT_RT_RSEQ_LEN        48  /* u32 */
#define CKPT_RT_RSEQ_SIG        52  /* u32 */
#define CKPT_RT_ALTSTACK_SP     56  /* u64: sigaltstack at the checkpoint */
#define CKPT_RT_ALTSTACK_SIZE   64  /* u64 */
#define CKPT_RT_ALTSTACK_FLAGS  72  /* u32: SS_DISABLE (2) when none */
#define CKPT_RT_SLOT            76  /* u32: the runtime's own slot for the thread (its table index) */
#define CKPT_RT_SIZE            80
#define CKPT_RT_REGS            80  /* not the leader: CKPT_RR_SIZE bytes, then CKPT_RR_XSAVE_SIZE bytes */
#define CKPT_THREAD_LEADER      0x1 /* took the checkpoint signal: restarted in the process's first thread */

/* struct ckpt_rec_region */
#define CKPT_RG_START           0   /* u64 */
#define CKPT_RG_END             8   /* u64 */
#define CKPT_RG_OFFSET          16  /* u64: file offset of the mapping, as /proc/self/maps shows it */
#define CKPT_RG_PROT            24  /* u32: PROT_* */
#define CKPT_RG_ROLE            28  /* u32: CKPT_ROLE_* */
#define CKPT_RG_FILE_SIZE       32  /* u64: with CKPT_REGION_FILE, st_size of the file at the checkpoint */
#define CKPT_RG_MTIME_SEC       40  /* u64: with CKPT_REGION_FILE, st_mtime of the file */
#define CKPT_RG_MTIME_NSEC      48  /* u32 */
#define CKPT_RG_ADVICE          52  /* u32: CKPT_VM_*, the region's VmFlags a restart sets again (0 before) */
#define CKPT_RG_SIZE            56  /* then the path, NUL-terminated, then zeros to a multiple of 8, then extents */

#define CKPT_ROLE_MEMORY        0   /* contents in the data area (or none when unreadable) */
#define CKPT_ROLE_VVAR          1   /* the kernel's: never restored, the new one is moved here */
#define CKPT_ROLE_VVAR_VCLOCK   2
#define CKPT_ROLE_VDSO          3
#define CKPT_REGION_HAS_DATA    0x1 /* record flag */
#define CKPT_REGION_SHARED      0x2 /* record flag: a MAP_SHARED mapping (restored private) */
#define CKPT_REGION_FILE        0x4 /* record flag: pages not stored are the file's (path, or the binary) */
#define CKPT_REGION_BINARY      0x8 /* record flag: the file is the relinked binary (/proc/self/exe at restart) */
#define CKPT_REGION_SHARED_FILE 0x10 /* record flag: MAP_SHARED from the file at its path, mapped shared again;
                                        no contents stored (they are the file's); FILE_SIZE is its size */

/* What madvise, mlock and mmap set on a region (its /proc/self/smaps VmFlags), set again at restart */
#define CKPT_VM_LOCKED          0x1   /* lo: mlock */
#define CKPT_VM_LOCKONFAULT     0x2   /* lf: mlock2(MLOCK_ONFAULT) */
#define CKPT_VM_DONTFORK        0x4   /* dc: MADV_DONTFORK */
#define CKPT_VM_DONTDUMP        0x8   /* dd: MADV_DONTDUMP */
#define CKPT_VM_HUGEPAGE        0x10  /* hg: MADV_HUGEPAGE */
#define CKPT_VM_NOHUGEPAGE      0x20  /* nh: MADV_NOHUGEPAGE */
#define CKPT_VM_RANDOM          0x40  /* rr: MADV_RANDOM */
#define CKPT_VM_SEQUENTIAL      0x80  /* sr: MADV_SEQUENTIAL */
#define CKPT_VM_WIPEONFORK      0x100 /* wf: MADV_WIPEONFORK */
#define CKPT_VM_MERGEABLE       0x200 /* mg: MADV_MERGEABLE */
#define CKPT_VM_GROWSDOWN       0x400 /* gd: MAP_GROWSDOWN */
#define CKPT_VM_HUGETLB         0x800 /* ht: MAP_HUGETLB (huge pages of the default size) */

/* A region record's stored extent: pages [first, first + count) of the region, back to back in its data */
#define CKPT_RE_FIRST           0   /* u64: page index from the region's start */
#define CKPT_RE_COUNT           8   /* u64: pages, at least 1 */
#define CKPT_RE_SIZE            16

/* struct ckpt_rec_file */
#define CKPT_RF_FD              0   /* u32 */
#define CKPT_RF_FLAGS           4   /* u32: open flags (F_GETFL) */
#define CKPT_RF_OFFSET          8   /* u64: 0 when not seekable */
#define CKPT_RF_TYPE            16  /* u32: CKPT_FT_* */
#define CKPT_RF_FD_FLAGS        20  /* u32: descriptor flags (F_GETFD: FD_CLOEXEC) */
#define CKPT_RF_FILE_SIZE       24  /* u64: st_size at the checkpoint */
#define CKPT_RF_MTIME_SEC       32  /* u64: st_mtime at the checkpoint */
#define CKPT_RF_MTIME_NSEC      40  /* u32 */
#define CKPT_RF_PATH_AT         44  /* u32: payload offset of the path (NUL-terminated) */
#define CKPT_RF_SAME_AS         48  /* u32: lower fd sharing this open file description, or ~0 */
#define CKPT_RF_RESERVED        52  /* u32: zero */
#define CKPT_RF_TERMIOS         56  /* 36 bytes: the kernel's struct termios (TCGETS), terminals only */
#define CKPT_RF_WINSIZE         96  /* 8 bytes: struct winsize (TIOCGWINSZ), terminals only */
#define CKPT_RF_SIZE            104 /* fixed part; the path follows at CKPT_RF_PATH_AT */
#define CKPT_RF_TERMIOS_SIZE    36
#define CKPT_FILE_HAS_TERMIOS   0x1 /* record flag: termios and winsize were read */

#define CKPT_FT_REGULAR         1   /* reopened by path at its offset */
#define CKPT_FT_DIRECTORY       2   /* reopened by path at its offset */
#define CKPT_FT_CHAR            3   /* a device (/dev/null...): reopened by path */
#define CKPT_FT_TERMINAL        4   /* taken over from the restarting process, termios restored */
#define CKPT_FT_PIPE            5   /* not restorable: see docs/limits.md */
#define CKPT_FT_SOCKET          6   /* not restorable: see docs/limits.md */
#define CKPT_FT_OTHER           7   /* not restorable (eventfd, epoll, block devices...) */

/*
 * Kernel objects a descriptor may be (runtime/ckpt/kobjects.c, fdata.c): one record per object,
 * naming the descriptor (the lowest that holds it) whose CKPT_REC_FILE record it completes. A
 * descriptor of type CKPT_FT_PIPE or CKPT_FT_OTHER with no such record is not restorable.
 */
#define CKPT_REC_PIPE           20  /* struct ckpt_rec_pipe, then the unread bytes */
#define CKPT_REC_EVENTFD        21  /* struct ckpt_rec_eventfd */
#define CKPT_REC_TIMERFD        22  /* struct ckpt_rec_timerfd */
#define CKPT_REC_SIGNALFD       23  /* struct ckpt_rec_signalfd */
#define CKPT_REC_EPOLL          24  /* struct ckpt_rec_epoll, then COUNT x CKPT_EPOLL_ENTRY_SIZE */
#define CKPT_REC_FILE_DATA      25  /* struct ckpt_rec_file_data, then its extents; data: their bytes */
#define CKPT_REC_FOWN           26  /* struct ckpt_rec_fown: F_SETOWN_EX and F_SETSIG of a descriptor */
#define CKPT_REC_INOTIFY        27  /* struct ckpt_rec_inotify, COUNT x CKPT_INOTIFY_ENTRY_SIZE, then their paths */
#define CKPT_REC_FIFO           55  /* struct ckpt_rec_fifo, then (the FIFO's lowest descriptor only) its unread bytes */
#define CKPT_REC_SYMLINK        56  /* struct ckpt_rec_symlink, then the link's target, NUL-terminated */

/*
 * A socket (runtime/ckpt/sockets.c), completing its descriptor's CKPT_REC_FILE record: its kind,
 * what it is bound and connected to, the options it changed from a new socket's, its classic BPF
 * filter and its unread messages; or, at REFUSAL_AT, the words a restart refuses it with.
 */
#define CKPT_REC_SOCKET         50  /* struct ckpt_rec_socket, OPTIONS x CKPT_SOCK_OPTION_SIZE, FILTER x 8 bytes, MESSAGES, the refusal */
#define CKPT_RSK_FD             0   /* u32 */
#define CKPT_RSK_FAMILY         4   /* u32: AF_UNIX, AF_INET or AF_INET6 */
#define CKPT_RSK_TYPE           8   /* u32: SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET */
#define CKPT_RSK_PROTOCOL       12  /* u32: SO_PROTOCOL */
#define CKPT_RSK_ROLE           16  /* u32: CKPT_SOCK_* */
#define CKPT_RSK_SHUTDOWN       20  /* u32: bit 0 receives shut down, bit 1 sends (the kernel's sk_shutdown) */
#define CKPT_RSK_INODE          24  /* u64: N of its "socket:[N]" */
#define CKPT_RSK_PEER           32  /* u64: AF_UNIX: the inode of the socket it is connected to, 0 none or closed */
#define CKPT_RSK_BACKLOG        40  /* u32: listen()'s backlog */
#define CKPT_RSK_ADDR_LEN       44  /* u32: bytes of ADDR; 0 or 2 (AF_UNIX) when unbound */
#define CKPT_RSK_ADDR           48  /* 128 bytes: getsockname's address */
#define CKPT_RSK_PEER_ADDR_LEN  176 /* u32: bytes of PEER_ADDR; 0 when not connected */
#define CKPT_RSK_PEER_ADDR      180 /* 128 bytes: getpeername's address */
#define CKPT_RSK_OPTIONS        308 /* u32: option entries after the fixed part */
#define CKPT_RSK_FILTER         312 /* u32: classic BPF instructions (struct sock_filter) after the options */
#define CKPT_RSK_MESSAGES       316 /* u32: unread messages after the filter: each a u32 length, its bytes, padding to 4 */
#define CKPT_RSK_REFUSAL_AT     320 /* u32: payload offset of the refusal (NUL-terminated); 0 when restorable */
#define CKPT_RSK_FLAGS          324 /* u32: CKPT_SOCK_NAME_GONE */
#define CKPT_RSK_SIZE           328
#define CKPT_SOCK_NAME_GONE     1   /* AF_UNIX bound to a path whose file was removed or replaced since */
#define CKPT_SOCK_OPTION_SIZE   28  /* u32 level, u32 name, u32 length, 16 bytes of value (getsockopt's) */
#define CKPT_SOCK_VALUE_MAX     16

/* CKPT_RSK_ROLE */
#define CKPT_SOCK_PLAIN         0   /* not connected: made, bound to ADDR when it has one */
#define CKPT_SOCK_LISTENING     1   /* bound to ADDR and listening */
#define CKPT_SOCK_PAIRED        2   /* AF_UNIX, connected to PEER, a socket the process holds too */
#define CKPT_SOCK_PEER_CLOSED   3   /* AF_UNIX, connected to a socket since closed */
#define CKPT_SOCK_CONNECTED     4   /* datagrams, connected to PEER_ADDR: connected again */
#define CKPT_SOCK_TCP_CONNECTED 5   /* a TCP connection: refused, or made closed (CKPT_TCP_CLOSE=1) */
#define CKPT_SOCK_TCP_CLOSED    6   /* a TCP connection both ends closed (TCP_CLOSE, shut down): made closed */
#define CKPT_SOCK_ACCEPTED      7   /* AF_UNIX, connected to PEER through a listener the image holds: connected and accepted again */

/* struct ckpt_rec_pipe: a pipe whose every end the process holds */
#define CKPT_RPI_INODE          0   /* u64: the pipe's inode at the checkpoint ("pipe:[N]" in the file records) */
#define CKPT_RPI_CAPACITY       8   /* u32: F_GETPIPE_SZ */
#define CKPT_RPI_BYTES          12  /* u32: unread bytes that follow the fixed part */
#define CKPT_RPI_SIZE           16

/* struct ckpt_rec_fifo: one per descriptor of a named FIFO (mkfifo) the process holds alone */
#define CKPT_RFI_FD             0   /* u32 */
#define CKPT_RFI_FIRST          4   /* u32: the FIFO's lowest descriptor, whose record holds the unread bytes */
#define CKPT_RFI_MODE           8   /* u32: its permission bits (made again with them when it was unlinked) */
#define CKPT_RFI_CAPACITY       12  /* u32: F_GETPIPE_SZ */
#define CKPT_RFI_BYTES          16  /* u32: unread bytes that follow the fixed part (0 but in FIRST's record) */
#define CKPT_RFI_RESERVED       20  /* u32: zero */
#define CKPT_RFI_SIZE           24

/* struct ckpt_rec_symlink: an O_PATH|O_NOFOLLOW descriptor of a symbolic link */
#define CKPT_RSL_FD             0   /* u32 */
#define CKPT_RSL_RESERVED       4   /* u32: zero */
#define CKPT_RSL_SIZE           8   /* then the link's target (readlinkat), NUL-terminated */

/* struct ckpt_rec_eventfd */
#define CKPT_REV_FD             0   /* u32 */
#define CKPT_REV_FLAGS          4   /* u32: CKPT_EVENTFD_* */
#define CKPT_REV_COUNT          8   /* u64: the counter */
#define CKPT_REV_SIZE           16
#define CKPT_EVENTFD_SEMAPHORE  0x1 /* EFD_SEMAPHORE */

/* struct ckpt_rec_timerfd: remaining time as the timer's clock counted it at the checkpoint */
#define CKPT_RTF_FD             0   /* u32 */
#define CKPT_RTF_CLOCK          4   /* u32: clockid */
#define CKPT_RTF_SETTIME_FLAGS  8   /* u32: TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET */
#define CKPT_RTF_RESERVED       12  /* u32: zero */
#define CKPT_RTF_TICKS          16  /* u64: expirations not yet read */
#define CKPT_RTF_VALUE_SEC      24  /* u64: time to the next expiration; 0 and 0: disarmed */
#define CKPT_RTF_VALUE_NSEC     32  /* u64 */
#define CKPT_RTF_INTERVAL_SEC   40  /* u64 */
#define CKPT_RTF_INTERVAL_NSEC  48  /* u64 */
#define CKPT_RTF_NOW_SEC        56  /* u64: the clock's time at the checkpoint */
#define CKPT_RTF_NOW_NSEC       64  /* u64 */
#define CKPT_RTF_SIZE           72

/* struct ckpt_rec_signalfd */
#define CKPT_RSF_FD             0   /* u32 */
#define CKPT_RSF_RESERVED       4   /* u32: zero */
#define CKPT_RSF_MASK           8   /* u64: the signals it reads */
#define CKPT_RSF_SIZE           16

/* struct ckpt_rec_epoll, then one entry per registered descriptor */
#define CKPT_REP_FD             0   /* u32 */
#define CKPT_REP_COUNT          4   /* u32: entries */
#define CKPT_REP_SIZE           8
#define CKPT_EPOLL_TFD          0   /* u32: the registered descriptor */
#define CKPT_EPOLL_EVENTS       4   /* u32: its events, as registered (EPOLLET, EPOLLONESHOT...) */
#define CKPT_EPOLL_DATA         8   /* u64: its data */
#define CKPT_EPOLL_ENTRY_SIZE   16

/* struct ckpt_rec_file_data: a file with no name to reopen, kept in the image */
#define CKPT_RFD_FD             0   /* u32 */
#define CKPT_RFD_KIND           4   /* u32: CKPT_FDATA_* */
#define CKPT_RFD_FILE_SIZE      8   /* u64: st_size */
#define CKPT_RFD_SEALS          16  /* u32: F_GET_SEALS (memfd) */
#define CKPT_RFD_MODE           20  /* u32: permission bits */
#define CKPT_RFD_EXTENTS        24  /* u32: extents that follow; the bytes between them are holes */
#define CKPT_RFD_SAME_FILE      28  /* u32: a lower descriptor of the same file (another open of it), or ~0 */
#define CKPT_RFD_SIZE           32
#define CKPT_FDATA_OFFSET       0   /* u64: extent's file offset */
#define CKPT_FDATA_LENGTH       8   /* u64: its bytes, back to back in the record's data */
#define CKPT_FDATA_EXTENT_SIZE  16
#define CKPT_FDATA_UNLINKED     1   /* a file unlinked while open: created at its path, unlinked again */
#define CKPT_FDATA_TMPFILE      2   /* an O_TMPFILE file: made again with O_TMPFILE in its directory */
#define CKPT_FDATA_MEMFD        3   /* memfd_create: made again with its name, contents and seals */
#define CKPT_FDATA_MAX          268435456 /* 256 MiB: data bytes one file may keep in an image */

/* struct ckpt_rec_inotify: an inotify instance and its watches, by path */
#define CKPT_RIN_FD             0   /* u32 */
#define CKPT_RIN_COUNT          4   /* u32: watches that follow */
#define CKPT_RIN_SIZE           8
#define CKPT_INOTIFY_WD         0   /* u32: the watch descriptor, made the same again */
#define CKPT_INOTIFY_MASK       4   /* u32: its mask (IN_* events, IN_ONESHOT, IN_DONT_FOLLOW, IN_ONLYDIR...) */
#define CKPT_INOTIFY_PATH_AT    8   /* u32: payload offset of its absolute path, NUL-terminated */
#define CKPT_INOTIFY_RESERVED   12  /* u32: zero */
#define CKPT_INOTIFY_ENTRY_SIZE 16
#define CKPT_INOTIFY_MAX_SKIP   65536 /* watch numbers a restart steps over to give a watch its number */

/* struct ckpt_rec_fown: where O_ASYNC's signal goes */
#define CKPT_RFO_FD             0   /* u32 */
#define CKPT_RFO_SIGNAL         4   /* u32: F_GETSIG (0: SIGIO) */
#define CKPT_RFO_OWNER_TYPE     8   /* u32: F_OWNER_TID, F_OWNER_PID or F_OWNER_PGRP */
#define CKPT_RFO_OWNER          12  /* u32: the id as the program knows it (its own pid or tid: the old run's) */
#define CKPT_RFO_SIZE           16
/* A POSIX timer (CKPT_REC_POSIX_TIMERS entry): made again with the same id, armed with what was left */
#define CKPT_PT_ID              0   /* i32: the id timer_create gave the program */
#define CKPT_PT_CLOCK           4   /* i32: its clock; a CPU clock of this process or thread with pid 0 (self) */
#define CKPT_PT_SIGNO           8   /* u32: sigev_signo */
#define CKPT_PT_NOTIFY          12  /* u32: sigev_notify: SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD_ID (the leader), | CKPT_PT_OTHER_THREAD */
#define CKPT_PT_OTHER_THREAD    0x40000000 /* flag in NOTIFY: it signals another thread (glibc's SIGEV_THREAD helper): refused */
#define CKPT_PT_VALUE           16  /* u64: sigev_value */
#define CKPT_PT_INTERVAL_SEC    24  /* i64: it_interval */
#define CKPT_PT_INTERVAL_NSEC   32  /* i64 */
#define CKPT_PT_LEFT_SEC        40  /* i64: it_value, the time left (0 0: disarmed) */
#define CKPT_PT_LEFT_NSEC       48  /* i64 */
#define CKPT_PT_SIZE            56

/* A file lock (CKPT_REC_LOCKS entry), as /proc/self/fdinfo showed it on the descriptor it was taken through */
#define CKPT_LK_FD              0   /* u32 */
#define CKPT_LK_KIND            4   /* u32: CKPT_LOCK_* */
#define CKPT_LK_TYPE            8   /* u32: F_RDLCK (0) or F_WRLCK (1) */
#define CKPT_LK_RESERVED        12  /* u32: zero */
#define CKPT_LK_START           16  /* u64: first byte */
#define CKPT_LK_END             24  /* u64: last byte, ~0 for "to the end of the file" */
#define CKPT_LK_SIZE            32
#define CKPT_LOCK_FLOCK         1   /* flock(2): the open file description's */
#define CKPT_LOCK_POSIX         2   /* fcntl F_SETLK: the process's */
#define CKPT_LOCK_OFD           3   /* fcntl F_OFD_SETLK: the open file description's */
#define CKPT_LOCK_OTHER         4   /* a lease or another kind: a restart refuses the image */

/* A System V shared memory segment attached (CKPT_REC_SYSV_SHM entry); its region record holds its contents */
#define CKPT_SM_START           0   /* u64: the address it is attached at (a region's start) */
#define CKPT_SM_BYTES           8   /* u64: the segment's size */
#define CKPT_SM_ID              16  /* u32: its id (shmid) */
#define CKPT_SM_KEY             20  /* u32: its key (0: IPC_PRIVATE) */
#define CKPT_SM_MODE            24  /* u32: its permissions, with SHM_DEST (01000) once removed (IPC_RMID) */
#define CKPT_SM_ATTACHES        28  /* u32: attaches at the checkpoint, all processes counted */
#define CKPT_SM_SIZE            32

/* A private region mapped from an unlinked file, O_TMPFILE file or memfd the image keeps for a
 * descriptor (CKPT_REC_KEPT_MAPS entry): mapped from the file made again for that descriptor */
#define CKPT_KM_START           0   /* u64: the region's start */
#define CKPT_KM_FD              8   /* u32: the descriptor whose CKPT_REC_FILE_DATA holds the file */
#define CKPT_KM_RESERVED        12  /* u32: zero */
#define CKPT_KM_SIZE            16

/* A System V message queue or semaphore set the program used (CKPT_REC_SYSV_IPC entry), still there
 * at the checkpoint: it outlives the process in the kernel, as a file does */
#define CKPT_SI_KIND            0   /* u32: CKPT_SYSV_MSG or CKPT_SYSV_SEM */
#define CKPT_SI_ID              4   /* u32: its id, which the program holds */
#define CKPT_SI_KEY             8   /* u32: its key (0: IPC_PRIVATE) */
#define CKPT_SI_FLAGS           12  /* u32: CKPT_SYSV_UNDO */
#define CKPT_SI_COUNT           16  /* u64: messages in the queue, or semaphores in the set */
#define CKPT_SI_CHANGED         24  /* u64: its last change, s (the latest of msg_stime, msg_rtime, msg_ctime; of sem_otime, sem_ctime) */
#define CKPT_SI_SIZE            32
#define CKPT_SYSV_MSG           1
#define CKPT_SYSV_SEM           2
#define CKPT_SYSV_UNDO          1   /* the program changed the set with SEM_UNDO */

/* struct ckpt_rec_task: what prctl and the scheduler hold for the process */
#define CKPT_TK_NAME            0   /* 16 bytes: PR_GET_NAME, NUL-terminated */
#define CKPT_TK_DUMPABLE        16  /* u32: PR_GET_DUMPABLE */
#define CKPT_TK_PDEATHSIG       20  /* u32: PR_GET_PDEATHSIG */
#define CKPT_TK_SUBREAPER       24  /* u32: PR_GET_CHILD_SUBREAPER */
#define CKPT_TK_NO_NEW_PRIVS    28  /* u32: PR_GET_NO_NEW_PRIVS */
#define CKPT_TK_POLICY          32  /* u32: sched_getscheduler, SCHED_RESET_ON_FORK included */
#define CKPT_TK_PRIORITY        36  /* u32: sched_priority (real-time policies) */
#define CKPT_TK_NICE            40  /* i32: the nice value, -20..19 */
#define CKPT_TK_SECCOMP         44  /* u32: the seccomp mode (/proc/self/status); a filter is refused */
#define CKPT_TK_THP_DISABLE     48  /* u32: PR_GET_THP_DISABLE */
#define CKPT_TK_RESERVED        52  /* u32: zero */
#define CKPT_TK_TIMERSLACK      56  /* u64: PR_GET_TIMERSLACK, ns */
#define CKPT_TK_ROBUST_LIST     64  /* u64: get_robust_list: glibc's list of robust mutexes held */
#define CKPT_TK_ROBUST_LEN      72  /* u64 */
#define CKPT_TK_MEMBARRIER      80  /* u32: MEMBARRIER_CMD_GET_REGISTRATIONS: the REGISTER_* commands made */
#define CKPT_TK_OOM_SCORE_ADJ   84  /* u32: /proc/self/oom_score_adj, -1000..1000 (signed) */
#define CKPT_TK_SIZE            88

/* Exit status of a restart refused before anything was torn down */
#define CKPT_EXIT_BAD_IMAGE     2
/* Exit status after the vacate signal's checkpoint: "requeue me" to HTCondor and Slurm setups */
#define CKPT_EXIT_VACATED       85

/*
 * Shadow protocol (docs/shadow-protocol.md): frames of a 16-byte header and a payload, over TCP.
 * Little-endian. A frame with another magic or version, or a payload over CKPT_SH_MAX_PAYLOAD,
 * closes the connection.
 */
#define CKPT_SH_MAGIC           0x48534b43  /* "CKSH" */
#define CKPT_SH_VERSION         1
#define CKPT_SH_H_MAGIC         0   /* u32 */
#define CKPT_SH_H_VERSION       4   /* u16 */
#define CKPT_SH_H_TYPE          6   /* u16: CKPT_SH_HELLO ... */
#define CKPT_SH_H_SEQ           8   /* u32: a request's number; its reply carries it back */
#define CKPT_SH_H_LENGTH        12  /* u32: payload bytes */
#define CKPT_SH_HEADER          16
#define CKPT_SH_MAX_DATA        1048576 /* file bytes in one request or reply */
#define CKPT_SH_MAX_PATH        4096    /* bytes of a path, its NUL included */
#define CKPT_SH_MAX_PAYLOAD     1056768 /* CKPT_SH_MAX_DATA + 8 KiB */
#define CKPT_SH_NONCE           32
#define CKPT_SH_MAC             32      /* HMAC-SHA256 */

#define CKPT_SH_HELLO           1   /* server: nonce[32], then the policy text */
#define CKPT_SH_AUTH            2   /* client: nonce[32], mac[32], pid u32, kind u32 */
#define CKPT_SH_WELCOME         3   /* server: mac[32], session u64 */
#define CKPT_SH_DENIED          4   /* server: the reason, text; then it closes */
#define CKPT_SH_REQUEST         5   /* client: CKPT_SH_RQ_* fields, then path or data */
#define CKPT_SH_REPLY           6   /* server: result i64 (-errno on failure), then data */

#define CKPT_SH_AUTH_NONCE      0
#define CKPT_SH_AUTH_MAC        32
#define CKPT_SH_AUTH_PID        64
#define CKPT_SH_AUTH_KIND       68
#define CKPT_SH_AUTH_SIZE       72
#define CKPT_SH_KIND_JOB        1   /* the job's first process: its exit is the job's */
#define CKPT_SH_KIND_CHILD      2   /* a process the job forked */
#define CKPT_SH_KIND_AGAIN      0x100 /* flag: a session taken up again after a lost connection */
#define CKPT_SH_WELCOME_MAC     0
#define CKPT_SH_WELCOME_SESSION 32
#define CKPT_SH_WELCOME_SIZE    40

#define CKPT_SH_RQ_OP           0   /* u32: CKPT_SH_OP_* */
#define CKPT_SH_RQ_HANDLE       4   /* u32: a handle OPEN gave */
#define CKPT_SH_RQ_FLAGS        8   /* u32 */
#define CKPT_SH_RQ_COUNT        12  /* u32: byte count, or a mode */
#define CKPT_SH_RQ_OFFSET       16  /* u64 */
#define CKPT_SH_RQ_SIZE         24  /* then the tail: a path (NUL-terminated) or data */
#define CKPT_SH_RP_RESULT       0   /* i64 */
#define CKPT_SH_RP_SIZE         8   /* then data */

#define CKPT_SH_OP_OPEN         1   /* flags: open flags, count: mode, tail: path; result: handle */
#define CKPT_SH_OP_CLOSE        2   /* handle */
#define CKPT_SH_OP_PREAD        3   /* handle, count, offset; data: the bytes */
#define CKPT_SH_OP_PWRITE       4   /* handle, flags: CKPT_SH_APPEND, offset, tail: data; data: u64 offset after */
#define CKPT_SH_OP_FSTAT        5   /* handle; data: struct stat, as the x86-64 kernel lays it out */
#define CKPT_SH_OP_STAT         6   /* flags: CKPT_SH_NOFOLLOW, tail: path; data: struct stat */
#define CKPT_SH_OP_ACCESS       7   /* count: mode, tail: path */
#define CKPT_SH_OP_GETDENTS     8   /* handle, count: bytes, offset: entry index; data: linux_dirent64 */
#define CKPT_SH_OP_MKDIR        9   /* count: mode, tail: path */
#define CKPT_SH_OP_RMDIR        10  /* tail: path */
#define CKPT_SH_OP_UNLINK       11  /* tail: path */
#define CKPT_SH_OP_RENAME       12  /* tail: old path, NUL, new path, NUL */
#define CKPT_SH_OP_READLINK     13  /* tail: path; data: the target (result: its length) */
#define CKPT_SH_OP_FTRUNCATE    14  /* handle, offset: the length */
#define CKPT_SH_OP_FSYNC        15  /* handle */
#define CKPT_SH_OP_CHDIR        16  /* tail: path; result 0 when it is a directory the job may enter */
#define CKPT_SH_OP_EXIT         17  /* count: the exit status (wait status form) */
#define CKPT_SH_APPEND          1
#define CKPT_SH_NOFOLLOW        1

/* STAT and FSTAT data: struct stat as the x86-64 kernel fills it (runtime/arch/x86_64/abi.h checks
 * its struct rt_stat against these). size, blksize, blocks and the seconds are signed. */
#define CKPT_SH_STAT_DEV        0   /* u64 */
#define CKPT_SH_STAT_INO        8   /* u64 */
#define CKPT_SH_STAT_NLINK      16  /* u64 */
#define CKPT_SH_STAT_MODE       24  /* u32 */
#define CKPT_SH_STAT_UID        28  /* u32 */
#define CKPT_SH_STAT_GID        32  /* u32, then 4 bytes of padding */
#define CKPT_SH_STAT_RDEV       40  /* u64 */
#define CKPT_SH_STAT_SZ         48  /* i64: the file's size in bytes */
#define CKPT_SH_STAT_BLKSIZE    56  /* i64 */
#define CKPT_SH_STAT_BLOCKS     64  /* i64: 512-byte blocks */
#define CKPT_SH_STAT_ATIME      72  /* i64 seconds, then u64 nanoseconds (0..999999999) */
#define CKPT_SH_STAT_MTIME      88  /* likewise */
#define CKPT_SH_STAT_CTIME      104 /* likewise; then 24 reserved bytes, zero */
#define CKPT_SH_STAT_SIZE       144

/* GETDENTS data: linux_dirent64 records, each padded to a multiple of CKPT_SH_DIRENT_ALIGN bytes */
#define CKPT_SH_DIRENT_INO      0   /* u64 */
#define CKPT_SH_DIRENT_OFF      8   /* i64: the index to ask for next */
#define CKPT_SH_DIRENT_RECLEN   16  /* u16: this record's length */
#define CKPT_SH_DIRENT_TYPE     18  /* u8: DT_* */
#define CKPT_SH_DIRENT_NAME     19  /* the name and its NUL */
#define CKPT_SH_DIRENT_ALIGN    8

/* The metadata calls (issue 13). Paths in tails are NUL-terminated, as for OPEN. */
#define CKPT_SH_OP_SYMLINK      18  /* tail: the link's text, NUL, the new link's path, NUL */
#define CKPT_SH_OP_LINK         19  /* flags: CKPT_SH_FOLLOW, tail: existing path, NUL, new path, NUL */
#define CKPT_SH_OP_CHMOD        20  /* flags: CKPT_SH_NOFOLLOW, count: mode, tail: path */
#define CKPT_SH_OP_FCHMOD       21  /* handle, count: mode */
#define CKPT_SH_OP_CHOWN        22  /* flags: CKPT_SH_NOFOLLOW, count: uid, offset: gid (0xffffffff: unchanged), tail: path */
#define CKPT_SH_OP_FCHOWN       23  /* handle, count: uid, offset: gid */
#define CKPT_SH_OP_UTIMENS      24  /* flags: CKPT_SH_NOFOLLOW, tail: CKPT_SH_TIMES_SIZE bytes of times, then path */
#define CKPT_SH_OP_FUTIMENS     25  /* handle, tail: CKPT_SH_TIMES_SIZE bytes of times */
#define CKPT_SH_OP_MKNOD        26  /* count: mode with its type (FIFO or regular), offset: dev, tail: path */
#define CKPT_SH_OP_STATFS       27  /* tail: path; data: struct statfs (CKPT_SH_STATFS_*) */
#define CKPT_SH_OP_FSTATFS      28  /* handle; data: struct statfs */
#define CKPT_SH_OP_FALLOCATE    29  /* handle, flags: fallocate's mode, offset, tail: u64 length */
#define CKPT_SH_OP_COPY         30  /* handle: from, count: bytes, offset: from where, tail: CKPT_SH_COPY_* */
#define CKPT_SH_FOLLOW          1   /* LINK: the existing path's last symlink is followed */
#define CKPT_SH_NOREPLACE       1   /* RENAME flags: renameat2's RENAME_NOREPLACE */
#define CKPT_SH_EXCHANGE        2   /* RENAME flags: RENAME_EXCHANGE (answered EINVAL: see the doc) */
/* UTIMENS and FUTIMENS times: atime then mtime, each i64 seconds and u64 nanoseconds, or the
 * nanoseconds CKPT_SH_UTIME_NOW (the server's clock) or CKPT_SH_UTIME_OMIT (left as it is) */
#define CKPT_SH_TIMES_SIZE      32
#define CKPT_SH_UTIME_NOW       0x3fffffff
#define CKPT_SH_UTIME_OMIT      0x3ffffffe
/* COPY tail: the handle written to (u32, then 4 bytes of zero) and the offset written at (u64) */
#define CKPT_SH_COPY_TO         0
#define CKPT_SH_COPY_AT         8
#define CKPT_SH_COPY_SIZE       16
/* STATFS data: struct statfs as the x86-64 kernel fills it; every field an i64 */
#define CKPT_SH_STATFS_TYPE     0
#define CKPT_SH_STATFS_BSIZE    8
#define CKPT_SH_STATFS_BLOCKS   16
#define CKPT_SH_STATFS_BFREE    24
#define CKPT_SH_STATFS_BAVAIL   32
#define CKPT_SH_STATFS_FILES    40
#define CKPT_SH_STATFS_FFREE    48
#define CKPT_SH_STATFS_FSID     56  /* two i32 */
#define CKPT_SH_STATFS_NAMELEN  64
#define CKPT_SH_STATFS_FRSIZE   72
#define CKPT_SH_STATFS_FLAGS    80  /* then 32 bytes of zero */
#define CKPT_SH_STATFS_SIZE     120

/* The handshake's MACs: HMAC-SHA256 keyed with the token, over the label then the fields
 * (docs/shadow-protocol.md). The token is the token file's bytes without the CR and LF bytes at
 * its end, however many: a file saved with CRLF line ends, or with a blank line after the token,
 * gives the same token on both sides. */
#define CKPT_SH_AUTH_LABEL      "ckpt-shadow-auth-v1"
#define CKPT_SH_WELCOME_LABEL   "ckpt-shadow-welcome-v1"

/* Exit status of a job whose shadow stayed away longer than CKPT_SHADOW_RETRY seconds */
#define CKPT_EXIT_SHADOW_LOST   86

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
	uint64_t loader_phdr;
	uint32_t loader_phnum;
	uint32_t carried_count;
	uint64_t carried;
};
struct ckpt_carried {
	uint64_t file_offset;
	uint64_t file_size;
	uint64_t first_vaddr;
	uint64_t first_offset;
	uint64_t span;
	uint64_t slot;
	uint64_t redirects;
	uint32_t redirect_count;
	uint32_t flags;
	uint64_t names;
	uint64_t area;
	uint64_t area_size;
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
CKPT_CHECK_OFF(loader_phdr, CKPT_CFG_LOADER_PHDR);
CKPT_CHECK_OFF(loader_phnum, CKPT_CFG_LOADER_PHNUM);
CKPT_CHECK_OFF(carried_count, CKPT_CFG_CARRIED_COUNT);
CKPT_CHECK_OFF(carried, CKPT_CFG_CARRIED);
#define CKPT_CHECK_CO(f, o) _Static_assert(__builtin_offsetof(struct ckpt_carried, f) == (o), #f)
CKPT_CHECK_CO(file_offset, CKPT_CO_FILE_OFFSET);
CKPT_CHECK_CO(file_size, CKPT_CO_FILE_SIZE);
CKPT_CHECK_CO(first_vaddr, CKPT_CO_FIRST_VADDR);
CKPT_CHECK_CO(first_offset, CKPT_CO_FIRST_OFFSET);
CKPT_CHECK_CO(span, CKPT_CO_SPAN);
CKPT_CHECK_CO(slot, CKPT_CO_SLOT);
CKPT_CHECK_CO(redirects, CKPT_CO_REDIRECTS);
CKPT_CHECK_CO(redirect_count, CKPT_CO_REDIRECT_COUNT);
CKPT_CHECK_CO(flags, CKPT_CO_FLAGS);
CKPT_CHECK_CO(names, CKPT_CO_NAMES);
CKPT_CHECK_CO(area, CKPT_CO_AREA);
CKPT_CHECK_CO(area_size, CKPT_CO_AREA_SIZE);
_Static_assert(sizeof(struct ckpt_carried) == CKPT_CO_SIZE, "carried size");
_Static_assert(sizeof(struct ckpt_config) == CKPT_CFG_SIZE, "config size");
_Static_assert(sizeof(struct ckpt_redirect) == CKPT_REDIR_SIZE, "redirect size");
#endif

#endif
