// The ways a syscall site can be handled. Each name here is the heading of its entry in
// docs/tactics.md, and each one-line description is that entry's first paragraph, word for word
// (the doc adds only code spans); test/rewriter/tactics.test.ts keeps the two in step.

export enum Tactic {
  Jump = 'jump',
  Sud = 'sud',
}

export const TACTIC_DESCRIPTIONS: Record<Tactic, string> = {
  [Tactic.Jump]: 'Replace the syscall and neighbouring instructions with a 5-byte jmp rel32 to a per-site trampoline, which runs the displaced instructions around a call into the runtime.',
  [Tactic.Sud]: 'Leave the syscall in place: Syscall User Dispatch (PR_SET_SYSCALL_USER_DISPATCH) raises SIGSYS and the runtime dispatches the call from the signal frame.',
};

/** Why a site was left to the SUD net: stable words, counted in the report */
export type SudReason =
  | 'forced'           // --sud-sites named it
  | 'no-window'        // no run of whole instructions around it could hold a jmp safely
  | 'branch-target'    // every window would cover a direct branch target
  | 'unrelocatable'    // every window would displace an instruction that cannot move
  | 'overlap';         // every window would overlap a neighbouring site's window
