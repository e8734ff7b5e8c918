// Ports: no collision for a catalog that writes none, no port moved by an app added at the end,
// and a move by a removal or an insertion refused against the base catalog with the fix.
import { strict as assert } from "assert";
import { Catalog, parseCatalog, portMoveErrors } from "../../config/catalog";
import { allocatePorts, APP_PORT_RANGES, appPortOpenings, candidatePort, defaultPort, PROBE_MIN, PROBE_SPAN } from "../../config/ports";

const STACKS = { knownStacks: ["alpha", "production"] };

interface Entry {
  name: string;
  port?: number;
}

/** The generated catalog of the issue: app-001 ... app-NNN, no `port:`, on production. */
function generated(n: number): Entry[] {
  return Array.from({ length: n }, (_, i) => ({ name: `app-${String(i + 1).padStart(3, "0")}` }));
}

function yaml(entries: Entry[]): string {
  const lines = ["apps:"];
  for (const e of entries) {
    lines.push(
      `  - name: ${e.name}`,
      `    repo: uni-it/${e.name}`,
      `    domain: ${e.name}.example.edu`,
      "    settings: site.settings",
      "    wsgi: site.wsgi:application",
    );
    if (e.port !== undefined) lines.push(`    port: ${e.port}`);
    lines.push("    tags:", "      production: v1.0.0");
  }
  return `${lines.join("\n")}\n`;
}

function parsed(entries: Entry[]): Catalog {
  const { catalog, errors } = parseCatalog(yaml(entries), "apps.yaml", STACKS);
  assert.deepEqual(
    errors.map((e) => `${e.where}: ${e.message}`),
    [],
  );
  return catalog!;
}

const portsOf = (c: Catalog) => new Map(c.apps.map((a) => [a.name, a.port]));

/** Apps of `entries` whose first candidate an app before them (or a written port) holds. */
function collided(entries: Entry[]): string[] {
  const first = new Map<number, string>();
  return entries
    .filter((e) => {
      const p = defaultPort(e.name);
      if (first.has(p)) return true;
      first.set(p, e.name);
      return false;
    })
    .map((e) => e.name);
}

describe("ports: derived without collision, written ones first", () => {
  const apps200 = generated(200);

  it("the generated 200-app catalog collides on its first candidates (the problem), yet parses with 200 distinct ports", () => {
    assert.equal(collided(apps200).length, 21);
    const ports = [...portsOf(parsed(apps200)).values()];
    assert.equal(new Set(ports).size, 200);
  });

  it("an app whose first candidate is free keeps today's port, 8100 + hash mod 800 (polls: 8117)", () => {
    assert.equal(defaultPort("polls"), 8117);
    const ports = portsOf(parsed(apps200));
    const moved = new Set(collided(apps200));
    for (const { name } of apps200.filter((a) => !moved.has(a.name))) assert.equal(ports.get(name), defaultPort(name), name);
    for (const name of moved) {
      const p = ports.get(name)!;
      assert.ok(p >= PROBE_MIN && p < PROBE_MIN + PROBE_SPAN, `${name}: ${p}`);
    }
  });

  it("no port is in Linux's ephemeral range (32768-60999) or below 8100", () => {
    for (const p of portsOf(parsed(apps200)).values()) assert.ok(p >= 8100 && p < 32768, String(p));
    for (let k = 0; k < 50; k++) assert.ok(candidatePort("polls", k) < 32768);
  });

  it("a name's probe sequence visits every port of the probe range once", () => {
    const seen = new Set<number>();
    for (let k = 1; k <= PROBE_SPAN; k++) seen.add(candidatePort("room-booking", k));
    assert.equal(seen.size, PROBE_SPAN);
    assert.equal(Math.min(...seen), PROBE_MIN);
    assert.equal(Math.max(...seen), PROBE_MIN + PROBE_SPAN - 1);
  });

  it("is deterministic: the same catalog gives the same ports, run after run", () => {
    assert.deepEqual([...portsOf(parsed(apps200))], [...portsOf(parsed(apps200))]);
    assert.deepEqual(allocatePorts(apps200), allocatePorts(apps200.map((a) => ({ ...a }))));
  });

  it("a written port is taken first and never moves: the derived app that wanted it probes on", () => {
    const holder = apps200[18]; // app-019 holds 8279, which app-114 also wants
    const entries = [...apps200.slice(0, 5), { name: "written", port: defaultPort(holder.name) }, ...apps200.slice(5)];
    const ports = portsOf(parsed(entries));
    assert.equal(ports.get("written"), defaultPort(holder.name));
    assert.notEqual(ports.get(holder.name), defaultPort(holder.name));
  });

  it("two written equal ports stay an error naming both apps", () => {
    const { errors } = parseCatalog(
      yaml([
        { name: "one", port: 9000 },
        { name: "two", port: 9000 },
      ]),
      "apps.yaml",
      STACKS,
    );
    assert.deepEqual(
      errors.map((e) => `${e.file}:${e.line}: ${e.where}: ${e.message}`),
      ['apps.yaml:15: two.port: port "9000" is already used by apps[0] (one)'],
    );
  });
});

describe("ports: against the base catalog", () => {
  const base = generated(200);
  const baseCatalog = parsed(base);

  it("adding apps at the end moves no port", () => {
    for (const extra of ["app-201", "app-114-next", "polls", "zz-last"]) {
      const next = parsed([...base, { name: extra }]);
      assert.deepEqual(portMoveErrors(baseCatalog, next, "apps.yaml", "production"), [], extra);
      for (const [name, port] of portsOf(baseCatalog)) assert.equal(portsOf(next).get(name), port, `${extra}: ${name}`);
    }
  });

  it("removing the app whose port a later app probed past is refused, with the fix, at the moved app's entry", () => {
    const next = base.filter((a) => a.name !== "app-019");
    const from = portsOf(baseCatalog).get("app-114")!;
    const errors = portMoveErrors(baseCatalog, parsed(next), "apps.yaml", "production");
    const line = yaml(next).split("\n").indexOf("  - name: app-114") + 1;
    assert.deepEqual(errors, [
      `apps.yaml:${line}:11: app-114.port: would move from ${from} to 8279 on production, where it serves (its port is derived, and an app before it in the catalog was added or removed); add "port: ${from}" to app-114's entry to keep it`,
    ]);
  });

  it("the fix holds: with the old port written, nothing moves", () => {
    const from = portsOf(baseCatalog).get("app-114")!;
    const next = base.filter((a) => a.name !== "app-019").map((a) => (a.name === "app-114" ? { ...a, port: from } : a));
    assert.deepEqual(portMoveErrors(baseCatalog, parsed(next), "apps.yaml", "production"), []);
  });

  it("inserting an app that takes a later app's first candidate is refused", () => {
    const next = [{ name: "newcomer", port: defaultPort("app-050") }, ...base];
    const errors = portMoveErrors(baseCatalog, parsed(next), "apps.yaml", "production");
    assert.equal(errors.length, 1);
    assert.match(
      errors[0],
      /^apps\.yaml:\d+:11: app-050\.port: would move from \d+ to \d+ on production, where it serves .*; add "port: \d+" to app-050's entry to keep it$/,
    );
  });

  it("dropping a written port is a move too, said as such; an app not serving on the stack may move", () => {
    const pinned = parsed(base.map((a) => (a.name === "app-114" ? { ...a, port: 20000 } : a)));
    const errors = portMoveErrors(pinned, baseCatalog, "apps.yaml", "production");
    assert.equal(errors.length, 1);
    assert.match(
      errors[0],
      /app-114\.port: would move from 20000 to \d+ on production, where it serves \(its entry no longer writes "port: 20000"\)/,
    );
    assert.deepEqual(portMoveErrors(pinned, baseCatalog, "apps.yaml", "alpha"), []);
  });
});

describe("ports: what the security groups open", () => {
  it("both port ranges whole, whatever the catalog, and a written port outside them alone", () => {
    assert.deepEqual(APP_PORT_RANGES, [
      { from: 8100, to: 8899 },
      { from: 10000, to: 32750 },
    ]);
    assert.deepEqual(appPortOpenings([]), { ranges: APP_PORT_RANGES, single: [] });
    // every port allocatePorts derives falls in a range: 200 names, no rule of their own
    const derived = allocatePorts(Array.from({ length: 200 }, (_, i) => ({ name: `app-${i}` })));
    assert.deepEqual(appPortOpenings(derived).single, []);
    assert.deepEqual(appPortOpenings([9000, 8101, 20000, 9000, 7000]), { ranges: APP_PORT_RANGES, single: [7000, 9000] });
  });
});
