// The node side of an app's processes and schedules (config/processes.ts) in the rollout plan:
// processes.sh's arguments. Pure. Each node's switch step runs `processes.sh check` before its
// switch (the release is staged: every command's program must be found in it, else nothing
// switches) and `processes.sh apply` after it (units written, the ones the catalog no longer names
// stopped and removed, every process restarted onto the release now serving); the step's delete
// command, `processes.sh remove`, stops and removes them all (the app left the stack).
import type { AppForStack } from "../config/catalog";
import type { Invocation } from "./plan";

export type ProcessesMode = "check" | "apply";

/** processes.sh MODE APP_USER TAG, then `process NAME MEMORY_MB STOP_SECONDS COMMAND` per
 *  process and `schedule NAME ON_CALENDAR COMMAND` per schedule (each COMMAND one argument). */
export function processesInvocation(
  mode: ProcessesMode,
  user: string,
  app: Pick<AppForStack, "tag" | "processes" | "schedules">,
): Invocation {
  const processes = (app.processes ?? []).flatMap((p) => ["process", p.name, String(p.memoryMb), String(p.stopSeconds), p.command]);
  const schedules = (app.schedules ?? []).flatMap((s) => ["schedule", s.name, s.onCalendar, s.command]);
  return { script: "processes.sh", args: [mode, user, app.tag, ...processes, ...schedules] };
}

/** The delete command: every process and schedule of the app stopped and removed from the node. */
export function processesRemoval(user: string): Invocation {
  return { script: "processes.sh", args: ["remove", user] };
}
