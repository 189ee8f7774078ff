// What every command shares on its command line: `-h`/`--help` and `--version` (both print to
// stdout and exit 0, wherever they stand among the arguments, as long as the arguments before them
// parse), and the help text for the relinked program's run-time environment, which ckpt-relink
// and ckpt-restart both print.
//
// Exit status for a usage error (src/errors.ts): EXIT_USAGE (2) for ckpt-relink, ckpt-restart and
// ckpt-shadow (whose 1 is every other reason it cannot start); 1 for ckpt-inspect, whose 2 says
// that the image is corrupt.
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../paths.js';

function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Prints the help or the version and exits when `arg` asks for either; returns otherwise */
export function answerInfoOption(arg: string, command: string, help: string): void {
  if (arg === '-h' || arg === '--help') {
    fs.writeSync(1, help.endsWith('\n') ? help : help + '\n');
    process.exit(0);
  }
  if (arg === '--version') {
    fs.writeSync(1, `${command} (ckpt) ${packageVersion()}\n`);
    process.exit(0);
  }
}

export const INFO_OPTIONS_HELP = `\
  -h, --help            print this help and exit
  --version             print the version and exit`;

/** The variables the relinked program's runtime reads when it starts (README, "Run-time environment") */
export const RUNTIME_ENVIRONMENT_HELP = `\
The relinked program reads these when it starts (each unset by default):
  CKPT_IMAGE=PATH       where checkpoints go, replaced atomically (PATH.tmp, fsync, rename);
                        shadow:NAME keeps them on the shadow server; '|CMD' gives each image
                        to \`sh -c CMD\` on its stdin. Unset: no checkpoints
  CKPT_SIGNAL=SIG       checkpoint and go on at this signal (name or number; default USR2)
  CKPT_VACATE_SIGNAL=SIG
                        checkpoint, then exit 85 ("requeue me"); if the checkpoint fails, the
                        signal does what it would have done
  CKPT_INTERVAL=SECONDS also checkpoint every SECONDS (a restarted process keeps it)
  CKPT_RESTART=PATH     start from this image (or shadow:NAME, or 'CMD|': what \`sh -c CMD\`
                        writes to its stdout) instead of from the beginning; a bad image exits
                        2 with one line, before anything is changed
  CKPT_FILES_CHANGED=warn|refuse
                        at restart, a regular file whose size or mtime changed since the
                        checkpoint is reported on stderr (warn, the default) or refuses the image
  CKPT_LAZY=0|1         at restart: unset, every stored page is checked, then mapped from the
                        image (docs/restart.md); 1, the program runs before its memory is read,
                        while a verifier checks it (a bad checksum stops the program); 0, every
                        page is read into anonymous memory first
  CKPT_HUGE=1           with CKPT_LAZY=0, read large memory regions into transparent huge pages
  CKPT_INCREMENTAL=1    after a full image, checkpoints to a file store only the pages written
                        since the one before; each image keeps a link PATH.g<generation>, and an
                        incremental one restarts only with its links beside it
  CKPT_CHAIN_MAX=N, CKPT_CHAIN_PERCENT=P
                        with CKPT_INCREMENTAL=1, the next image is full after N incremental
                        links (16) or once they hold P% of the full image's bytes (100; 0: no bound)
  CKPT_TCP_CLOSE=1      at restart, TCP connections (which cannot be made again) come back as
                        closed sockets instead of refusing the image
  CKPT_STATS=FILE       at exit or exec, append one JSON line of system call counts per process
  CKPT_SUD=on|off|auto  arm the Syscall User Dispatch net or not (default: ckpt-relink --sud-net)
  CKPT_SHADOW=HOST:PORT forward file system calls to ckpt-shadow there (IPv4 address or name)
  CKPT_SHADOW_TOKEN_FILE=FILE
                        the job's token, the same file as the shadow's --token-file
  CKPT_SHADOW_RETRY=SECONDS
                        how long to wait for a shadow that went away (default 60), then exit 86
  CKPT_VFDS, CKPT_SHADOW_KIND, CKPT_SHADOW_ADDR
                        set by the runtime for the relinked programs a job execs; not to be set
                        by hand`;
