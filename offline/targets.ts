// What `pulumi up` must touch for a change, from the offline diff: the URNs to pass as
// `--target URN ... --target-dependents`, or a full `up` and why. Pure (no I/O, no Pulumi).
//
// A changed resource belongs to an app, by structure and never by step names (the steps change):
//   - the app's own component, AppDeployment, is a top-level component named after the app (any
//     type outside fleet:infra:*), and so is everything under it (its GitHub resources too);
//   - in the infrastructure, what exists once per app: resources named `<app>_<what>`
//     (config/identity.ts appResourceName: buckets, replication), and the security group rules
//     of a port written outside the app port ranges, `<tier>-<in|out>-app-<port>` (components/infra/network.ts;
//     the ranges' rules are the same for every catalog).
// The nginx hosts' sites (components/infra/edgeHost.ts `nginx-config`, and `nginx-keys` for fleet:tls, on
// host 1; `<host>-nginx-config` and `<host>-nginx-keys` on the others) are
// rendered from every app's domain, port and certificate: a per-app change legitimately updates
// them, and --target-dependents then takes every resource that depends on them along. So do the
// organization rulesets of fleet:github.rulesets: organization, which name every app's repository.
// Anything else that changed is infrastructure: a full `up`.
//
// The diff compares every input, secret ones too: the plans of `--targets` show each secret as a
// fingerprint under one random key (offline/targetPlan.ts), so a changed plain-text value under
// fleet:appSecrets changes the app's environment step, and a renewed certificate changes the key
// step (its file name embeds the certificate's hash), whatever else stays the same. What the diff
// cannot see is added by the caller: a `secure:` value, which offline is the same placeholder on
// both sides (its ciphertext is compared instead), hence every app whose catalog entry or
// fleet:appSecrets/fleet:tls ciphertexts changed is targeted whole; and code (both plans run the
// same checkout), hence a change to the program is a full `up`.
import { Plan, PlanChange, PlanResource } from "./planTypes";

export type TargetDecision = { kind: "targets"; urns: string[] } | { kind: "full"; reason: string } | { kind: "none"; reason: string };

/** An app of the stack as the target rule needs it (AppForStack has it all). */
export interface TargetApp {
  name: string;
  port: number;
  tag: string;
}

/** What the change is besides the plans' diff. */
export interface TargetContext {
  /** The stack's apps in the base and the new catalog. */
  baseApps: TargetApp[];
  nextApps: TargetApp[];
  /** Apps whose catalog entry for this stack differs (added, removed or edited). */
  editedApps: string[];
  /** Stack file paths whose `secure:` ciphertext differs ("fleet:appSecrets.polls.SENTRY_DSN"). */
  changedSecrets: string[];
  /** Files changed since the base commit (git diff --name-only), when known. */
  changedFiles?: string[];
}

export interface TargetRequest extends TargetContext {
  base: Plan;
  next: Plan;
  changes: PlanChange[];
}

/** The type prefix of the infrastructure's components: they are never an app's own. */
const INFRA_COMPONENT = "fleet:infra:";
/** The nginx hosts' sites: every app's server block, certificates and keys, and the publish access
 *  (components/infra/edgeHost.ts), on every host. */
const SITE_COMPONENT = "fleet:infra:EdgeHost";
const SITE_STEP = /^(?:static-host-\d+-)?(?:nginx-(?:config|keys)|publish-access)$/;
/** fleet:github.rulesets: organization (components/app/appRepository.ts): top-level rulesets per owner naming
 *  every app's repository, and the provider of an owner other than github:owner. Like the sites,
 *  an added or removed app legitimately updates them. */
const ORGANIZATION_RULESET = "github:index/organizationRuleset:OrganizationRuleset";
const OWNER_PROVIDER = { type: "pulumi:providers:github", name: /^github-/ };
const PORT_RULE = /-app-(\d+)$/;
/**
 * The most URNs a target list may have: the workflow passes them to pulumi/actions as one input,
 * an environment variable of at most 128 KiB (Linux MAX_ARG_STRLEN) at up to ~170 bytes a URN.
 * A change that large is most of the stack anyway: a full `up` costs no more.
 */
export const MAX_TARGETS = 500;
/** `tag: latest` is resolved against GitHub by a full `up` only (index.ts): the offline plan leaves it out. */
const LATEST = "latest";

/**
 * Files that are not the program `pulumi up` runs: documentation, tests, the test bed, CI and the
 * tools' own commands. The catalog and the stack files are, but the diff sees their effect.
 */
const NOT_THE_PROGRAM: RegExp[] = [
  /^docs\//,
  /^tests\//,
  /^testbed\//,
  /^bench\//,
  /^cli\//,
  /^\.github\//,
  /^\.ci\//,
  /\.md$/,
  /^apps\.yaml$/,
  /^apps\.schema\.json$/,
  /^Pulumi\.[a-z][a-z0-9-]*\.yaml$/,
  /^\.gitignore$/,
];

type Owner = { app: string } | "sites" | "infrastructure";

/** Who a resource belongs to, by its place in the tree and its name. */
class Ownership {
  private readonly byUrn = new Map<string, PlanResource>();
  private readonly names: Set<string>;
  private readonly portOwner = new Map<number, string>();

  constructor(plans: Plan[], apps: TargetApp[]) {
    for (const plan of plans) for (const r of plan.resources) this.byUrn.set(r.urn, r);
    this.names = new Set(apps.map((a) => a.name));
    for (const a of apps) this.portOwner.set(a.port, a.name);
  }

  of(urn: string): Owner {
    const r = this.byUrn.get(urn);
    if (!r) return "infrastructure";
    let top = r;
    const chain: PlanResource[] = [r];
    for (let p = r.parent; p && this.byUrn.has(p); p = top.parent) {
      top = this.byUrn.get(p)!;
      chain.push(top);
    }
    if (top.type === ORGANIZATION_RULESET || (top.type === OWNER_PROVIDER.type && OWNER_PROVIDER.name.test(top.name))) return "sites";
    if (!top.type.startsWith(INFRA_COMPONENT)) return this.names.has(top.name) ? { app: top.name } : "infrastructure";
    // Inside the infrastructure: the resource itself or an ancestor below the component stands for one app.
    for (const x of chain.slice(0, -1)) {
      const app = this.appOfInfraResource(x, top.type);
      if (app) return { app };
      if (top.type === SITE_COMPONENT && SITE_STEP.test(x.name)) return "sites";
    }
    return "infrastructure";
  }

  private appOfInfraResource(r: PlanResource, component: string): string | undefined {
    const prefix = r.name.includes("_") ? r.name.slice(0, r.name.indexOf("_")) : undefined;
    if (prefix && this.names.has(prefix)) return prefix;
    const port = component === "fleet:infra:Network" ? PORT_RULE.exec(r.name)?.[1] : undefined;
    return port ? this.portOwner.get(Number(port)) : undefined;
  }

  /** Every resource of `plan` that belongs to `app` (or to the sites). */
  resourcesOf(plan: Plan, owner: string | "sites"): string[] {
    return plan.resources
      .map((r) => r.urn)
      .filter((urn) => {
        const o = this.of(urn);
        return owner === "sites" ? o === "sites" : typeof o === "object" && o.app === owner;
      });
  }
}

function listed(items: string[], max = 3): string {
  return items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

/** The app (or the sites) a changed secret stands for; undefined: a secret of the infrastructure. */
function secretOwner(path: string): { app: string; sites: boolean } | undefined {
  const m = /^fleet:(appSecrets|tls)\.([^.[]+)/.exec(path);
  return m ? { app: m[2], sites: m[1] === "tls" } : undefined;
}

/** Why the change needs a full `up` whatever the diff says (no plan needed); undefined when it may not. */
export function fullWithoutTheDiff(req: TargetContext): string | undefined {
  const program = (req.changedFiles ?? []).filter((f) => f && !NOT_THE_PROGRAM.some((re) => re.test(f)));
  if (program.length > 0)
    return `the program changed (${listed(program)}): the offline diff runs today's code on both sides and cannot see what a code change does`;
  const latest = [...new Set([...req.baseApps, ...req.nextApps].filter((a) => a.tag === LATEST).map((a) => a.name))];
  if (latest.length > 0)
    return `${listed(latest)} ${latest.length === 1 ? "is" : "are"} on "latest", which only a full pulumi up resolves against GitHub`;
  const infraSecrets = req.changedSecrets.filter((p) => !secretOwner(p));
  if (infraSecrets.length > 0) return `a secret of the infrastructure changed (${listed(infraSecrets)})`;
  return undefined;
}

/** The targets of a change, or a full `up` with its reason, or nothing to do. */
export function computeTargets(req: TargetRequest): TargetDecision {
  const early = fullWithoutTheDiff(req);
  if (early) return { kind: "full", reason: early };
  const ownership = new Ownership([req.base, req.next], [...req.baseApps, ...req.nextApps]);
  const infrastructure = req.changes.filter((c) => ownership.of(c.urn) === "infrastructure");
  if (infrastructure.length > 0) {
    return { kind: "full", reason: `the infrastructure changed: ${listed(infrastructure.map((c) => `${c.op} ${c.urn}`))}` };
  }
  const urns = new Set(req.changes.map((c) => c.urn));
  const touched = new Set(req.editedApps);
  let sites = false;
  for (const path of req.changedSecrets) {
    const owner = secretOwner(path)!;
    touched.add(owner.app);
    sites ||= owner.sites;
  }
  // An edited app is targeted whole: some of what changed may sit in secret inputs the diff cannot compare.
  for (const owner of [...touched, ...(sites ? ["sites" as const] : [])]) {
    for (const plan of [req.base, req.next]) for (const urn of ownership.resourcesOf(plan, owner)) urns.add(urn);
  }
  // A resource the new plan lacks is deleted by targeting it; one neither plan has is nothing to target.
  if (urns.size === 0) return { kind: "none", reason: "the offline plan shows no change and no app's entry or secret changed" };
  if (urns.size > MAX_TARGETS)
    return { kind: "full", reason: `${urns.size} resources to target, more than ${MAX_TARGETS}: a full up costs no more` };
  return { kind: "targets", urns: [...urns].sort() };
}

/** The CLI's lines: one `--target URN` per line, or `full: <reason>`, or `none: <reason>`. */
export function renderTargets(decision: TargetDecision): string {
  if (decision.kind === "targets") return decision.urns.map((u) => `--target ${u}`).join("\n");
  return `${decision.kind}: ${decision.reason}`;
}
