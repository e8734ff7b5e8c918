// An app's background processes and schedules in the catalog (issue 20): their schemas, the
// defaults, and a schedule's cron as systemd's OnCalendar. Pure (no Pulumi, no I/O), so
// check-apps, the offline plan and `pulumi up` say the same, and the rules are unit-tested.
//
//   processes:
//     worker: python manage.py work                                   # short form
//     celery: { command: celery -A proj worker, memoryMb: 256, stopSeconds: 60 }
//   schedules:
//     clearsessions: { command: python manage.py clearsessions, cron: "17 3 * * *" }
//
// A command is words split on spaces by the platform (systemd and node/rollout/fleet_run.sh),
// never by a shell: its pattern (RULES.command) has no character a shell or systemd would read.
// Its first word is the program: `python` is the release's virtualenv's Python, another bare
// name the virtualenv's script of that name (else the node's PATH), a path with a `/` is taken
// in the release directory (or as written when absolute).
import { z } from "zod";
import { RULES, ruleRegExp } from "./patterns";

export const PROCESS_NAME_PATTERN = ruleRegExp(RULES.processName);
export const COMMAND_PATTERN = ruleRegExp(RULES.command);
export const ON_CALENDAR_PATTERN = ruleRegExp(RULES.onCalendar);

/** Per app, at most this many processes and this many schedules (each is a unit on every node). */
export const MAX_PROCESSES = 10;
export const MAX_SCHEDULES = 20;
/** Bounds of a process's long form. */
export const PROCESS_LIMITS = { memoryMb: { min: 16, max: 16384 }, stopSeconds: { min: 1, max: 600 } } as const;
/**
 * Memory a process is counted with in the capacity check (and its cgroup's MemoryMax) when its
 * entry sets no memoryMb. Measured: Django 3.2.25 set up with the contrib apps and the PostgreSQL
 * backend, as a management command loop is (Debian 12's python3-django), VmRSS 44 MiB
 * (RssAnon 31 MiB); 64 leaves room for an app's own code, as fleet:deploy.workerMemoryMb does.
 */
export const DEFAULT_PROCESS_MEMORY_MB = 64;
/** SIGTERM, then this long before SIGKILL, when the entry sets no stopSeconds. */
export const DEFAULT_STOP_SECONDS = 30;

const commandValue = z
  .string({ error: "must be a command line (a string)" })
  .max(RULES.command.maxLength, { error: `is longer than ${RULES.command.maxLength} characters`, abort: true })
  .regex(COMMAND_PATTERN, {
    error: (i) =>
      `${JSON.stringify(i.input)} is not allowed: one line of words separated by spaces, each of letters, digits and _ . / = : , @ + - (no quotes, $, ;, |, &, <, >, %, backslash: the platform splits the words, no shell reads them)`,
  });

const bounded = (min: number, max: number, unit: string) =>
  z
    .number({ error: `must be a whole number of ${unit} from ${min} to ${max}` })
    .int({ error: `must be a whole number of ${unit} from ${min} to ${max}` })
    .min(min, { error: `must be from ${min} to ${max} ${unit}` })
    .max(max, { error: `must be from ${min} to ${max} ${unit}` });

const processLong = z.strictObject(
  {
    command: commandValue,
    memoryMb: bounded(PROCESS_LIMITS.memoryMb.min, PROCESS_LIMITS.memoryMb.max, "MiB").optional(),
    stopSeconds: bounded(PROCESS_LIMITS.stopSeconds.min, PROCESS_LIMITS.stopSeconds.max, "seconds").optional(),
  },
  { error: "must be a command line or a map with command (and memoryMb, stopSeconds)" },
);

const nameKey = z.string().regex(PROCESS_NAME_PATTERN, {
  error: (i) =>
    `name ${JSON.stringify(i.input)} is not allowed: lowercase letters, digits and '-', at most 32, matching ^${RULES.processName.ere}$`,
});

export const processesSchema = z
  // The short form is the long one's command (its errors then name `<process>.command`).
  .record(
    nameKey,
    z.preprocess((v) => (typeof v === "string" ? { command: v } : v), processLong),
    {
      error: "must be a map of name: command",
    },
  )
  .refine((m) => Object.keys(m).length <= MAX_PROCESSES, { error: `at most ${MAX_PROCESSES} processes per app` });

const cronValue = z.string({ error: 'must be a 5-field cron expression in quotes, such as "17 3 * * *"' }).superRefine((v, ctx) => {
  const problem = cronProblem(v);
  if (problem) ctx.addIssue({ code: "custom", message: `${JSON.stringify(v)} is not allowed: ${problem}` });
});

export const schedulesSchema = z
  .record(
    nameKey,
    z.strictObject(
      { command: commandValue, cron: cronValue },
      { error: 'must be a map with command and cron, such as { command: python manage.py clearsessions, cron: "17 3 * * *" }' },
    ),
    { error: "must be a map of name: { command, cron }" },
  )
  .refine((m) => Object.keys(m).length <= MAX_SCHEDULES, { error: `at most ${MAX_SCHEDULES} schedules per app` });

export type RawProcesses = z.infer<typeof processesSchema>;
export type RawSchedules = z.infer<typeof schedulesSchema>;

/** A background process, defaults applied. */
export interface Process {
  name: string;
  command: string;
  memoryMb: number;
  stopSeconds: number;
}

/** A schedule: its command, its cron (UTC) and that cron as systemd's OnCalendar. */
export interface Schedule {
  name: string;
  command: string;
  cron: string;
  onCalendar: string;
}

/** The processes of a catalog entry, sorted by name, with the defaults. */
export function processesOf(raw: RawProcesses | undefined): Process[] {
  return Object.entries(raw ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, p]) => {
      return {
        name,
        command: normalizeCommand(p.command),
        memoryMb: p.memoryMb ?? DEFAULT_PROCESS_MEMORY_MB,
        stopSeconds: p.stopSeconds ?? DEFAULT_STOP_SECONDS,
      };
    });
}

/** The schedules of a catalog entry, sorted by name. */
export function schedulesOf(raw: RawSchedules | undefined): Schedule[] {
  return Object.entries(raw ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, s]) => ({
      name,
      command: normalizeCommand(s.command),
      cron: s.cron.trim().split(/\s+/).join(" "),
      onCalendar: onCalendar(s.cron),
    }));
}

/** One space between words: what the nodes split. */
export function normalizeCommand(command: string): string {
  return command.trim().split(/ +/).join(" ");
}

// ---- cron ---------------------------------------------------------------------------------------

interface CronField {
  name: string;
  min: number;
  max: number;
}

const CRON_FIELDS: CronField[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  // 0 and 7 are Sunday, as in cron.
  { name: "day of week", min: 0, max: 7 },
];
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** The values one cron field selects, or a message; undefined values = every value (`*`). */
function cronValues(text: string, field: CronField): { values?: number[]; error?: string } {
  if (text === "*") return {};
  const values = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^(\*|(\d{1,2})(?:-(\d{1,2}))?)(?:\/(\d{1,2}))?$/.exec(part);
    if (!m) return { error: `${field.name} ${JSON.stringify(part)}: use numbers, a-b ranges, */n or a-b/n steps and commas (no names)` };
    const from = m[1] === "*" ? field.min : Number(m[2]);
    const to = m[1] === "*" ? field.max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? field.max : from;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (from < field.min || to > field.max || from > to)
      return { error: `${field.name} ${JSON.stringify(part)}: values from ${field.min} to ${field.max}, ranges low-high` };
    if (step < 1) return { error: `${field.name} ${JSON.stringify(part)}: a step is at least 1` };
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return { values: [...values].sort((a, b) => a - b) };
}

/** Why `cron` is not a schedule the platform runs, or undefined. */
export function cronProblem(cron: string): string | undefined {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5 || cron.trim() === "")
    return `a cron expression has 5 fields (minute hour day-of-month month day-of-week, UTC), this has ${cron.trim() === "" ? 0 : fields.length}`;
  for (const [i, f] of fields.entries()) {
    const r = cronValues(f, CRON_FIELDS[i]);
    if (r.error) return r.error;
  }
  // cron runs when EITHER restricted day field matches; systemd's calendar when both do.
  if (fields[2] !== "*" && fields[4] !== "*")
    return "set the day of month or the day of week, not both (cron would run on either, which no single calendar says)";
  return undefined;
}

/**
 * A valid 5-field cron expression (UTC) as systemd's OnCalendar, in UTC: "17 3 * * *" ->
 * "*-*-* 3:17:00 UTC", "*\/15 * * * 1-5" -> "Mon,Tue,Wed,Thu,Fri *-*-* *:0,15,30,45:00 UTC".
 * Every restricted field is listed value by value (steps and ranges expanded), so the calendar
 * means exactly what the cron does and nothing depends on how systemd reads a step.
 */
export function onCalendar(cron: string): string {
  const problem = cronProblem(cron);
  if (problem) throw new Error(`cron ${JSON.stringify(cron)}: ${problem}`);
  const [minute, hour, dom, month, dow] = cron
    .trim()
    .split(/\s+/)
    .map((f, i) => cronValues(f, CRON_FIELDS[i]).values);
  const list = (v: number[] | undefined) => (v ? v.join(",") : "*");
  const days = dow
    ? [...new Set(dow.map((d) => d % 7))]
        .sort((a, b) => a - b)
        .map((d) => WEEKDAYS[d])
        .join(",") + " "
    : "";
  return `${days}*-${list(month)}-${list(dom)} ${list(hour)}:${list(minute)}:00 UTC`;
}
