// The deploy workflow's targets (offline/targetPlan.ts, what `npm run plan -- --targets` prints)
// held against the full diff, on GENERATED changes of the catalog and the stack file of production:
// a seeded generator makes each change from random edits (tags, env, sizing, domains, checks,
// apps added and removed, plain and `secure:` app secrets, certificates renewed with the same key
// or a new one, fleet:deploy, node types). For each, the full diff is the diff of two plans with
// every secret revealed, where each `secure:` value stands as a plain value derived from its
// ciphertext (what a decrypting `pulumi up` would see change). The targets, with everything that
// depends on them (pulumi up --target-dependents), must cover every resource of that diff; `none`
// only when it is empty; a full up covers everything. Nothing here prints a secret: only URNs.
//
// FLEET_TARGET_SEED and FLEET_TARGET_MUTATIONS replay or widen the run (CI: the defaults below).
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { diffPlans, Plan, runPlan } from "../../offline/plan";
import { loadCatalogs, planTargets, TargetSides } from "../../offline/targetPlan";
import { TargetDecision } from "../../offline/targets";
import { IssuedCertificate, issue, makeCa, removeCa, renew, TestCa } from "../helpers/certificates";

const ROOT = path.join(__dirname, "..", "..");
const STACK = "production";
const SEED = Number(process.env.FLEET_TARGET_SEED ?? 18);
const MUTATIONS = Number(process.env.FLEET_TARGET_MUTATIONS ?? 4);

type Yaml = Record<string, unknown>;
type Catalog = { defaults?: Yaml; apps: Yaml[] };
interface Files {
  catalog: Catalog;
  stack: { config: Yaml };
}

/** mulberry32: the same seed, the same changes. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** One random edit of the files; its label says what it did (never a value). */
type Edit = (f: Files, pick: <T>(xs: T[]) => T, n: () => number, tls: Tls) => string;

interface Tls {
  ca: TestCa;
  current: IssuedCertificate;
}

const onStack = (f: Files) => f.catalog.apps.filter((a) => (a.tags as Yaml | undefined)?.[STACK] !== undefined);
const secretsOf = (f: Files) => f.stack.config["fleet:appSecrets"] as Record<string, Yaml>;

const EDITS: Record<string, Edit> = {
  tag: (f, pick, n) => {
    const app = pick(onStack(f));
    (app.tags as Yaml)[STACK] = `v9.${n()}.0`;
    return `${String(app.name)}.tags`;
  },
  env: (f, pick, n) => {
    const app = pick(onStack(f));
    app.env = { ...(app.env as Yaml | undefined), [pick(["TIME_ZONE", "FEATURE_X", "PAGE_SIZE"])]: `value-${n()}` };
    return `${String(app.name)}.env`;
  },
  defaultsEnv: (f, _pick, n) => {
    f.catalog.defaults = { ...f.catalog.defaults, env: { ...(f.catalog.defaults?.env as Yaml | undefined), SHARED_SETTING: `s-${n()}` } };
    return "defaults.env";
  },
  sizing: (f, pick, n) => {
    const app = pick(onStack(f));
    const field = pick(["workers", "timeout", "keepReleases", "migrationRetries"]);
    app[field] = 1 + (n() % 8);
    return `${String(app.name)}.${field}`;
  },
  switches: (f, pick) => {
    const app = pick(onStack(f));
    const field = pick(["migrations", "deployChecks", "overrides", "healthCheck"]);
    app[field] =
      field === "migrations"
        ? !(app.migrations ?? true)
        : field === "deployChecks"
          ? "fail"
          : field === "overrides"
            ? { debug: false }
            : "/ready";
    return `${String(app.name)}.${field}`;
  },
  domain: (f, pick, n) => {
    const app = pick(onStack(f));
    app.domain = `d${n()}.example.edu`;
    return `${String(app.name)}.domain`;
  },
  acknowledge: (f, pick, n) => {
    const app = pick(onStack(f));
    app.acknowledgeMigrations = [
      ...((app.acknowledgeMigrations as string[] | undefined) ?? []),
      `core.${String(n()).padStart(4, "0")}_change`,
    ];
    return `${String(app.name)}.acknowledgeMigrations`;
  },
  removeApp: (f, pick) => {
    // One without secrets or a certificate (those would be unused settings: legal, but another change).
    const app = pick(onStack(f).filter((a) => !a.secrets && a.name !== "polls"));
    f.catalog.apps = f.catalog.apps.filter((a) => a !== app);
    return `removed ${String(app.name)}`;
  },
  addApp: (f, _pick, n) => {
    const name = `gen-${n()}`;
    f.catalog.apps.push({
      name,
      repo: `uni-it/${name}`,
      domain: `${name}.example.edu`,
      settings: "g.settings",
      wsgi: "g.wsgi:application",
      tags: { [STACK]: "v1.0.0" },
      port: 9000 + (n() % 900),
    });
    return `added ${name}`;
  },
  plainSecret: (f, _pick, n) => {
    secretsOf(f).polls = { SENTRY_DSN: `https://k${n()}@sentry.example.edu/1` };
    return "fleet:appSecrets.polls.SENTRY_DSN (plain text)";
  },
  secureSecret: (f, _pick, n) => {
    secretsOf(f)["library-catalogue"].LIBRARY_API_TOKEN = { secure: `v1:generated-${n()}` };
    return "fleet:appSecrets.library-catalogue.LIBRARY_API_TOKEN (secure)";
  },
  renewSameKey: (f, _pick, _n, tls) => {
    tls.current = renew(tls.ca, tls.current);
    f.stack.config["fleet:tls"] = { polls: { certificate: tls.current.certificate, privateKey: tls.current.privateKey } };
    return "fleet:tls.polls renewed, same key";
  },
  newCertificate: (f, _pick, _n, tls) => {
    tls.current = issue(tls.ca, "polls.example.edu");
    f.stack.config["fleet:tls"] = { polls: { certificate: tls.current.certificate, privateKey: tls.current.privateKey } };
    return "fleet:tls.polls new certificate and key";
  },
  deploy: (f, pick, n) => {
    const field = pick(["healthSeconds", "gunicornWorkers", "migrationRetries"]);
    f.stack.config["fleet:deploy"] = { ...(f.stack.config["fleet:deploy"] as Yaml | undefined), [field]: 1 + (n() % 9) };
    return `fleet:deploy.${field}`;
  },
  infrastructure: (f, pick) => {
    (f.stack.config["fleet:nodes"] as Yaml).instanceType = pick(["t3.large", "m5.large"]);
    return "fleet:nodes.instanceType";
  },
};

/** The stack file as a decrypting `pulumi up` sees it: each `secure:` value a plain one derived from its ciphertext. */
function revealed(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(revealed);
  if (v === null || typeof v !== "object") return v;
  const o = v as Yaml;
  if (Object.keys(o).length === 1 && typeof o.secure === "string")
    return `decrypted-${createHash("sha256").update(o.secure).digest("hex").slice(0, 16)}`;
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, revealed(x)]));
}

/** Everything that depends on a target, as `--target-dependents` takes it: by dependency or as a child. */
function withDependents(urns: string[], plans: Plan[]): Set<string> {
  const dependents = new Map<string, string[]>();
  for (const plan of plans) {
    for (const r of plan.resources) {
      for (const on of [...r.dependsOn, ...(r.parent ? [r.parent] : [])]) dependents.set(on, [...(dependents.get(on) ?? []), r.urn]);
    }
  }
  const covered = new Set<string>();
  const queue = [...urns];
  while (queue.length > 0) {
    const urn = queue.pop()!;
    if (covered.has(urn)) continue;
    covered.add(urn);
    queue.push(...(dependents.get(urn) ?? []));
  }
  return covered;
}

describe("deploy targets against the full diff, on generated changes (production)", function () {
  this.timeout(1_200_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-target-mutations-"));
  const ca = makeCa();
  const first = issue(ca, "polls.example.edu");
  const base: Files = {
    catalog: parse(fs.readFileSync(path.join(ROOT, "apps.yaml"), "utf8")) as Catalog,
    stack: parse(fs.readFileSync(path.join(ROOT, `Pulumi.${STACK}.yaml`), "utf8")) as { config: Yaml },
  };
  base.stack.config["fleet:tls"] = { polls: { certificate: first.certificate, privateKey: first.privateKey } };
  let count = 0;
  const write = (name: string, data: unknown) => {
    const p = path.join(dir, `${count}-${name}`);
    fs.writeFileSync(p, stringify(data, { lineWidth: 0 }), { mode: 0o600 });
    return p;
  };
  const baseFiles = {
    apps: write("base-apps.yaml", base.catalog),
    stack: write("base-stack.yaml", base.stack),
    oracle: write("base-oracle.yaml", revealed(base.stack)),
  };
  let fullBase: Plan;
  const decisions: TargetDecision["kind"][] = [];

  before(async () => {
    fullBase = await runPlan({ stack: STACK, appsFile: baseFiles.apps, stackFile: baseFiles.oracle, revealSecrets: true });
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    removeCa(ca);
  });

  /** The targets the workflow would get for `next` against the base, checked against the full diff. */
  async function holds(next: Files, what: string): Promise<TargetDecision> {
    count += 1;
    const sides: TargetSides = {
      stack: STACK,
      apps: write("apps.yaml", next.catalog),
      stackFile: write("stack.yaml", next.stack),
      baseApps: baseFiles.apps,
      baseStack: baseFiles.stack,
    };
    const catalogs = loadCatalogs(sides);
    assert.ok(catalogs, `${what}: the generated catalog is valid`);
    const [decision, full] = await Promise.all([
      planTargets(sides, catalogs),
      runPlan({ stack: STACK, appsFile: sides.apps, stackFile: write("oracle.yaml", revealed(next.stack)), revealSecrets: true }),
    ]);
    const changed = diffPlans(fullBase, full).map((c) => c.urn);
    decisions.push(decision.kind);
    if (decision.kind === "none") assert.deepEqual(changed, [], `${what}: "none", but these resources' inputs change`);
    if (decision.kind === "targets") {
      const covered = withDependents(decision.urns, [fullBase, full]);
      const missed = changed.filter((u) => !covered.has(u));
      assert.deepEqual(missed, [], `${what}: the targets miss resources whose inputs change`);
    }
    return decision;
  }

  const edited = (edits: string[], n: () => number, pick: <T>(xs: T[]) => T, tls: Tls): { next: Files; what: string } => {
    const next = clone(base);
    const what = edits.map((e) => EDITS[e](next, pick, n, tls)).join("; ");
    return { next, what };
  };

  it("a plain-text app secret changed: its app's steps are targeted (it was `none`)", async () => {
    const { next, what } = edited(
      ["plainSecret"],
      () => 7,
      (xs) => xs[0],
      { ca, current: first },
    );
    const d = await holds(next, what);
    assert.equal(d.kind, "targets");
  });

  it("a certificate renewed with the same key: the key step is targeted with the sites", async () => {
    const { next, what } = edited(
      ["renewSameKey"],
      () => 1,
      (xs) => xs[0],
      { ca, current: first },
    );
    const d = await holds(next, what);
    assert.ok(
      d.kind === "targets" &&
        d.urns.some((u) => u.endsWith("::nginx-keys")) &&
        d.urns.some((u) => u.endsWith("::static-host-2-nginx-keys")),
      d.kind === "targets" ? d.urns.join("\n") : d.reason,
    );
  });

  it(`${MUTATIONS} generated changes (seed ${SEED}): the targets and their dependents cover the full diff`, async () => {
    const rand = random(SEED);
    const n = () => Math.floor(rand() * 10_000);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
    const names = Object.keys(EDITS);
    for (let i = 0; i < MUTATIONS; i++) {
      const edits = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(names));
      const { next, what } = edited(edits, n, pick, { ca, current: first });
      await holds(next, `seed ${SEED}, change ${i + 1} (${what})`);
    }
    // Not vacuous: most generated changes are targeted, not a full up.
    assert.ok(decisions.filter((k) => k === "targets").length >= Math.ceil(decisions.length / 2), decisions.join(", "));
  });
});
