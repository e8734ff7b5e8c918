// The plan's capacity check: do the gunicorn workers of every app on a stack fit in one app
// node's memory? Every app runs on every node, so one node holds the sum over the stack's apps
// of workers x the per-worker memory (fleet:deploy.workerMemoryMb), plus each background process's
// memoryMb (issue 20). Pure: index.ts turns the
// warnings into pulumi.log.warn (shown by `npm run plan`) and the error into a RunError.
import type { AppForStack } from "../config/catalog";
import { DeploySettings, workersOf } from "./plan";

/** Memory (MiB) of the EC2 instance types a stack file may name for its app nodes. */
export const INSTANCE_MEMORY_MB: Readonly<Record<string, number>> = {
  "t3.nano": 512,
  "t3.micro": 1024,
  "t3.small": 2048,
  "t3.medium": 4096,
  "t3.large": 8192,
  "t3.xlarge": 16384,
  "t3.2xlarge": 32768,
  "t3a.nano": 512,
  "t3a.micro": 1024,
  "t3a.small": 2048,
  "t3a.medium": 4096,
  "t3a.large": 8192,
  "t3a.xlarge": 16384,
  "t3a.2xlarge": 32768,
  "t4g.nano": 512,
  "t4g.micro": 1024,
  "t4g.small": 2048,
  "t4g.medium": 4096,
  "t4g.large": 8192,
  "t4g.xlarge": 16384,
  "t4g.2xlarge": 32768,
  "m5.large": 8192,
  "m5.xlarge": 16384,
  "m5.2xlarge": 32768,
  "m5.4xlarge": 65536,
  "m6i.large": 8192,
  "m6i.xlarge": 16384,
  "m6i.2xlarge": 32768,
  "m6i.4xlarge": 65536,
  "m6g.large": 8192,
  "m6g.xlarge": 16384,
  "m6g.2xlarge": 32768,
  "m6g.4xlarge": 65536,
  "m7i.large": 8192,
  "m7i.xlarge": 16384,
  "m7i.2xlarge": 32768,
  "m7i.4xlarge": 65536,
  "m7g.large": 8192,
  "m7g.xlarge": 16384,
  "m7g.2xlarge": 32768,
  "m7g.4xlarge": 65536,
  "c5.large": 4096,
  "c5.xlarge": 8192,
  "c5.2xlarge": 16384,
  "c6i.large": 4096,
  "c6i.xlarge": 8192,
  "c6i.2xlarge": 16384,
  "c7i.large": 4096,
  "c7i.xlarge": 8192,
  "c7i.2xlarge": 16384,
  "r5.large": 16384,
  "r5.xlarge": 32768,
  "r6i.large": 16384,
  "r6i.xlarge": 32768,
  "r7i.large": 16384,
  "r7i.xlarge": 32768,
};

export interface CapacityInput {
  apps: AppForStack[];
  settings: Pick<DeploySettings, "gunicornWorkers" | "workerMemoryMb">;
  instanceType: string;
  /** The stack file, as messages name it. */
  stackFile: string;
  /** The catalog file, as messages name it. */
  appsFile: string;
}

export interface CapacityResult {
  warnings: string[];
  /** Set when the workers need more than twice the node's memory: the plan stops. */
  error?: string;
}

/** A node's memory needs of the stack's apps against its instance type's memory. */
export function checkCapacity(input: CapacityInput): CapacityResult {
  const { apps, settings, instanceType, stackFile, appsFile } = input;
  if (apps.length === 0) return { warnings: [] };
  const memory = INSTANCE_MEMORY_MB[instanceType];
  if (memory === undefined) {
    return {
      warnings: [
        `${stackFile}: fleet:nodes.instanceType ${instanceType}: its memory is unknown to the capacity check, so the apps' workers are not checked against it (known types: rollout/capacity.ts)`,
      ],
    };
  }
  const perApp = apps.map((a) => ({ name: a.name, workers: workersOf(a, settings) }));
  const workers = perApp.reduce((sum, a) => sum + a.workers, 0);
  // Every process runs on every node too, each with its memoryMb (its cgroup's MemoryMax).
  const processMb = processMemoryMb(apps);
  const needed = workers * settings.workerMemoryMb + processMb;
  if (needed <= memory) return { warnings: [] };
  const largest = [...perApp]
    .sort((a, b) => b.workers - a.workers || (a.name < b.name ? -1 : 1))
    .slice(0, 3)
    .map((a) => `${a.name} ${a.workers}`)
    .join(", ");
  const processes = processMb > 0 ? ` + ${processMb} MiB of processes (memoryMb)` : "";
  const what = `${workers} gunicorn workers x ${settings.workerMemoryMb} MiB (fleet:deploy.workerMemoryMb)${processes} = ${needed} MiB on each app node, ${instanceType} has ${memory} MiB`;
  const fix = `lower \`workers\` in ${appsFile} (most: ${largest}) or choose a larger fleet:nodes.instanceType in ${stackFile}`;
  if (needed > 2 * memory) return { warnings: [], error: `${stackFile}: fleet:nodes.instanceType: ${what}, more than twice over: ${fix}` };
  return { warnings: [`${stackFile}: fleet:nodes.instanceType: ${what}: the workers may not fit; ${fix}`] };
}

/** The memory of the stack's background processes on one node (config/processes.ts: memoryMb). */
export function processMemoryMb(apps: Pick<AppForStack, "processes">[]): number {
  return apps.reduce((sum, a) => sum + (a.processes ?? []).reduce((s, p) => s + p.memoryMb, 0), 0);
}
