// One row of the fault suite: a scenario from the reliability review replayed
// end to end against the real agent (real sockets, files, mounts, users), what
// should happen, what did, and a figure (time to truth, records lost, RSS, ...).
export interface Outcome {
  ok: boolean;
  /** What happened, in a few words: `/healthz 200 x5, 33 fds`. */
  observed: string;
  /** The measurement that matters for this scenario: `peak RSS 96 MiB`. */
  figure: string;
}

export interface Scenario {
  /** Short and unique; `npm run faults -- WORD` runs the scenarios whose name contains WORD. */
  name: string;
  /** The review's defect or section it replays (`D5`, `held up 7`), for the table. */
  ref: string;
  expected: string;
  run(): Promise<Outcome>;
  /** Default 60 s; past it the row fails. */
  timeoutMs?: number;
}

/** A passing or failing outcome from a check and its text. */
export function outcome(ok: boolean, observed: string, figure: string): Outcome {
  return { ok, observed, figure };
}

export const mib = (n: number): string => `${n.toFixed(0)} MiB`;
