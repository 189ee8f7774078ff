// The ways a syscall site can be handled. Each name and one-line description here is also the
// heading of its entry in docs/tactics.md; test/rewriter/tactics.test.ts keeps the two in step.

export enum Tactic {
  /** The window is overwritten by a 5-byte jmp to a per-site trampoline; the rest becomes int3. */
  Jump = 'jump',
  /** No safe window: the site stays as it is and the Syscall User Dispatch net traps it. */
  Sud = 'sud',
}

export const TACTIC_DESCRIPTIONS: Record<Tactic, string> = {
  [Tactic.Jump]: 'replace the syscall and neighbouring instructions with a jmp to a trampoline that displaces them and calls the runtime',
  [Tactic.Sud]: 'leave the syscall in place; Syscall User Dispatch raises SIGSYS and the runtime dispatches the call from the signal frame',
};

/** Why a site was left to the SUD net: stable words, counted in the report */
export type SudReason =
  | 'forced'           // --sud-sites named it
  | 'no-window'        // no run of whole instructions around it could hold a jmp safely
  | 'branch-target'    // every window would cover a direct branch target
  | 'unrelocatable'    // every window would displace an instruction that cannot move
  | 'overlap';         // every window would overlap a neighbouring site's window
