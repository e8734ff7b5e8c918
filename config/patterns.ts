// The patterns every value from the catalog or the stack config must match before it reaches a
// shell, a path, an nginx config or a git command: written once, here, in a form both languages
// read. TypeScript builds its RegExp from each rule; `npm run generate` writes the same rules into
// node/rollout/lib-rules.sh, whose check_* functions the node scripts call.
//
// A rule is a POSIX extended regular expression (what `grep -Ex` takes, which is also valid
// JavaScript: bracket expressions, groups, `|`, `?`, `*`, `+`, `{m,n}`, `\.`; no `(?:`, no
// lookaround, no `\d`) the whole value must match, plus what sh's `case` and `${#v}` say best:
// globs (only `*` wildcards) the value must not match, and a maximum length.

export interface Rule {
  /** What the value is, in messages: "app name". */
  label: string;
  /** POSIX ERE the whole value must match; no `|` outside parentheses (it is anchored as is). */
  ere: string;
  /** sh `case` globs the value must not match (`*` is the only wildcard). */
  refuse?: string[];
  /** The longest value allowed, in characters. */
  maxLength?: number;
}

const IDENT = "[A-Za-z_][A-Za-z0-9_]*";

/** The platform settings an app's catalog entry can turn off (`overrides:`; config/catalog.ts). */
export const OVERRIDE_NAMES = ["database", "hosts", "static", "secretKey", "proxy", "storage", "debug"] as const;
// "none" stands alone (the refused globs say so): the word list is one group, for the shell too.
const OVERRIDE_WORD = `(none|${OVERRIDE_NAMES.join("|")})`;
const LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";

/** The line that ends the environment file and starts the git access (deploy key, known_hosts)
 *  in the stdin of install.sh: no environment line (NAME='value') and no key line looks like it. */
export const GIT_ACCESS_MARKER = "@@fleet-git-access";

export const RULES = {
  /** An app's name in the catalog: a DNS label, part of paths and nginx file names; never an
   *  identity on a machine (config/identity.ts derives those). */
  app: { label: "app name", ere: "[a-z][a-z0-9-]{1,30}[a-z0-9]" },
  /** An app's OS user and group as config/identity.ts derives them: app_ and a name no system
   *  or platform account has. */
  osUser: { label: "app user", ere: "app_[a-z][a-z0-9-]{1,25}[a-z0-9]" },
  /** An app's database and role as config/identity.ts derives them. */
  database: { label: "database name", ere: "app_[a-z][a-z0-9_]{1,25}[a-z0-9]" },
  /** A git tag (git check-ref-format's rules, narrowed). */
  tag: { label: "tag", ere: "[A-Za-z0-9][A-Za-z0-9._/-]{0,127}", refuse: ["*..*", "*//*", "*.lock", "*/", "*."] },
  /** Where a node clones an app from. The host starts with a letter or digit (git and ssh read a
   *  leading `-` as an option); no credential in it (an https user or a password): the URL is on
   *  command lines and in the plan. */
  gitUrl: {
    label: "git url",
    ere: "(git@[A-Za-z0-9][A-Za-z0-9.-]*:|ssh://([a-z_][a-z0-9_-]*@)?[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]+)?/|https://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]+)?/|file:///)[A-Za-z0-9._/@:+-]+",
    maxLength: 1024,
  },
  /** A Python dotted module path (DJANGO_SETTINGS_MODULE); long enough for any real one, short
   *  enough for every command line it is on. */
  dotted: { label: "module", ere: `${IDENT}(\\.${IDENT})*`, maxLength: 200 },
  /** module:callable of the WSGI application, or `django`: Django's own handler under the platform's
   *  settings module (node/rollout/gunicorn.conf.py), for an app whose wsgi.py cannot be used as is. */
  wsgi: { label: "wsgi", ere: `(django|${IDENT}(\\.${IDENT})*:${IDENT})`, maxLength: 200 },
  /** A lowercase host name: labels, a letter first in the last one, 253 at most. */
  domain: { label: "domain", ere: `(${LABEL}\\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?`, maxLength: 253 },
  /** The URL path of an app's health check. */
  healthPath: { label: "health path", ere: "/[A-Za-z0-9._~/-]*", maxLength: 200 },
  /** An environment variable's name. */
  envName: { label: "environment name", ere: "[A-Z_][A-Z0-9_]*" },
  /** A Unix user name for SSH (the deploy user). */
  sshUser: { label: "ssh user", ere: "[a-z_][a-z0-9_-]{0,31}" },
  /** The overrides that are on, as stage.sh gets them: a comma list, or none. */
  overrides: { label: "overrides", ere: `${OVERRIDE_WORD}(,${OVERRIDE_WORD})*`, refuse: ["none,*", "*,none", "*,none,*"] },
  /** The name of an app's background process or schedule (config/processes.ts): part of a systemd unit's name. */
  processName: { label: "process name", ere: "[a-z]([a-z0-9-]{0,30}[a-z0-9])?" },
  /** A process's or schedule's command line: words of safe characters split on spaces, never a
   *  shell's (no quotes, `$`, `;`, `|`, `&`, `<`, `>`, backslash; no `%`, which systemd expands). */
  command: { label: "command", ere: "[A-Za-z0-9_./=:,@+-]+( +[A-Za-z0-9_./=:,@+-]+)*", maxLength: 500 },
  /** A schedule's time as systemd's OnCalendar, rendered from its cron (config/processes.ts: onCalendar). */
  onCalendar: { label: "calendar", ere: "([A-Z][a-z]{2}(,[A-Z][a-z]{2})* )?\\*-[0-9*,]+-[0-9*,]+ [0-9*,]+:[0-9*,]+:00 UTC" },
  /** A host the scripts connect to (the database, the nginx host): a name or an address. */
  host: { label: "host", ere: "[A-Za-z0-9]([A-Za-z0-9.-]{0,252})" },
} as const satisfies Record<string, Rule>;

export type RuleName = keyof typeof RULES;

/** A whole number's bounds, for the catalog, fleet:deploy and the node scripts alike. */
export interface Limit {
  /** What the value is, in the scripts' messages: "workers". */
  label: string;
  min: number;
  max: number;
}

/** The numeric limits of the values the plan passes to the node scripts: the catalog and
 *  fleet:deploy refuse anything outside them, and `npm run generate` writes each as a check_*
 *  function of node/rollout/lib-rules.sh, the scripts' last check. */
export const LIMITS = {
  /** gunicorn workers per node. */
  workers: { label: "workers", min: 1, max: 32 },
  /** gunicorn's request timeout, seconds. */
  timeout: { label: "timeout", min: 1, max: 3600 },
  /** Releases kept per app and node (the one serving always is). */
  keepReleases: { label: "keep", min: 1, max: 100 },
  /** How long a switched node may take to answer its health check, seconds. */
  healthSeconds: { label: "health seconds", min: 1, max: 600 },
  migrationLockTimeout: { label: "lock timeout", min: 1, max: 3600 },
  migrationStatementTimeout: { label: "statement timeout", min: 1, max: 86400 },
  migrationRetries: { label: "retries", min: 0, max: 10 },
  migrationSmallTableRows: { label: "small-table rows", min: 0, max: 100_000_000 },
  /** An app's gunicorn port on the nodes (below 1024 only root may listen). */
  port: { label: "port", min: 1024, max: 65535 },
} as const satisfies Record<string, Limit>;

/** A choice among words, for the catalog, fleet:deploy and the node scripts alike. */
export interface Choice {
  label: string;
  values: readonly string[];
}

/** The enumerations the node scripts take (generated into lib-rules.sh as check_* functions). */
export const CHOICES = {
  /** index: pip installs from the package index. system: the machine's Python packages only. */
  pipMode: { label: "pip mode", values: ["index", "system"] },
  /** What Django's check --deploy warnings do to a stage: warn, or fail it. */
  deployChecks: { label: "deploy checks", values: ["warn", "fail"] },
} as const satisfies Record<string, Choice>;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** A glob of `*` wildcards as a regular expression (unanchored). */
const globRegExp = (glob: string) => glob.split("*").map(escapeRegExp).join(".*");

/** The JavaScript RegExp of a rule: anchored, with its length and refused globs as lookaheads. */
export function ruleRegExp(rule: Rule): RegExp {
  const length = rule.maxLength === undefined ? "" : `(?=.{1,${rule.maxLength}}$)`;
  const refused = (rule.refuse ?? []).map((g) => `(?!${globRegExp(g)}$)`).join("");
  return new RegExp(`^${length}${refused}${rule.ere}$`);
}
