// Typed stack configuration (the infrastructure `fleet:*` keys of Pulumi.<stack>.yaml): the
// sections' schemas and the rules across them. Pure (no Pulumi): the stack file reader
// (config/stackFile.ts) validates each section with these and reports every problem as ONE line
// naming the file, line, key and what is allowed, because a stack trace tells an operator nothing
// about which YAML line to fix.
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";

/** The structured keys read from the `fleet` config namespace. */
export const STACK_CONFIG_KEYS = [
  "network",
  "adminCidrs",
  "nodes",
  "staticHost",
  "database",
  "storage",
  "recovery",
  "protect",
  "logs",
] as const;
export type StackConfigKey = (typeof STACK_CONFIG_KEYS)[number];

const cidr = z
  .string()
  .regex(
    /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/([0-9]|[12]\d|3[0-2])$/,
    "must be an IPv4 CIDR like 203.0.113.0/24",
  );
/** The AWS regions (commercial, GovCloud, China) as of 2025: a name of the right shape that is none
 *  of them (eu-centrall-1) would fail at the first API call, after the plan looked fine. */
export const AWS_REGIONS = [
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
  "ca-central-1",
  "ca-west-1",
  "mx-central-1",
  "sa-east-1",
  "eu-central-1",
  "eu-central-2",
  "eu-west-1",
  "eu-west-2",
  "eu-west-3",
  "eu-south-1",
  "eu-south-2",
  "eu-north-1",
  "il-central-1",
  "me-south-1",
  "me-central-1",
  "af-south-1",
  "ap-east-1",
  "ap-east-2",
  "ap-south-1",
  "ap-south-2",
  "ap-northeast-1",
  "ap-northeast-2",
  "ap-northeast-3",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-southeast-3",
  "ap-southeast-4",
  "ap-southeast-5",
  "ap-southeast-7",
  "us-gov-east-1",
  "us-gov-west-1",
  "cn-north-1",
  "cn-northwest-1",
] as const;
export const AWS_REGION_MESSAGE = "must be an AWS region such as eu-central-1 (one AWS has: see docs/infrastructure.md)";
const awsRegion = z.string().refine((r) => (AWS_REGIONS as readonly string[]).includes(r), AWS_REGION_MESSAGE);

/** Which database user names an engine keeps for itself (RDS refuses them as the master user):
 *  the engine's reserved words (PostgreSQL's "reserved" keywords; MySQL 8's reserved words a
 *  master user name could be) and the names RDS uses itself. */
const RESERVED_MASTER_USERS: Record<"postgres" | "mysql", readonly string[]> = {
  postgres: [
    "admin",
    "rdsadmin",
    "rdsrepladmin",
    "rdstopmgr",
    "rdsproxyadmin",
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "some",
    "symmetric",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "when",
    "where",
    "window",
    "with",
  ],
  mysql: [
    "rdsadmin",
    "rdsrepladmin",
    "root",
    "mysql",
    "accessible",
    "add",
    "all",
    "alter",
    "analyze",
    "and",
    "as",
    "asc",
    "before",
    "between",
    "bigint",
    "binary",
    "blob",
    "both",
    "by",
    "call",
    "cascade",
    "case",
    "change",
    "char",
    "character",
    "check",
    "collate",
    "column",
    "condition",
    "constraint",
    "continue",
    "convert",
    "create",
    "cross",
    "cube",
    "cursor",
    "database",
    "databases",
    "dec",
    "decimal",
    "declare",
    "default",
    "delayed",
    "delete",
    "desc",
    "describe",
    "distinct",
    "div",
    "double",
    "drop",
    "dual",
    "each",
    "else",
    "elseif",
    "empty",
    "enclosed",
    "escaped",
    "except",
    "exists",
    "exit",
    "explain",
    "false",
    "fetch",
    "float",
    "for",
    "force",
    "foreign",
    "from",
    "fulltext",
    "function",
    "generated",
    "get",
    "grant",
    "group",
    "grouping",
    "groups",
    "having",
    "if",
    "ignore",
    "in",
    "index",
    "infile",
    "inner",
    "inout",
    "insert",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "iterate",
    "join",
    "key",
    "keys",
    "kill",
    "lag",
    "lateral",
    "lead",
    "leading",
    "leave",
    "left",
    "like",
    "limit",
    "linear",
    "lines",
    "load",
    "lock",
    "long",
    "loop",
    "match",
    "mod",
    "modifies",
    "natural",
    "not",
    "null",
    "numeric",
    "of",
    "on",
    "optimize",
    "option",
    "or",
    "order",
    "out",
    "outer",
    "outfile",
    "over",
    "partition",
    "precision",
    "primary",
    "procedure",
    "purge",
    "range",
    "rank",
    "read",
    "reads",
    "real",
    "recursive",
    "references",
    "regexp",
    "release",
    "rename",
    "repeat",
    "replace",
    "require",
    "resignal",
    "restrict",
    "return",
    "revoke",
    "right",
    "rlike",
    "row",
    "rows",
    "schema",
    "schemas",
    "select",
    "sensitive",
    "separator",
    "set",
    "show",
    "signal",
    "smallint",
    "spatial",
    "specific",
    "sql",
    "sqlexception",
    "sqlstate",
    "sqlwarning",
    "ssl",
    "starting",
    "stored",
    "straightjoin",
    "system",
    "table",
    "terminated",
    "then",
    "tinyint",
    "to",
    "trailing",
    "trigger",
    "true",
    "undo",
    "union",
    "unique",
    "unlock",
    "unsigned",
    "update",
    "usage",
    "use",
    "using",
    "values",
    "varbinary",
    "varchar",
    "varying",
    "virtual",
    "when",
    "where",
    "while",
    "window",
    "with",
    "write",
    "xor",
    "zerofill",
  ],
};

/** An IPv4 CIDR's address as a number and its prefix length (only for strings `cidr` accepts). */
export function cidrParts(c: string): { address: number; prefix: number } {
  const [base, bits] = c.split("/");
  return { address: base.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0) >>> 0, prefix: Number(bits) };
}

/** Whether the address has bits set beyond the prefix (AWS refuses 10.0.0.1/16: it means 10.0.0.0/16 or 10.0.0.1/32). */
export function hostBitsSet(c: string): boolean {
  const { address, prefix } = cidrParts(c);
  return prefix < 32 && (address & (2 ** (32 - prefix) - 1)) !== 0;
}

/** The range's network address: 192.0.2.7/24 -> 192.0.2.0/24. */
export function networkOf(c: string): string {
  const { address, prefix } = cidrParts(c);
  const n = prefix === 0 ? 0 : (address & ~(2 ** (32 - prefix) - 1)) >>> 0;
  return `${[24, 16, 8, 0].map((b) => (n >>> b) & 255).join(".")}/${prefix}`;
}

const wellFormed = (c: string) => cidr.safeParse(c).success;

const network = z.strictObject({
  // A /16 leaves room for the six /20 subnets (public, app, database in two zones). AWS takes
  // VPCs of /16 to /28 only, and refuses a CIDR with host bits set.
  cidr: cidr
    .refine(
      (c) => !wellFormed(c) || cidrParts(c).prefix >= 16,
      "is larger than AWS allows for a VPC; allowed: /16 to /18 (AWS takes /16 at most; the six subnets need /18 at least)",
    )
    .refine(
      (c) => !wellFormed(c) || cidrParts(c).prefix <= 18,
      "must be a CIDR of /18 or larger (the six subnets need it); allowed: /16 to /18",
    )
    .refine((c) => !wellFormed(c) || cidrParts(c).prefix < 16 || cidrParts(c).prefix > 18 || !hostBitsSet(c), {
      error: (i) => `has host bits set, which AWS refuses; allowed: the network address (${networkOf(String(i.input))})`,
    }),
  // "direct": nodes get public addresses and take SSH from adminCidrs.
  // "bastion": nodes stay private (NAT for egress) and take SSH only from the nginx host.
  sshAccess: z.enum(["direct", "bastion"]).default("direct"),
});

/** The EC2 naming grammar, family.size: a family (t3, m7i-flex, c6gn, u-6tb1) and one of the sizes
 *  AWS uses. A type of this shape that AWS lacks still fails at launch; one the capacity table
 *  (rollout/capacity.ts) does not know is only warned about there. */
const INSTANCE_TYPE =
  /^(?:[a-z]+[0-9]+[a-z0-9]*(?:-[a-z0-9]+)?|u-[0-9]+tb[0-9]+)\.(?:nano|micro|small|medium|large|xlarge|[1-9][0-9]?xlarge|metal(?:-[1-9][0-9]?xl)?)$/;
const instanceType = z
  .string()
  .regex(
    INSTANCE_TYPE,
    "must be an EC2 instance type, family.size such as t3.small (sizes: nano, micro, small, medium, large, xlarge, 2xlarge ... 48xlarge, metal)",
  );
const ami = z.string().regex(/^ami-[0-9a-f]{8,17}$/, "must be a pinned AMI id like ami-0123456789abcdef0");

const nodes = z.strictObject({
  count: z.number().int().min(1).max(20),
  instanceType,
  // Pinned on purpose: a `mostRecent` lookup would replace every node whenever Canonical publishes.
  ami,
  rootVolumeGb: z.number().int().min(8).max(1000).default(20),
  // How many heavy stage commands (clone, virtualenv, pip, collectstatic) run at once on a
  // node, however many apps stage together (a recovery stages them all): 0 or absent = the
  // node's CPU count. Cloud-init writes it into the node's config file (render/cloudInit.ts).
  heavyJobs: z.number().int().min(0).max(256).optional(),
});

/** The most nginx hosts a stack may have: the public subnets span two zones, and hosts alternate between them. */
export const MAX_EDGE_HOSTS = 4;

const staticHost = z.strictObject({
  // How many nginx hosts serve the apps. 1: the host and its Elastic IP are the entry point
  // (alpha). 2 or more: a Network Load Balancer over the hosts in both zones (production), so
  // losing one host stops no app (docs/infrastructure.md, "The edge").
  count: z.number().int().min(1).max(MAX_EDGE_HOSTS).default(1),
  instanceType: instanceType.default("t3.micro"),
  ami: ami.optional(),
  rootVolumeGb: z.number().int().min(8).max(1000).default(20),
});

const database = z.strictObject({
  engine: z.enum(["postgres", "mysql"]).default("postgres"),
  // Checked against the engine in checkCombinations (RDS refuses a version of the other engine).
  engineVersion: z
    .string()
    .regex(/^\d+(\.\d+)*$/, "must be a version like 16.4")
    .optional(),
  instanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, "must be an RDS class like db.t4g.micro"),
  allocatedStorageGb: z.number().int().min(20).max(16384).default(20),
  multiAz: z.boolean().default(false),
  backupRetentionDays: z.number().int().min(1).max(35).default(7),
  deletionProtection: z.boolean().default(false),
  // Replicates automated backups (snapshots + transaction logs) to this region, so a
  // point-in-time restore works there even if the home region is gone.
  backupReplicationRegion: awsRegion.optional(),
  masterUsername: z
    .string()
    .regex(/^[a-z][a-z0-9]{0,15}$/, "must be lowercase letters and digits, 1-16, starting with a letter")
    .default("fleetadmin"),
});

const storage = z.strictObject({
  // Bucket names are global and deterministic (<prefix>-<stack>-<app>-media) so a recovery
  // stack can name the replica buckets of the stack it replaces.
  bucketPrefix: z
    .string()
    .regex(/^[a-z][a-z0-9-]{1,18}[a-z0-9]$/, "must be lowercase letters, digits and '-', 3-20 chars")
    .default("fleet"),
  replicationRegion: awsRegion.optional(),
});

/** The retentions a CloudWatch log group takes, in days (PutRetentionPolicy refuses any other). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const logs = z.strictObject({
  // How long each app's CloudWatch log group (/fleet/<stack>/<app>, infra/logGroups.ts) keeps
  // what the nodes ship (node/provision/fleet-logship.py): longer than a node lives.
  retentionDays: z
    .number()
    .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
      error: `must be a retention CloudWatch takes, in days: ${LOG_RETENTION_DAYS.join(", ")}`,
    })
    .default(30),
});

const databaseRecovery = z.discriminatedUnion("from", [
  z.strictObject({
    from: z.literal("snapshot"),
    snapshot: z
      .string()
      .regex(/^(arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:snapshot:)?[a-zA-Z][a-zA-Z0-9:-]{0,254}$/, "must be a DB snapshot identifier or ARN"),
  }),
  z.strictObject({
    from: z.literal("latestSnapshot"),
    sourceInstance: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, "must be the DB instance identifier whose newest snapshot to use"),
  }),
  z.strictObject({
    from: z.literal("pointInTime"),
    // An identifier (same account and region) or the ARN of replicated automated backups.
    source: z
      .string()
      .regex(
        /^([a-z][a-z0-9-]{0,62}|arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:auto-backup:[a-zA-Z0-9:-]+)$/,
        "must be a DB instance identifier or an automated-backups ARN",
      ),
    time: z.iso.datetime({ offset: true }).optional(),
  }),
]);

const stackName = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, "must be a stack name");

const recovery = z.strictObject({
  // The lost stack this one stands in for: its tags in apps.yaml are deployed here and its
  // replica buckets hold the media (a fresh stack name has no tags of its own in apps.yaml).
  replaces: stackName,
  database: databaseRecovery.optional(),
  // "pinned": deploy the tags apps.yaml pins for `replaces`; "latest": each app's newest tag
  // (what the old Fabric DR script did).
  tags: z.enum(["pinned", "latest"]).default("pinned"),
  // "replica": serve media straight from the replica buckets of `replaces` (in
  // storage.replicationRegion); "empty": new, empty buckets.
  media: z.enum(["replica", "empty"]).default("replica"),
});

const stackConfigSchema = z.strictObject({
  network,
  adminCidrs: z.array(cidr).min(1),
  nodes,
  staticHost: staticHost.default({ count: 1, instanceType: "t3.micro", rootVolumeGb: 20 }),
  database,
  storage: storage.default({ bucketPrefix: "fleet" }),
  recovery: recovery.optional(),
  // Pulumi `protect` on the stateful resources (database, buckets).
  protect: z.boolean().default(false),
  logs: logs.default({ retentionDays: 30 }),
});

export type StackConfigBody = z.infer<typeof stackConfigSchema>;
export type RecoveryConfig = z.infer<typeof recovery>;
export type DatabaseRecovery = z.infer<typeof databaseRecovery>;
export interface StackConfig extends StackConfigBody {
  stack: string;
  region: string;
}

/** Whose tags in apps.yaml this stack deploys: its own, or those of the stack a recovery replaces. */
export function catalogStack(cfg: Pick<StackConfig, "stack" | "recovery">): string {
  return cfg.recovery?.replaces ?? cfg.stack;
}

/** The tag to deploy for an app pinned to `pinned`: "latest" for every app when a recovery asks for it. */
export function deployTag(cfg: Pick<StackConfig, "recovery">, pinned: string): string {
  return cfg.recovery?.tags === "latest" ? "latest" : pinned;
}

/** The stack whose replica buckets serve media, when a recovery says so. */
export function mediaFromStack(cfg: Pick<StackConfig, "recovery">): string | undefined {
  return cfg.recovery?.media === "replica" ? cfg.recovery.replaces : undefined;
}

/** A problem in the stack file: the path under `config:` (e.g. ["fleet:nodes", "count"]) and what is wrong. */
export interface StackIssue {
  path: (string | number)[];
  message: string;
  /** Point at the key rather than its value (unknown keys). */
  onKey?: boolean;
}

/** The infrastructure sections' schemas, one per fleet:* key (the reader parses each on its own). */
export const INFRA_SECTIONS = stackConfigSchema.shape;

/**
 * The versions RDS offers per engine: PostgreSQL majors 11 and newer (16, 16.4; from 10 on a
 * version has two parts), MySQL 5.7, 8.0 and 8.4 (8.0.39). MariaDB's (10.11.9, three parts from
 * 10) are recognised only to say which engine a version belongs to.
 */
const ENGINE_VERSIONS = {
  postgres: {
    pattern: /^(1[1-9]|[2-9]\d)(\.\d+)?$/,
    name: "PostgreSQL",
    allowed: "a PostgreSQL major version 11 or newer, optionally with its minor (16, 16.4)",
  },
  mysql: {
    pattern: /^(5\.7|8\.0|8\.4)(\.\d+)?$/,
    name: "MySQL",
    allowed: "a MySQL version 5.7, 8.0 or 8.4, optionally with its patch (8.0.39)",
  },
} as const;
const MARIADB_VERSION = /^1[01]\.\d+\.\d+$/;

function engineOfVersion(version: string): string | undefined {
  if (MARIADB_VERSION.test(version)) return "MariaDB";
  return Object.values(ENGINE_VERSIONS).find((e) => e.pattern.test(version))?.name;
}

function engineVersionIssue(db: StackConfigBody["database"]): string | undefined {
  const version = db.engineVersion;
  const rule = ENGINE_VERSIONS[db.engine];
  if (version === undefined || rule.pattern.test(version)) return undefined;
  const other = engineOfVersion(version);
  const what = other ? `is a ${other} version, not a ${rule.name} one (engine: ${db.engine})` : `is not a ${rule.name} version RDS offers`;
  return `${JSON.stringify(version)} ${what}; allowed: ${rule.allowed}`;
}

export interface CombinationContext {
  /** Stacks with a stack file: a recovery must replace one of them. */
  knownStacks?: string[];
}

/** Rules that span keys: things each key alone cannot say (only over sections valid on their own). */
export function checkCombinations(
  cfg: Partial<StackConfig> & Pick<StackConfig, "stack" | "region">,
  ctx: CombinationContext,
): StackIssue[] {
  const issues: StackIssue[] = [];
  const add = (path: (string | number)[], message: string) => issues.push({ path, message });
  if (cfg.recovery?.replaces === cfg.stack) {
    add(["fleet:recovery", "replaces"], "must name the stack being replaced, not this stack");
  } else if (cfg.recovery && ctx.knownStacks && !ctx.knownStacks.includes(cfg.recovery.replaces)) {
    add(
      ["fleet:recovery", "replaces"],
      `no stack file Pulumi.${cfg.recovery.replaces}.yaml: a recovery replaces a stack of this project; allowed: ${ctx.knownStacks.filter((s) => s !== cfg.stack).join(", ") || "(none)"}`,
    );
  }
  if (cfg.database?.backupReplicationRegion === cfg.region) {
    add(
      ["fleet:database", "backupReplicationRegion"],
      `must differ from aws:region ${cfg.region} (the copies guard against losing that region)`,
    );
  }
  if (cfg.database && RESERVED_MASTER_USERS[cfg.database.engine].includes(cfg.database.masterUsername)) {
    add(
      ["fleet:database", "masterUsername"],
      `${JSON.stringify(cfg.database.masterUsername)} is a name ${cfg.database.engine} on RDS reserves, which RDS refuses; allowed: another name, such as fleetadmin (the default)`,
    );
  }
  if (cfg.database) {
    const versionIssue = engineVersionIssue(cfg.database);
    if (versionIssue) add(["fleet:database", "engineVersion"], versionIssue);
  }
  if (cfg.storage && cfg.storage.replicationRegion === cfg.region && mediaFromStack(cfg) === undefined) {
    add(
      ["fleet:storage", "replicationRegion"],
      `must differ from aws:region ${cfg.region} (the replicas guard against losing that region)`,
    );
  }
  if (cfg.recovery?.media === "replica" && cfg.storage && !cfg.storage.replicationRegion) {
    add(["fleet:recovery", "media"], '"replica" needs fleet:storage.replicationRegion (the region holding the replica buckets)');
  }
  return issues;
}

/** "fleet:nodes.count", "fleet:adminCidrs[0]", "aws:region": a path under `config:` as messages name it. */
export function formatIssuePath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : (i ? "." : "") + p)).join("") || "config";
}

/**
 * A value as a message may show it: never one that looks like a key or certificate, nor a long
 * one (it may be a secret pasted into the wrong field), never one the file keeps as a secret.
 */
export function shownValue(got: unknown, secret = false): string {
  if (got === undefined) return "missing";
  if (secret) return "got a secret value";
  const text = JSON.stringify(got) ?? String(got);
  if (/-----BEGIN|PRIVATE KEY/.test(text)) return "got a PEM text, not shown";
  if (text.length > 80) return `got a ${Array.isArray(got) ? "list" : typeof got} of ${text.length} characters`;
  return `got ${text}`;
}

/** "what is wrong (got X); what is allowed": the value goes beside what is wrong. */
function withShown(message: string, shown: string): string {
  const cut = message.indexOf("; ");
  return cut < 0 ? `${message} (${shown})` : `${message.slice(0, cut)} (${shown})${message.slice(cut)}`;
}

/** One zod issue (any but unknown keys, which the reader words itself) as "what is wrong; what is allowed". */
export function describeIssue(issue: z.core.$ZodIssue, got: unknown, secret = false): string {
  const shown = shownValue(got, secret);
  switch (issue.code) {
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")} (${shown})`;
    case "too_small":
      return `must be ${issue.origin === "array" ? "at least" : ">="} ${issue.minimum}${issue.origin === "array" ? " item(s)" : ""} (${shown})`;
    case "too_big":
      return `must be <= ${issue.maximum} (${shown})`;
    case "invalid_type":
      return got === undefined
        ? "is required (missing)"
        : `must be ${issue.expected === "object" ? "a mapping" : issue.expected === "int" ? "an integer" : `a ${issue.expected}`} (${shown})`;
    case "invalid_union":
      return `${issue.message} (${shown})`;
    default:
      return withShown(issue.message.replace(/^Invalid string: must match pattern .*$/, "invalid format"), shown);
  }
}

export function valueAt(values: unknown, keyPath: PropertyKey[]): unknown {
  let cur: unknown = values;
  for (const k of keyPath) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** "file:line:col" of fleet:<keyPath> in a stack file: the deepest existing node on the path, or just the file. */
export function locateKey(file: string, fileText: string | undefined, keyPath: string[]): string {
  if (!fileText) return file;
  const lineCounter = new LineCounter();
  const doc = parseDocument(fileText, { lineCounter });
  const segments: (string | number)[] = [
    "config",
    `fleet:${keyPath[0]}`,
    ...keyPath.slice(1).map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
  ];
  for (let n = segments.length; n >= 2; n--) {
    const node = doc.getIn(segments.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === "object" && node.range) {
      const pos = lineCounter.linePos(node.range[0]);
      return `${file}:${pos.line}:${pos.col}`;
    }
  }
  return file;
}
