/**
 * Reading a node's heavy-work log (rollout/layout.ts HEAVY_WORK_LOG, written by lib.sh's
 * `heavy`): how many heavy-work slots were held at once, measured from what the node itself
 * recorded rather than assumed from its configuration. Used by `npm run bench` and the tests.
 */
import { HEAVY_WORK_LOG } from "../rollout/layout";
import type { Cluster, NodeHandle } from "./cluster";

export interface HeavyEvent {
  /** Seconds since the epoch, as the node's clock said. */
  at: number;
  kind: "start" | "end";
  slot: number;
  app: string;
  what: string;
}

export interface HeavyWorkSummary {
  /** Heavy commands that started. */
  started: number;
  /** Heavy commands that ended (a killed one may never log its end). */
  ended: number;
  /** The most commands running at once. */
  peak: number;
  /** The highest slot number used (slots are 1..N). */
  highestSlot: number;
}

const LINE = /^(\d+(?:\.\d+)?) (start|end) (\d+) (\S+) (\S+)$/;

/** The log's events; a line of any other shape is an error naming it (the log is ours). */
export function parseHeavyLog(text: string): HeavyEvent[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((line, i) => {
      const m = LINE.exec(line);
      if (!m) throw new Error(`heavy-work log line ${i + 1}: ${JSON.stringify(line)} is not "<seconds> start|end <slot> <app> <what>"`);
      return { at: Number(m[1]), kind: m[2] as HeavyEvent["kind"], slot: Number(m[3]), app: m[4], what: m[5] };
    });
}

/** Counts and the peak of one node's log: a sweep over its starts and ends in time order (an end
 *  before a start at the same instant: the slot was handed over, not shared). */
export function summarizeHeavyLog(text: string): HeavyWorkSummary {
  const events = parseHeavyLog(text).sort((a, b) => a.at - b.at || (a.kind === b.kind ? 0 : a.kind === "end" ? -1 : 1));
  let running = 0;
  let peak = 0;
  for (const e of events) {
    running += e.kind === "start" ? 1 : -1;
    peak = Math.max(peak, running);
  }
  return {
    started: events.filter((e) => e.kind === "start").length,
    ended: events.filter((e) => e.kind === "end").length,
    peak,
    highestSlot: Math.max(0, ...events.map((e) => e.slot)),
  };
}

/** A test node's heavy-work log as the node wrote it ("" before any heavy work). */
export async function heavyLogOf(cluster: Cluster, node: NodeHandle): Promise<string> {
  const r = await cluster.exec(node, `cat ${HEAVY_WORK_LOG} 2>/dev/null || true`);
  return r.stdout;
}
