// Drives a reporter on its own, the way the agent does: the condition comes
// from the decision core's own pure functions (`nextCondition` for a verdict,
// `conditionAfterNode` for what the reporter read), and what the reporter
// learns about the Node is answered at once, as the core answers it. For the
// reporter tests (test/cluster, test/unit/kube-*), which test the transport.
import type { ConditionRecord, NodeFacts, NodeVerdict } from '../../agent/model/verdict.ts';
import { conditionAfterNode, nextCondition } from '../../agent/runtime/core.ts';
import type { Reporter } from '../../agent/runtime/types.ts';

export type Driven<R extends Reporter> = Omit<R, 'start'> & {
  /** Starts the reporter; `adopted`: the condition its first read found on the Node. */
  start(): Promise<{ adopted?: NodeFacts['condition'] }>;
  /** The core's condition after this verdict at `now`, handed to the reporter. */
  setVerdict(verdict: NodeVerdict, now: number): void;
  /** Everything the reporter said about the Node, in order. */
  facts: NodeFacts[];
  /** The condition as last handed to the reporter. */
  condition(): ConditionRecord | null;
};

export function driven<R extends Reporter>(r: R, now: () => number = Date.now): Driven<R> {
  let condition: ConditionRecord | null = null;
  const facts: NodeFacts[] = [];
  const onNode = (f: NodeFacts): void => {
    facts.push(f);
    if (f.seen === 'update') return;
    condition = conditionAfterNode(condition, f, now()).condition;
    if (condition !== null) r.setCondition(condition);
  };
  return {
    ...r,
    facts,
    condition: () => condition,
    async start() {
      await r.start({ onNode });
      const first = facts.find((f) => f.seen === 'first-read')?.condition ?? null;
      return first === null ? {} : { adopted: first };
    },
    setVerdict(verdict, t) {
      condition = nextCondition(condition, verdict, t);
      r.setCondition(condition);
    },
  };
}
