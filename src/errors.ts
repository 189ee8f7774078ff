// Named errors of the toolchain. The CLI prints `message` as its one-line error; everything else
// about the fault (file offset, address, cause) is kept in fields for callers and tests.

/** Why an input cannot be relinked. `code` is stable, for scripts and tests. */
export type RelinkErrorCode =
  | 'EIO'
  | 'ENOTELF'
  | 'ECLASS'
  | 'EENDIAN'
  | 'EMACHINE'
  | 'ETYPE'
  | 'EDYNAMIC'
  | 'ESHARED'
  | 'EMALFORMED'
  | 'EALREADY'
  | 'ENOCODE'
  | 'ELAYOUT'
  | 'ERUNTIME';

export class RelinkError extends Error {
  readonly code: RelinkErrorCode;
  /** File offset of the fault in the input, when there is one */
  readonly offset?: number;

  constructor(code: RelinkErrorCode, message: string, opts: { offset?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RelinkError';
    this.code = code;
    this.offset = opts.offset;
  }
}

/**
 * A command line a command cannot run: an unknown option, a missing operand or option value, a
 * malformed value. The command prints `NAME: message` on one line and exits EXIT_USAGE, as Unix
 * tools do, where its exit statuses leave 2 free (src/cli/usage.ts says which do not).
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const EXIT_USAGE = 2;
