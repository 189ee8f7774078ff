// What a job goes through, as ckpt-run reports it: one event, one line on stderr (src/cli/run.ts
// words them; the job's output file is where a cluster user reads them).
export type RunEvent =
  | { kind: 'started'; program: string; pid: number }
  | { kind: 'resumed'; image: string; pid: number }
  | { kind: 'checkpointed'; image: string }
  | { kind: 'bad-image'; image: string; reason: string }
  | { kind: 'falling-back'; image: string }
  | { kind: 'starting-afresh' }
  | { kind: 'vacated'; status: number }
  | { kind: 'finished'; status: number; signal?: NodeJS.Signals };
