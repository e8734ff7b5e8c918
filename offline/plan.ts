// The offline plan: what the Pulumi program would declare, without a cloud, a CLI or credentials.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ChangeOp, Plan, PlanChange, PlanRequest, PlanResource, PlanResult, SECRET_TEXT } from "./planTypes";

export * from "./planTypes";

const WORKER = path.join(__dirname, "planWorker.ts");

export class PlanError extends Error {}

/**
 * The plan process's V8 heap. Most of what the SDK allocates under mocks is short-lived (the
 * wire format of every input, serialized and decoded again): with the default limit (a quarter
 * of the machine's memory) V8 lets it pile up to 2 GB for 200 apps, while what is alive stays
 * under 400 MB between bursts. A bound keeps 200 apps on production near 1 GB of memory (measured:
 * 960 MB peak; 768 MB runs out); a much larger catalog says so and can raise it.
 */
const HEAP_ENV = "FLEET_PLAN_HEAP_MB";
const DEFAULT_HEAP_MB = 896;

function planHeapMb(): number {
  const text = process.env[HEAP_ENV];
  if (text === undefined || text === "") return DEFAULT_HEAP_MB;
  if (!/^[1-9][0-9]{2,5}$/.test(text)) throw new PlanError(`${HEAP_ENV}=${text}: must be a number of megabytes from 100 to 999999`);
  return Number(text);
}

/** Runs index.ts under runtime mocks in a fresh process and returns every resource it declared. */
export async function runPlan(request: PlanRequest): Promise<Plan> {
  return (await runPlanMeasured(request)).plan;
}

/** runPlan, with what the plan's process cost (peak memory, CPU time). */
export async function runPlanMeasured(request: PlanRequest): Promise<PlanResult> {
  const heapMb = planHeapMb();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-plan-"));
  const requestFile = path.join(tmp, "request.json");
  const resultFile = path.join(tmp, "result.json");
  try {
    fs.writeFileSync(requestFile, JSON.stringify(request), { mode: 0o600 });
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        [`--max-old-space-size=${heapMb}`, "-r", "ts-node/register/transpile-only", WORKER, requestFile, resultFile],
        { cwd: path.resolve(__dirname, ".."), maxBuffer: 64 * 1024 * 1024 },
        (err, _stdout, stderr) => {
          if (!err) resolve();
          else if (/heap out of memory|Reached heap limit/.test(stderr))
            reject(new PlanError(`the offline plan needed more than its ${heapMb} MB heap: run it again with ${HEAP_ENV}=${heapMb * 2}`));
          else reject(new PlanError(stderr.trim().split("\n").filter(Boolean).join("\n") || err.message));
        },
      );
    });
    return JSON.parse(fs.readFileSync(resultFile, "utf8")) as PlanResult;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** What applying `next` over `base` would do, resource by resource, in URN order. */
export function diffPlans(base: Plan, next: Plan): PlanChange[] {
  const before = new Map(base.resources.map((r) => [r.urn, r]));
  const after = new Map(next.resources.map((r) => [r.urn, r]));
  const changes: PlanChange[] = [];
  for (const r of next.resources) {
    const old = before.get(r.urn);
    if (!old) {
      changes.push({ urn: r.urn, op: "create", keys: Object.keys(r.inputs).sort() });
      continue;
    }
    const keys = [...new Set([...Object.keys(old.inputs), ...Object.keys(r.inputs)])]
      .filter((k) => !sameValue(old.inputs[k], r.inputs[k]))
      .sort();
    if (keys.length > 0) changes.push({ urn: r.urn, op: "update", keys });
  }
  for (const r of base.resources) {
    if (!after.has(r.urn)) changes.push({ urn: r.urn, op: "delete", keys: Object.keys(r.inputs).sort() });
  }
  return changes.sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
}

// ---- text rendering -------------------------------------------------------------------------

const REMOTE_COMMAND = "command:remote:Command";
const REMOTE_COPY = "command:remote:CopyToRemote";

function shortType(type: string): string {
  return type;
}

function oneLine(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}

/** Where a remote command runs (the worker reads it out of the secret connection). */
function target(r: PlanResource): string {
  return r.runsOn ?? SECRET_TEXT;
}

/** The lines that say what a remote command or copy does. */
function detailLines(r: PlanResource): string[] {
  if (r.type === REMOTE_COMMAND) {
    const lines = [`on ${target(r)}`];
    for (const k of ["create", "update", "delete"]) {
      if (r.inputs[k] !== undefined) lines.push(`${k}: ${indentBlock(String(r.inputs[k]))}`);
    }
    if (r.inputs.stdin !== undefined)
      lines.push(`stdin: ${r.inputs.stdin === SECRET_TEXT ? SECRET_TEXT : `${String(r.inputs.stdin).length} bytes`}`);
    if (r.inputs.triggers !== undefined) lines.push(`triggers: ${oneLine(r.inputs.triggers)}`);
    return lines;
  }
  if (r.type === REMOTE_COPY) {
    const source = r.inputs.source as Record<string, unknown> | undefined;
    return [`on ${target(r)}`, `copy: ${oneLine(source?.path ?? source?.text ?? source)} -> ${String(r.inputs.remotePath)}`];
  }
  return [];
}

function indentBlock(s: string): string {
  const lines = s.replace(/\s+$/, "").split("\n");
  return lines.length === 1 ? lines[0] : `|\n${lines.map((l) => `      ${l}`).join("\n")}`;
}

/** The resource tree: components with their children, each remote command with host and command. */
export function renderTree(plan: Plan): string {
  const children = new Map<string | null, PlanResource[]>();
  const urns = new Set(plan.resources.map((r) => r.urn));
  for (const r of plan.resources) {
    const parent = r.parent && urns.has(r.parent) ? r.parent : null;
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const out = [`stack ${plan.stack}: ${plan.resources.length} resources`];
  const walk = (parent: string | null, depth: number) => {
    const kids = children.get(parent) ?? [];
    kids.forEach((r, i) => {
      const pad = "  ".repeat(depth);
      out.push(`${pad}${i === kids.length - 1 ? "└─" : "├─"} ${shortType(r.type)} ${r.name}`);
      for (const d of detailLines(r)) out.push(`${pad}     ${d.replace(/\n/g, `\n${pad}`)}`);
      walk(r.urn, depth + 1);
    });
  };
  walk(null, 0);
  for (const w of plan.warnings ?? []) out.push(`warning: ${w}`);
  const outputs = Object.keys(plan.outputs);
  if (outputs.length > 0) {
    out.push("outputs:");
    for (const k of outputs) out.push(`  ${k}: ${oneLine(plan.outputs[k])}`);
  }
  return out.join("\n");
}

const OP_MARK: Record<ChangeOp, string> = { create: "+", update: "~", delete: "-" };

export function renderChanges(changes: PlanChange[]): string {
  if (changes.length === 0) return "no changes";
  const counts = (["create", "update", "delete"] as ChangeOp[]).map((op) => `${changes.filter((c) => c.op === op).length} to ${op}`);
  const lines = changes.map((c) => {
    const keys = c.op === "update" ? ` (${c.keys.join(", ")})` : "";
    return `${OP_MARK[c.op]} ${c.op} ${c.urn}${keys}`;
  });
  return [...lines, `changes: ${counts.join(", ")}`].join("\n");
}
