// The one reader of a stack file (Pulumi.<stack>.yaml) and of every key under its `config:`.
//
// Pure (no Pulumi): the program (config/load.ts), `npm run plan`, `npm run check-apps`, `npm run
// tags` and the policy pack all read a stack file through here. The YAML is parsed once, with
// positions; each key has its validator (the fleet:* sections in their own modules, as Kamal has
// one validator per section), and every problem of the file comes out in one run, each as one
// line in the catalog's style: `FILE:LINE:COL: <key path>: what is wrong; what is allowed`.
// Unknown keys are refused at every level, including directly under `config:`. Values that may
// be secrets are never quoted.
import { Document, isMap, isNode, isScalar, LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { appsForStack, AppForStack, Catalog, checkAliases, formatError, LATEST, MAX_ALIASES, MAX_FILE_BYTES, yamlMessage } from "./catalog";
import { deploySchema, DeployOverrides, DeploySettings, hasCredential, resolveDeploySettings } from "./deployConfig";
import {
  explain as explainGithubIssue,
  GithubConfig,
  githubSchema,
  GithubSettings,
  githubSettings,
  releaseTagMatcher,
} from "./githubConfig";
import {
  AWS_REGIONS,
  catalogStack,
  checkCombinations,
  deployTag,
  describeIssue,
  formatIssuePath,
  hostBitsSet,
  INFRA_SECTIONS,
  networkOf,
  shownValue,
  StackConfig,
  StackConfigBody,
  StackIssue,
  STACK_CONFIG_KEYS,
  valueAt,
} from "./stackConfig";
import { SECURE_PLACEHOLDER } from "./secure";
import { checkTlsConfig, TlsFiles } from "./tlsConfig";

/** Keys Pulumi itself allows at the top of a stack file. */
const FILE_KEYS = ["config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt"];

const AWS_REGION = new RegExp(`^(${AWS_REGIONS.join("|")})$`);
/** A security group holds 60 inbound rules; the nginx hosts' takes HTTP, HTTPS and the nodes' SSH besides one per admin range. */
export const MAX_ADMIN_CIDRS = 57;
/** The longest secret value: it goes into the app's environment file, one line each. */
const MAX_SECRET_CHARS = 65536;
const ACCOUNT_IDS = z.array(z.string().regex(/^\d{12}$/, "must be a 12-digit AWS account id (quote it)")).min(1);
const CREDENTIAL_KEYS = ["aws:accessKey", "aws:secretKey", "aws:token"];

/** Where a path is in the file, and whether the file keeps its value as a secret. */
export interface StackDocument {
  file: string;
  /** `config:` as the program gets it: "ns:key" -> value, each `secure:` value replaced by a placeholder. */
  values: Record<string, unknown>;
  /** Paths ("fleet:appSecrets.polls.SENTRY_DSN") whose value is `secure:` in the file. */
  secretPaths: Set<string>;
  /** The same paths -> their ciphertext: a changed secret changes it (the plan sees only placeholders). */
  ciphertexts: Map<string, string>;
  /** Lines about the file as a whole (YAML syntax, top-level keys): nothing else is checked then. */
  errors: string[];
  /** Whether the file exists (a stack's config may also come from the engine alone). */
  exists: boolean;
  locate(path: (string | number)[], onKey?: boolean): string;
  has(path: (string | number)[]): boolean;
}

/** What the program, the plan and the tools take from a valid stack file: every key resolved, its
 *  defaults applied (here, once). */
export interface StackSettings {
  infra: StackConfig;
  /** fleet:github with github:owner and github:token. */
  github: GithubSettings;
  /** fleet:deploy over the rollout's defaults (config/deployConfig.ts). */
  deploy: DeploySettings;
  /** Per app with a certificate in fleet:tls: the PEM chain and key. */
  certificates: Record<string, TlsFiles>;
  /** fleet:appsFile: the catalog's path, relative to the project. */
  appsFile: string;
  /** fleet:appSecrets: app -> secret name -> value (secrets: never shown). */
  appSecrets: Record<string, Record<string, string>>;
  /** The release tag rules the repositories have: `latest` resolves among the tags they protect. */
  tagRules: TagRules;
}

/** The catalog a stack plans with when its file names none. */
export const DEFAULT_APPS_FILE = "apps.yaml";

/** fleet:appsFile of a stack's config values, else the default (the catalog is read before the
 *  stack is checked: it names the apps the check needs). */
export function appsFileOf(values: Record<string, unknown>): string {
  const given = values["fleet:appsFile"];
  return typeof given === "string" ? given : DEFAULT_APPS_FILE;
}

export interface StackReport {
  settings?: StackSettings;
  errors: string[];
  warnings: string[];
}

export interface StackContext {
  stack: string;
  /** Stacks with a stack file (a recovery replaces one of them). */
  knownStacks: string[];
  /** The catalog, when valid: fleet:tls and fleet:appSecrets name its apps. */
  catalog?: Catalog;
  now?: Date;
  /** The stack whose fleet:github.manageRepositories writes the tag rules, and its
   *  releaseTagPattern, when another stack's file says so (config/stackFiles.ts tagRules). */
  tagRules?: TagRules;
}

/** Which tags the repositories' release tag rulesets protect, and which stack writes them. */
export interface TagRules {
  stack: string;
  pattern: string;
}

// ---- parsing ----------------------------------------------------------------------------------

const pathKey = (path: (string | number)[]) => formatIssuePath(path);

function isSecure(v: unknown): v is { secure: string } {
  return (
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    Object.keys(v).length === 1 &&
    typeof (v as { secure?: unknown }).secure === "string"
  );
}

/** A YAML alias inside the value it names: the value would be infinite. */
class AliasCycle extends Error {}

/** Replaces `secure:` values (at any depth) by the placeholder, noting where they were and their ciphertext. */
function stripSecure(v: unknown, path: (string | number)[], secrets: Map<string, string>, within: object[] = []): unknown {
  if (isSecure(v)) {
    secrets.set(pathKey(path), v.secure);
    return SECURE_PLACEHOLDER;
  }
  if (typeof v !== "object" || v === null) return v;
  if (within.includes(v)) throw new AliasCycle(pathKey(path));
  const inner = [...within, v];
  if (Array.isArray(v)) return v.map((x, i) => stripSecure(x, [...path, i], secrets, inner));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, stripSecure(x, [...path, k], secrets, inner)]));
}

/** Parses a stack file once, with positions. A file that is not YAML, or not a stack file, is one line. */
export function parseStackFile(text: string | undefined, file: string): StackDocument {
  const lines = new LineCounter();
  const exists = text !== undefined;
  const doc = parseDocument(text ?? "", { lineCounter: lines, uniqueKeys: true, prettyErrors: false, strict: true, merge: false });
  const position = (offset: number) => {
    const p = lines.linePos(offset);
    return `${file}:${p.line}:${p.col}`;
  };
  const at = (offset: number, where: string, message: string) => {
    const p = lines.linePos(offset);
    return { file, line: p.line, col: p.col, where, message };
  };
  const stackDoc: StackDocument = {
    file,
    values: {},
    secretPaths: new Set(),
    ciphertexts: new Map(),
    errors: [],
    exists,
    locate: (path, onKey = false) => position(offsetOf(doc, ["config", ...path], onKey)),
    has: (path) => isNode(doc.getIn(["config", ...path], true)),
  };
  if (text !== undefined && Buffer.byteLength(text, "utf8") > MAX_FILE_BYTES) {
    stackDoc.errors.push(`${file}:1:1: stack file: is larger than ${MAX_FILE_BYTES} bytes`);
    return stackDoc;
  }
  // The first YAML error only: the ones after it are mostly its echoes.
  const syntax = doc.errors[0];
  if (syntax) {
    stackDoc.errors.push(formatError(at(syntax.pos[0], "stack file", yamlMessage(syntax.code, syntax.message))));
    return stackDoc;
  }
  const alias = checkAliases(doc, at, "stack file");
  if (alias) {
    stackDoc.errors.push(formatError(alias));
    return stackDoc;
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    stackDoc.errors.push(
      `${position(offsetOf(doc, []))}: stack file: must be a mapping with a config: section; allowed keys: ${FILE_KEYS.join(", ")}`,
    );
    return stackDoc;
  }
  for (const pair of isMap(doc.contents) ? doc.contents.items : []) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof key !== "string" || !FILE_KEYS.includes(key)) {
      const offset = isNode(pair.key) && pair.key.range ? pair.key.range[0] : 0;
      stackDoc.errors.push(
        `${position(offset)}: ${String(key)}: unknown key at the top of the stack file; allowed keys: ${FILE_KEYS.join(", ")} (fleet:*, aws:* and github:* keys go under config:)`,
      );
    }
  }
  const config = doc.get("config", true);
  if (config !== undefined && config !== null && !(isScalar(config) && config.value === null) && !isMap(config)) {
    stackDoc.errors.push(`${stackDoc.locate([])}: config: must be a mapping of "namespace:key" to value`);
  }
  if (stackDoc.errors.length > 0) return stackDoc;
  const raw = (doc.toJS({ maxAliasCount: MAX_ALIASES }) as { config?: Record<string, unknown> } | null)?.config ?? {};
  try {
    for (const [key, value] of Object.entries(raw)) stackDoc.values[key] = stripSecure(value, [key], stackDoc.ciphertexts);
    stackDoc.secretPaths = new Set(stackDoc.ciphertexts.keys());
  } catch (err) {
    if (!(err instanceof AliasCycle)) throw err;
    stackDoc.values = {};
    stackDoc.errors.push(
      `${stackDoc.locate([err.message.split(/[.[]/)[0]])}: ${err.message}: a YAML alias inside the value it names (an endless value); allowed: aliases of values defined before them`,
    );
  }
  return stackDoc;
}

/** The offset of a path's value (or key), else of its nearest parent that exists. */
function offsetOf(doc: Document, path: (string | number)[], onKey = false): number {
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n);
    if (onKey && n === path.length && n > 0) {
      const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
      const pair = isMap(parent) ? parent.items.find((p) => isScalar(p.key) && p.key.value === path[n - 1]) : undefined;
      if (pair && isNode(pair.key) && pair.key.range) return pair.key.range[0];
    }
    const node = n === 0 ? doc.contents : doc.getIn(sub, true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return 0;
}

/**
 * The engine's config (every value a string; structured ones JSON) as the reader takes it: the
 * keys whose validator wants a string keep the text, the others are decoded.
 */
export function decodeEngineConfig(flat: Record<string, string>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(flat).map(([k, v]) => {
      if (STRING_KEYS.includes(k)) return [k, v];
      try {
        return [k, JSON.parse(v) as unknown];
      } catch {
        return [k, v];
      }
    }),
  );
}

// ---- checking ---------------------------------------------------------------------------------

/** What a key's validator gets: where to report, and what the file says about secrets. */
class Scope {
  readonly errors: { where: string; message: string }[] = [];
  readonly warnings: string[] = [];
  constructor(readonly doc: StackDocument) {}

  line(path: (string | number)[], message: string, onKey = false): string {
    return `${this.doc.locate(path, onKey)}: ${formatIssuePath(path)}: ${message}`;
  }
  error(path: (string | number)[], message: string, onKey = false): void {
    this.errors.push({ where: this.doc.locate(path, onKey), message: `${formatIssuePath(path)}: ${message}` });
  }
  warn(path: (string | number)[], message: string, onKey = false): void {
    this.warnings.push(this.line(path, message, onKey));
  }
  /** true/false when the file has the value (secure or not), undefined when it does not. */
  secretInFile(path: (string | number)[]): boolean | undefined {
    if (this.doc.secretPaths.has(pathKey(path))) return true;
    return this.doc.has(path) ? false : undefined;
  }

  /** Every issue of a zod schema at `path`; the data when there were none. */
  zod<S extends z.ZodType>(
    schema: S,
    value: unknown,
    path: (string | number)[],
    explain: (issue: z.core.$ZodIssue, got: unknown, secret: boolean) => string,
  ): z.infer<S> | undefined {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      const at = [...path, ...issue.path.filter((p): p is string | number => typeof p !== "symbol")];
      if (issue.code === "unrecognized_keys") {
        const allowed = objectKeysAt(schema, issue.path, value);
        for (const key of issue.keys)
          this.error(
            [...at, key],
            `unknown key; allowed: ${allowed?.join(", ") ?? "see docs/infrastructure.md"}${suggestion(key, allowed ?? [])}`,
            true,
          );
      } else {
        // A value the file keeps as `secure:` is never shown, not even decrypted and wrong.
        const secret = [...this.doc.secretPaths].some((p) => pathKey(at).startsWith(p));
        this.error(at, explain(issue, valueAt(value, issue.path), secret));
      }
    }
    return undefined;
  }
}

/** " (did you mean x?)" for a key one or two edits away from an allowed one. */
function suggestion(key: string, allowed: string[]): string {
  const near = allowed.find((a) => a !== key && editDistance(a.toLowerCase(), key.toLowerCase()) <= 2);
  return near ? ` (did you mean ${near}?)` : "";
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

interface ZodDefView {
  type: string;
  innerType?: z.ZodType;
  element?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  options?: z.ZodType[];
  values?: unknown[];
}
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: ZodDefView } })._zod.def;

/** The keys the object schema at `path` allows (the union member the value chose, for unions). */
function objectKeysAt(schema: z.ZodType, path: PropertyKey[], value: unknown): string[] | undefined {
  let s: z.ZodType | undefined = schema;
  let v = value;
  const settle = () => {
    while (s && ["optional", "default", "nullable", "prefault"].includes(defOf(s).type)) s = defOf(s).innerType;
    if (s && defOf(s).type === "union") s = defOf(s).options?.find((o) => matchesLiterals(o, v));
  };
  for (const p of path) {
    settle();
    if (!s) return undefined;
    const def = defOf(s);
    s = def.type === "array" ? def.element : def.shape?.[String(p)];
    v = valueAt(v, [p]);
  }
  settle();
  const shape = s ? defOf(s).shape : undefined;
  return shape ? Object.keys(shape) : undefined;
}

function matchesLiterals(option: z.ZodType, v: unknown): boolean {
  const shape = defOf(option).shape;
  if (!shape) return false;
  return Object.entries(shape).every(([k, f]) => defOf(f).type !== "literal" || (defOf(f).values ?? []).includes(valueAt(v, [k])));
}

type Validator = (value: unknown, scope: Scope, key: string, state: CheckState) => void;

/** What the validators build up, and what the later ones need from the earlier ones. */
interface CheckState {
  ctx: StackContext;
  values: Record<string, unknown>;
  infra: Partial<StackConfigBody>;
  region?: string;
  github?: GithubConfig;
  deploy?: DeployOverrides;
  appsFile?: string;
}

const stringKey =
  (pattern: RegExp, allowed: string): Validator =>
  (value, scope, key) => {
    if (typeof value !== "string" || !pattern.test(value))
      scope.error(
        [key],
        `${value === undefined ? "is required" : `is not allowed (${shownValue(value, scope.secretInFile([key]))})`}; allowed: ${allowed}`,
      );
  };

const infraSection =
  (section: (typeof STACK_CONFIG_KEYS)[number]): Validator =>
  (value, scope, key, state) => {
    const data = scope.zod(INFRA_SECTIONS[section], value, [key], describeIssue);
    if (data !== undefined) (state.infra as Record<string, unknown>)[section] = data;
  };

/** The keys a stack file may have under config:, each with its validator. */
const VALIDATORS: Record<string, Validator> = {
  "aws:region": (value, scope, key, state) => {
    stringKey(AWS_REGION, "an AWS region such as eu-west-1 (one AWS has)")(value, scope, key, state);
    if (typeof value === "string" && AWS_REGION.test(value)) state.region = value;
  },
  "aws:profile": stringKey(/^[A-Za-z0-9_.@+-]{1,64}$/, "the name of a profile in ~/.aws/config"),
  "aws:allowedAccountIds": (value, scope, key) => void scope.zod(ACCOUNT_IDS, value, [key], describeIssue),
  "aws:forbiddenAccountIds": (value, scope, key) => void scope.zod(ACCOUNT_IDS, value, [key], describeIssue),
  "github:owner": stringKey(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/, "a GitHub organisation or user name"),
  "github:token": (value, scope, key) => {
    if (typeof value !== "string" || value === "")
      scope.error(
        [key],
        "must be a token (a string); allowed: pulumi config set --secret github:token, or GITHUB_TOKEN in the environment",
      );
    else if (scope.secretInFile([key]) === false)
      scope.warn(
        [key],
        "is plain text in the stack file (and in git): revoke it and set it as a secret: pulumi config set --secret github:token",
      );
  },
  "fleet:appsFile": stringKey(/^[^\0\r\n]{1,4096}$/, "the catalog's path, relative to the project (apps.yaml)"),
  ...Object.fromEntries(STACK_CONFIG_KEYS.map((k) => [`fleet:${k}`, infraSection(k)])),
  "fleet:github": (value, scope, key, state) => {
    state.github = scope.zod(githubSchema, value ?? {}, [key], (issue) => explainGithubIssue(issue));
  },
  "fleet:deploy": (value, scope, key, state) => {
    // A URL with a credential in it is a secret: said, never shown.
    state.deploy = scope.zod(deploySchema, value ?? {}, [key], (issue, got, secret) =>
      describeIssue(issue, got, secret || hasCredential(got)),
    );
  },
  "fleet:appSecrets": (value, scope, key, state) => checkAppSecrets(value, scope, key, state),
  // Needs the apps of this stack, so it runs last (checkStack).
  "fleet:tls": () => undefined,
};

/** Keys whose validator wants the text as written (the engine gives every value as a string). */
const STRING_KEYS = ["aws:region", "aws:profile", "github:owner", "github:token", "fleet:appsFile"];
/** Keys the program cannot run without (the others have defaults). */
const REQUIRED_KEYS = ["aws:region", "fleet:network", "fleet:adminCidrs", "fleet:nodes", "fleet:database"];
export const ALLOWED_CONFIG_KEYS = Object.keys(VALIDATORS);

/** The apps the stack runs (a recovery stack: those of the stack it replaces), as index.ts deploys them. */
export function stackApps(catalog: Catalog, infra: Pick<StackConfig, "stack" | "recovery">): AppForStack[] {
  return appsForStack(catalog, catalogStack(infra)).map((a) => ({ ...a, tag: deployTag(infra, a.tag) }));
}

/**
 * Checks a stack's configuration: the values of `doc` (the file's) or `values` (the engine's,
 * decrypted), with positions from the file. Every problem is one line.
 */
export function checkStack(doc: StackDocument, ctx: StackContext, values: Record<string, unknown> = doc.values): StackReport {
  if (doc.errors.length > 0) return { errors: [...doc.errors], warnings: [] };
  const scope = new Scope(doc);
  const state: CheckState = { ctx, values, infra: {} };
  for (const [key, value] of Object.entries(values)) {
    const validator = VALIDATORS[key];
    if (validator) validator(value, scope, key, state);
    else if (CREDENTIAL_KEYS.includes(key))
      scope.error(
        [key],
        "AWS credentials never go in the stack file; allowed: the environment (AWS_PROFILE or AWS_* variables; OpenID Connect in CI)",
        true,
      );
    else scope.error([key], `unknown key; allowed: ${ALLOWED_CONFIG_KEYS.join(", ")}${suggestion(key, ALLOWED_CONFIG_KEYS)}`, true);
  }
  for (const key of REQUIRED_KEYS.filter((k) => values[k] === undefined))
    scope.error([key], `is required (missing); see docs/infrastructure.md, "Stack config keys"`);
  // Defaults for optional sections come from their schemas.
  for (const key of ["github", "deploy"] as const)
    if (values[`fleet:${key}`] === undefined) VALIDATORS[`fleet:${key}`](undefined, scope, `fleet:${key}`, state);
  for (const section of ["staticHost", "storage", "protect", "logs"] as const) {
    if (values[`fleet:${section}`] === undefined) infraSection(section)(undefined, scope, `fleet:${section}`, state);
  }
  checkAdminCidrs(values["fleet:adminCidrs"], scope);
  checkRecoveryTime(state, scope);
  const infra = state.region ? { ...state.infra, stack: ctx.stack, region: state.region } : undefined;
  for (const issue of infra ? checkCombinations(infra, { knownStacks: ctx.knownStacks }) : []) scope.error(issue.path, issue.message);
  const certificates = checkTls(values["fleet:tls"], scope, state);
  checkReleaseTags(scope, state);
  const errors = scope.errors.sort(byPosition).map((e) => `${e.where}: ${e.message}`);
  const warnings = scope.warnings.sort((a, b) => byPosition({ where: a.split(": ")[0] }, { where: b.split(": ")[0] }));
  if (errors.length > 0 || !infra || !isComplete(infra) || !state.github || !state.deploy) return { errors, warnings };
  const rules = tagRulesOf(state) ?? { stack: ctx.stack, pattern: state.github.releaseTagPattern };
  return { settings: resolveSettings(infra, state.github, state.deploy, values, { certificates, tagRules: rules }), errors, warnings };
}

/** The settings of a valid stack: each key's schema defaults are in already; the rest resolved here. */
function resolveSettings(
  infra: StackConfig,
  github: GithubConfig,
  deploy: DeployOverrides,
  values: Record<string, unknown>,
  checked: Pick<StackSettings, "certificates" | "tagRules">,
): StackSettings {
  const text = (key: string) => (typeof values[key] === "string" ? (values[key] as string) : undefined);
  const resolvedGithub = githubSettings(github, text("github:owner"), text("github:token"));
  return {
    infra,
    github: resolvedGithub,
    deploy: resolveDeploySettings(deploy, infra.database.engine, resolvedGithub.cloneHost),
    appsFile: appsFileOf(values),
    appSecrets: (values["fleet:appSecrets"] ?? {}) as Record<string, Record<string, string>>,
    ...checked,
  };
}

function isComplete(infra: Partial<StackConfig>): infra is StackConfig {
  return (STACK_CONFIG_KEYS as readonly string[])
    .filter((k) => k !== "recovery")
    .every((k) => (infra as Record<string, unknown>)[k] !== undefined);
}

/** file:line:col order, so the lines read top to bottom. */
function byPosition(a: { where: string }, b: { where: string }): number {
  const pos = (w: string) => (/:(\d+):(\d+)$/.exec(w) ?? ["", "0", "0"]).slice(1).map(Number);
  const [la, ca] = pos(a.where);
  const [lb, cb] = pos(b.where);
  return la - lb || ca - cb;
}

/** A point-in-time restore to a time that has not come yet fails at the engine, mid-recovery. */
function checkRecoveryTime(state: CheckState, scope: Scope): void {
  const source = state.infra.recovery?.database;
  const now = state.ctx.now ?? new Date();
  if (source?.from !== "pointInTime" || source.time === undefined || Date.parse(source.time) <= now.getTime()) return;
  scope.error(
    ["fleet:recovery", "database", "time"],
    `${JSON.stringify(source.time)} is in the future (now ${now.toISOString()}); allowed: a past time within the backup retention, or no time (the latest restorable)`,
  );
}

/** AWS refuses a rule with host bits or a repeated rule; SSH from everywhere is legal but dangerous. */
function checkAdminCidrs(value: unknown, scope: Scope): void {
  if (!Array.isArray(value)) return;
  const key = "fleet:adminCidrs";
  if (value.length > MAX_ADMIN_CIDRS)
    scope.error(
      [key],
      `has ${value.length} ranges, more than the nginx hosts' security group holds (60 rules, 3 of them for HTTP, HTTPS and the nodes); allowed: at most ${MAX_ADMIN_CIDRS}: merge ranges`,
    );
  value.forEach((c: unknown, i) => {
    if (typeof c !== "string") return;
    if (c.includes(":")) {
      scope.error(
        [key, i],
        `${JSON.stringify(c)} is an IPv6 range, and the VPC and its SSH rules are IPv4 only${c.endsWith("/0") ? " (::/0 would open SSH to the whole internet)" : ""}; allowed: IPv4 CIDRs like 203.0.113.0/24`,
      );
    } else if (/\/\d+$/.test(c) && INFRA_SECTIONS.adminCidrs.safeParse([c]).success) {
      if (hostBitsSet(c))
        scope.error(
          [key, i],
          `${JSON.stringify(c)} has host bits set, which AWS refuses; allowed: the network address of the range (${networkOf(c)}) or one address as /32`,
        );
      else if (value.indexOf(c) !== i)
        scope.error([key, i], `${JSON.stringify(c)} is listed twice (AWS refuses a repeated rule); allowed: each range once`);
      else if (c.endsWith("/0"))
        scope.warn(
          [key, i],
          "opens SSH to the whole internet (0.0.0.0/0): legal, but every machine then takes SSH attempts from anywhere; list the ranges that need SSH (CI runners, the ops VPN)",
        );
    }
  });
  // zod's own line for an IPv6 entry says "must be an IPv4 CIDR": the line above says more.
  const ipv6 = new Set(value.map((c: unknown, i) => (typeof c === "string" && c.includes(":") ? `${key}[${i}]` : "")));
  scope.errors.splice(
    0,
    scope.errors.length,
    ...scope.errors.filter((e) => !(ipv6.has(e.message.split(": ")[0]) && /must be an IPv4 CIDR/.test(e.message))),
  );
}

/** fleet:appSecrets: app -> secret name (one the catalog lists for the app) -> its value, a string. */
function checkAppSecrets(value: unknown, scope: Scope, key: string, state: CheckState): void {
  if (value === undefined) return;
  const mapping = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!mapping(value)) {
    scope.error(
      [key],
      "must be a mapping of app name -> {SECRET_NAME: value}; allowed: pulumi config set --secret --path 'fleet:appSecrets.APP.NAME' VALUE",
    );
    return;
  }
  const catalog = state.ctx.catalog;
  const withSecrets = catalog?.apps.filter((a) => a.secrets.length > 0).map((a) => a.name) ?? [];
  for (const [app, names] of Object.entries(value as Record<string, unknown>)) {
    const known = catalog?.apps.find((a) => a.name === app);
    if (catalog && !known) {
      // A near miss of an app that has secrets is a typo; otherwise the app left the
      // catalog (or another catalog is planned) and its secrets are merely unused.
      const typo = suggestion(app, withSecrets);
      if (typo)
        scope.error(
          [key, app],
          `no app ${JSON.stringify(app)} in the catalog; allowed: the apps that list secrets (${withSecrets.join(", ") || "none"})${typo}`,
          true,
        );
      else
        scope.warn(
          [key, app],
          `no app ${JSON.stringify(app)} in the catalog: its secrets are unused; remove them with pulumi config rm --path '${key}.${app}'`,
          true,
        );
      continue;
    }
    if (!mapping(names)) {
      scope.error(
        [key, app],
        `must be a mapping of secret name -> value; allowed: the names ${app} lists in secrets: (${known?.secrets.join(", ") || "none"})`,
      );
      continue;
    }
    for (const [name, secret] of Object.entries(names as Record<string, unknown>)) {
      const path = [key, app, name];
      if (known && !known.secrets.includes(name)) {
        scope.error(
          path,
          `the catalog lists no secret ${name} for ${app}; allowed: ${known.secrets.join(", ") || "none (its secrets: is empty)"}${suggestion(name, known.secrets)}`,
          true,
        );
      } else if (typeof secret !== "string") {
        // Never the value: it is a secret even when it is not a string.
        scope.error(
          path,
          `must be a string, not ${secret === null ? "null" : Array.isArray(secret) ? "a list" : `a ${typeof secret}`}; allowed: the secret's text: pulumi config set --secret --path '${key}.${app}.${name}' VALUE`,
        );
      } else if (/[\r\n\0]/.test(secret) || secret.length > MAX_SECRET_CHARS) {
        // Caught on the decrypted value too: the program checks the engine's config before declaring anything.
        scope.error(
          path,
          `must be one line of at most ${MAX_SECRET_CHARS} characters (no newline or NUL: the environment file holds one NAME='value' a line); allowed: a single-line value, e.g. base64 of a multi-line one`,
        );
      } else if (scope.secretInFile(path) === false) {
        scope.warn(
          path,
          `is plain text in the stack file (and in git): set it as a secret: pulumi config set --secret --path '${key}.${app}.${name}' VALUE`,
        );
      }
    }
  }
}

/** Every secret an app on this stack lists has a value (else the rollout would stop half-way). */
function checkSecretValues(apps: AppForStack[], values: Record<string, unknown>, scope: Scope): void {
  const all = (values["fleet:appSecrets"] ?? {}) as Record<string, Record<string, unknown> | undefined>;
  if (typeof all !== "object" || all === null) return;
  for (const app of apps) {
    const missing = app.secrets.filter((n) => all[app.name]?.[n] === undefined);
    if (missing.length > 0) {
      scope.error(
        ["fleet:appSecrets", ...(all[app.name] ? [app.name] : [])],
        `${app.name} lists secret(s) ${missing.join(", ")} in the catalog, with no value here; allowed: set each with pulumi config set --secret --path 'fleet:appSecrets.${app.name}.${missing[0]}' VALUE`,
      );
    }
  }
}

/** This stack's managed rules, else the rules another stack writes, else its own setting (the default v*). */
function tagRulesOf(state: CheckState): TagRules | undefined {
  if (!state.github) return undefined;
  if (state.github.manageRepositories || !state.ctx.tagRules) return { stack: state.ctx.stack, pattern: state.github.releaseTagPattern };
  return state.ctx.tagRules;
}

/**
 * Every tag this stack deploys is one the release tag rulesets protect: anyone with write access
 * could create or move any other, and new or replaced nodes would fetch it. Reported at the tag in
 * the catalog. `latest` is resolved among the covered tags only (github/resolveTags.ts).
 */
function checkReleaseTags(scope: Scope, state: CheckState): void {
  const catalog = state.ctx.catalog;
  const rules = tagRulesOf(state);
  if (!catalog || !rules || (state.values["fleet:recovery"] !== undefined && !state.infra.recovery)) return;
  const covered = releaseTagMatcher(rules.pattern);
  const stack = catalogStack({ stack: state.ctx.stack, recovery: state.infra.recovery });
  for (const app of stackApps(catalog, { stack: state.ctx.stack, recovery: state.infra.recovery })) {
    if (app.tag === LATEST || covered(app.tag)) continue;
    const at = catalog.entries?.[app.name]?.tagAt?.[stack] ?? { line: 1, col: 1 };
    const whose = rules.stack === state.ctx.stack ? "this stack's" : `stack ${rules.stack}'s`;
    scope.errors.push({
      where: `${catalog.file ?? DEFAULT_APPS_FILE}:${at.line}:${at.col}`,
      message: `${app.name}.tags.${stack}: ${JSON.stringify(app.tag)} is not protected by the release tag rules (${whose} fleet:github.releaseTagPattern ${JSON.stringify(rules.pattern)}), so anyone with write access could create or move it and ${state.ctx.stack} would deploy it; allowed: a tag matching ${rules.pattern}, or "latest"`,
    });
  }
}

/** fleet:tls against the apps this stack runs (when the catalog and fleet:recovery are valid). */
function checkTls(value: unknown, scope: Scope, state: CheckState): Record<string, TlsFiles> {
  const catalog = state.ctx.catalog;
  if (!catalog) return {};
  // Whose apps these are is known only when fleet:recovery (if any) is valid and names a stack.
  const recovery = state.infra.recovery;
  if (state.values["fleet:recovery"] !== undefined && (!recovery || !state.ctx.knownStacks.includes(recovery.replaces))) return {};
  const apps = stackApps(catalog, { stack: state.ctx.stack, recovery: state.infra.recovery });
  checkSecretValues(apps, state.values, scope);
  const key = "fleet:tls";
  const check = checkTlsConfig(value, {
    apps,
    stack: state.ctx.stack,
    file: scope.doc.file,
    now: state.ctx.now ?? new Date(),
    locate: (keyPath) => scope.doc.locate([key, ...keyPath]),
    keyIsSecret: (app) => scope.secretInFile([key, app, "privateKey"]),
  });
  for (const line of check.errors) {
    const cut = line.indexOf(": fleet:");
    scope.errors.push({ where: line.slice(0, cut), message: line.slice(cut + 2) });
  }
  scope.warnings.push(...check.warnings);
  return check.certificates;
}

export type { StackIssue };
