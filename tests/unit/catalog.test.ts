// The catalog rules, as pure code: no Pulumi runtime involved.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { appsForStack, catalogJsonSchema, defaultPort, formatError, parseCatalog } from "../../config/catalog";

const STACKS = { knownStacks: ["alpha", "production"] };

/** A valid one-app catalog; `app` lines are spliced into the app's map (4-space indent). */
function catalog(app: string[] = [], extraTop: string[] = []): string {
  return [
    ...extraTop,
    "apps:",
    "  - name: polls",
    "    repo: uni-it/polls",
    "    domain: polls.example.edu",
    "    settings: pollsite.settings",
    "    wsgi: pollsite.wsgi:application",
    "    tags:",
    "      alpha: v1.0.0",
    ...app,
    "",
  ].join("\n");
}

function errors(text: string): string[] {
  return parseCatalog(text, "apps.yaml", STACKS).errors.map(formatError);
}

function onlyError(text: string): string {
  const errs = errors(text);
  assert.equal(errs.length, 1, `expected one error, got:\n${errs.join("\n")}`);
  return errs[0];
}

/** Replaces one line (`key: value`) of the base catalog. */
function withLine(from: string, to: string): string {
  const text = catalog();
  assert.ok(text.includes(from), from);
  return text.replace(from, to);
}

describe("catalog: good files", () => {
  it("accepts the shipped apps.yaml and every app gets its defaults", () => {
    const file = path.join(__dirname, "..", "..", "apps.yaml");
    const { catalog: cat, errors: errs } = parseCatalog(fs.readFileSync(file, "utf8"), file, STACKS);
    assert.deepEqual(errs, []);
    assert.ok(cat && cat.apps.length >= 3);
    const polls = cat.apps.find((a) => a.name === "polls")!;
    assert.equal(polls.healthCheck, "/healthz");
    assert.equal(polls.keepReleases, 5);
    assert.equal(polls.env.TIME_ZONE, "Europe/London", "defaults.env is merged in");
    assert.equal(polls.env.POLLS_PER_PAGE, "20");
  });

  it("maintenance and its message are kept as written; absent, the app is not in maintenance", () => {
    const on = parseCatalog(
      catalog(["    maintenance: true", "    maintenanceMessage: Back at 14:00 (database upgrade)."]),
      "apps.yaml",
      STACKS,
    ).catalog!.apps[0];
    assert.deepEqual([on.maintenance, on.maintenanceMessage], [true, "Back at 14:00 (database upgrade)."]);
    const off = parseCatalog(catalog(), "apps.yaml", STACKS).catalog!.apps[0];
    assert.deepEqual([off.maintenance, off.maintenanceMessage], [undefined, undefined]);
  });

  it("applies built-in defaults when there is no defaults block", () => {
    const { catalog: cat } = parseCatalog(catalog(), "apps.yaml", STACKS);
    assert.deepEqual(
      { m: cat!.apps[0].migrations, h: cat!.apps[0].healthCheck, k: cat!.apps[0].keepReleases, s: cat!.apps[0].secrets },
      { m: true, h: "/", k: 5, s: [] },
    );
  });

  it("an app's own value wins over defaults; env maps merge", () => {
    const text = catalog(
      ["    keepReleases: 2", "    env:", '      B: "2"'],
      ["defaults:", "  keepReleases: 9", "  env:", '    A: "1"', '    B: "1"'],
    );
    const app = parseCatalog(text, "apps.yaml", STACKS).catalog!.apps[0];
    assert.equal(app.keepReleases, 2);
    assert.deepEqual(app.env, { A: "1", B: "2" });
  });

  it("overrides are all on unless turned off, an app's own keys over the defaults'; deployChecks warn unless asked", () => {
    const plain = parseCatalog(catalog(), "apps.yaml", STACKS).catalog!.apps[0];
    assert.deepEqual(plain.overrides, {
      database: true,
      hosts: true,
      static: true,
      secretKey: true,
      proxy: true,
      storage: true,
      debug: true,
    });
    assert.equal(plain.deployChecks, "warn");
    const text = catalog(
      ["    overrides: { storage: false }", "    deployChecks: fail"],
      ["defaults:", "  overrides: { hosts: false, storage: true }"],
    );
    const app = parseCatalog(text, "apps.yaml", STACKS).catalog!.apps[0];
    assert.deepEqual(app.overrides, {
      database: true,
      hosts: false,
      static: true,
      secretKey: true,
      proxy: true,
      storage: false,
      debug: true,
    });
    assert.equal(app.deployChecks, "fail");
  });

  it("accepts realistic tags, domains, settings and quoted numeric tags", () => {
    for (const tag of ["v1.2.3", "1.2.3", "release/2024-09", "v2.0.0-rc.1", "latest", '"1.0"', "V_1"]) {
      assert.deepEqual(errors(withLine("alpha: v1.0.0", `alpha: ${tag}`)), [], tag);
    }
    for (const domain of ["a.example.edu", "www.cs.uni-x.ac.uk", "x1.io"]) {
      assert.deepEqual(errors(withLine("domain: polls.example.edu", `domain: ${domain}`)), [], domain);
    }
    assert.deepEqual(errors(withLine("settings: pollsite.settings", "settings: a.b_c.production")), []);
  });

  it("wsgi: django (Django's own handler under the platform's settings) beside module:callable; no other bare word", () => {
    const { catalog: cat, errors: errs } = parseCatalog(withLine("wsgi: pollsite.wsgi:application", "wsgi: django"), "apps.yaml", STACKS);
    assert.deepEqual(errs, []);
    assert.equal(cat!.apps[0].wsgi, "django");
    for (const bad of ["Django", "django.core.wsgi", "djangos"]) {
      assert.match(
        onlyError(withLine("wsgi: pollsite.wsgi:application", `wsgi: ${bad}`)),
        /^apps\.yaml:6:11: polls\.wsgi: .*module:callable .*, or django /,
        bad,
      );
    }
  });

  it("appsForStack keeps only apps with a tag on that stack", () => {
    const text = catalog([], []).replace(
      "apps:\n",
      "apps:\n  - {name: other, repo: a/b, domain: o.example.edu, settings: o.s, wsgi: 'o.w:app', tags: {production: v2}}\n",
    );
    const cat = parseCatalog(text, "apps.yaml", STACKS).catalog!;
    assert.deepEqual(
      appsForStack(cat, "alpha").map((a) => [a.name, a.tag]),
      [["polls", "v1.0.0"]],
    );
    assert.deepEqual(
      appsForStack(cat, "production").map((a) => [a.name, a.tag]),
      [["other", "v2"]],
    );
  });

  it("derives a stable port from the name alone", () => {
    assert.equal(defaultPort("polls"), defaultPort("polls"));
    const port = parseCatalog(catalog(), "apps.yaml", STACKS).catalog!.apps[0].port;
    assert.equal(port, defaultPort("polls"));
    assert.ok(port >= 8100 && port < 8900);
  });
});

describe("catalog: each bad value is one precise line", () => {
  const cases: [string, string, string, RegExp][] = [
    ["name with capitals", "name: polls", "name: Polls", /^apps\.yaml:2:11: apps\[0\]\.name: "Polls" is not allowed: .*\^\[a-z\]/],
    ["name too short", "name: polls", "name: p", /^apps\.yaml:2:11: apps\[0\]\.name: "p" is not allowed/],
    ["name ending in a dash", "name: polls", "name: polls-", /apps\[0\]\.name: "polls-" is not allowed/],
    ["shell in repo", "repo: uni-it/polls", "repo: uni-it/polls;rm -rf", /^apps\.yaml:3:11: polls\.repo: .* owner\/name/],
    ["repo without owner", "repo: uni-it/polls", "repo: polls", /polls\.repo: "polls" is not allowed/],
    ["repo with ..", "repo: uni-it/polls", "repo: uni-it/..", /polls\.repo: "uni-it\/\.\." is not allowed/],
    ["wildcard domain", "domain: polls.example.edu", 'domain: "*.example.edu"', /^apps\.yaml:4:13: polls\.domain: .*no wildcard/],
    ["domain with port", "domain: polls.example.edu", "domain: polls.example.edu:80", /polls\.domain: .* not allowed/],
    ["domain with scheme", "domain: polls.example.edu", "domain: https://polls.example.edu", /polls\.domain/],
    ["uppercase domain", "domain: polls.example.edu", "domain: Polls.example.edu", /polls\.domain/],
    ["single-label domain", "domain: polls.example.edu", "domain: localhost", /polls\.domain/],
    ["settings with a dash", "settings: pollsite.settings", "settings: poll-site.settings", /^apps\.yaml:5:15: polls\.settings: .*dotted/],
    ["settings with a shell", "settings: pollsite.settings", "settings: x;id", /polls\.settings/],
    ["wsgi without callable", "wsgi: pollsite.wsgi:application", "wsgi: pollsite.wsgi", /^apps\.yaml:6:11: polls\.wsgi: .*module:callable/],
    ["tag with ..", "alpha: v1.0.0", "alpha: v1..2", /^apps\.yaml:8:14: polls\.tags\.alpha: "v1\.\.2" is not allowed: a git tag/],
    ["tag with a space", "alpha: v1.0.0", 'alpha: "v1 2"', /polls\.tags\.alpha: "v1 2" is not allowed/],
    ["tag starting with -", "alpha: v1.0.0", "alpha: -rf", /polls\.tags\.alpha: "-rf" is not allowed/],
    ["tag with $( )", "alpha: v1.0.0", 'alpha: "$(id)"', /polls\.tags\.alpha/],
    ["tag ending in .lock", "alpha: v1.0.0", "alpha: v1.lock", /polls\.tags\.alpha/],
    [
      "float tag",
      "alpha: v1.0.0",
      "alpha: 1.0",
      /^apps\.yaml:8:14: polls\.tags\.alpha: must be a string; YAML reads 1\.0 as a number: quote it \("1\.0"\)$/,
    ],
    ["integer tag", "alpha: v1.0.0", "alpha: 2", /polls\.tags\.alpha: must be a string; YAML reads 2 as a number/],
    ["boolean tag", "alpha: v1.0.0", "alpha: true", /polls\.tags\.alpha: must be a string; YAML reads true as a boolean: quote it/],
    [
      "unknown stack",
      "alpha: v1.0.0",
      "prod: v1.0.0",
      /^apps\.yaml:8:7: polls\.tags\.prod: unknown stack "prod"; stacks: alpha, production$/,
    ],
    ["bad stack name", "alpha: v1.0.0", "Alpha: v1.0.0", /polls\.tags\.Alpha: stack name "Alpha" is not allowed/],
    ["unknown key (typo)", "    tags:", "    tag: {}\n    tags:", /^apps\.yaml:7:5: polls\.tag: unknown key; allowed keys: name, repo/],
    ["migrations not a bool", "    tags:", '    migrations: "yes"\n    tags:', /polls\.migrations: must be true or false/],
    [
      "maintenance not a bool",
      "    tags:",
      "    maintenance: yes\n    tags:",
      /^apps\.yaml:7:18: polls\.maintenance: must be true or false$/,
    ],
    [
      "maintenance message with html",
      "    tags:",
      '    maintenanceMessage: "<b>soon</b>"\n    tags:',
      /^apps\.yaml:7:25: polls\.maintenanceMessage: "<b>soon<\/b>" is not allowed: one line of 1 to 200 letters/,
    ],
    [
      "maintenance message with a quote",
      "    tags:",
      "    maintenanceMessage: 'say \"hi\"'\n    tags:",
      /polls\.maintenanceMessage: .* is not allowed/,
    ],
    ["keepReleases 0", "    tags:", "    keepReleases: 0\n    tags:", /^apps\.yaml:7:19: polls\.keepReleases: must be >= 1/],
    ["keepReleases 1.5", "    tags:", "    keepReleases: 1.5\n    tags:", /polls\.keepReleases: must be a whole number >= 1/],
    [
      "health check without /",
      "    tags:",
      "    healthCheck: healthz\n    tags:",
      /polls\.healthCheck: "healthz" is not allowed: a URL path starting with '\/'/,
    ],
    ["health check with a query", "    tags:", '    healthCheck: "/h?x=1"\n    tags:', /polls\.healthCheck/],
    [
      "env name lowercase",
      "    tags:",
      "    env:\n      debug: x\n    tags:",
      /^apps\.yaml:8:7: polls\.env\.debug: name "debug" is not allowed: use \^\[A-Z_\]/,
    ],
    ["env value multi-line", "    tags:", '    env:\n      A: "x\\ny"\n    tags:', /polls\.env\.A: must be a single line/],
    [
      "env value a number",
      "    tags:",
      "    env:\n      A: 0.10\n    tags:",
      /polls\.env\.A: must be a string; YAML reads 0\.10 as a number/,
    ],
    [
      "env overriding the platform",
      "    tags:",
      "    env:\n      SECRET_KEY: x\n    tags:",
      /^apps\.yaml:8:7: polls\.env\.SECRET_KEY: is set by the platform/,
    ],
    [
      "env setting SITE_URL (the platform sets it from the domain)",
      "    tags:",
      "    env:\n      SITE_URL: https://elsewhere.example.edu\n    tags:",
      /^apps\.yaml:8:7: polls\.env\.SITE_URL: is set by the platform/,
    ],
    ["secret name lowercase", "    tags:", "    secrets: [dsn]\n    tags:", /polls\.secrets\.0: "dsn" is not allowed/],
    ["secret listed twice", "    tags:", "    secrets: [A, A]\n    tags:", /polls\.secrets: A is listed twice/],
    ["port too low", "    tags:", "    port: 80\n    tags:", /polls\.port: must be from 1024 to 65535/],
    [
      "acknowledged migration without its app label",
      "    tags:",
      "    acknowledgeMigrations: [0005_rename]\n    tags:",
      /^apps\.yaml:7:29: polls\.acknowledgeMigrations\.0: "0005_rename" is not allowed: a Django migration as app_label\.name/,
    ],
    [
      "acknowledged migration with a shell",
      "    tags:",
      '    acknowledgeMigrations: ["polls.0005;id"]\n    tags:',
      /polls\.acknowledgeMigrations\.0: "polls\.0005;id" is not allowed/,
    ],
    [
      "acknowledged migration listed twice",
      "    tags:",
      "    acknowledgeMigrations: [polls.0005_x, polls.0005_x]\n    tags:",
      /polls\.acknowledgeMigrations: polls\.0005_x is listed twice/,
    ],
    [
      "migration lock timeout 0",
      "    tags:",
      "    migrationLockTimeout: 0\n    tags:",
      /^apps\.yaml:7:27: polls\.migrationLockTimeout: must be from 1 to 3600 seconds/,
    ],
    [
      "migration statement timeout 1.5",
      "    tags:",
      "    migrationStatementTimeout: 1.5\n    tags:",
      /polls\.migrationStatementTimeout: must be a whole number of seconds from 1 to 86400/,
    ],
    ["migration retries 11", "    tags:", "    migrationRetries: 11\n    tags:", /polls\.migrationRetries: must be from 0 to 10/],
    [
      "small-table rows 1.5",
      "    tags:",
      "    migrationSmallTableRows: 1.5\n    tags:",
      /polls\.migrationSmallTableRows: must be a whole number of rows from 0 to 100000000/,
    ],
    [
      "override name misspelt",
      "    tags:",
      "    overrides: { storag: false }\n    tags:",
      /^apps\.yaml:7:18: polls\.overrides\.storag: unknown key; allowed keys: database, hosts, static, secretKey, proxy, storage, debug$/,
    ],
    [
      "override not a bool",
      "    tags:",
      '    overrides: { storage: "no" }\n    tags:',
      /polls\.overrides\.storage: must be true or false$/,
    ],
    ["deployChecks unknown", "    tags:", "    deployChecks: strict\n    tags:", /polls\.deployChecks: must be "warn" or "fail"$/],
    [
      "env overriding the platform's bucket",
      "    tags:",
      "    env:\n      AWS_STORAGE_BUCKET_NAME: x\n    tags:",
      /polls\.env\.AWS_STORAGE_BUCKET_NAME: is set by the platform/,
    ],
    ["missing field", "    settings: pollsite.settings\n", "", /^apps\.yaml:2:5: polls\.settings: is required$/],
  ];
  for (const [title, from, to, expected] of cases) {
    it(title, () => {
      const text = catalog().replace(from, to);
      assert.notEqual(text, catalog(), "the case must change the file");
      assert.match(onlyError(text), expected);
    });
  }

  it("unknown top-level and defaults keys", () => {
    assert.match(onlyError(catalog([], ["appz: []"])), /^apps\.yaml:1:1: catalog\.appz: unknown key; allowed keys: defaults, apps$/);
    assert.match(
      onlyError(catalog([], ["defaults:", "  colour: red"])),
      /^apps\.yaml:2:3: defaults\.colour: unknown key; allowed keys: migrations, healthCheck, keepReleases, env, overrides, deployChecks$/,
    );
  });

  it("duplicate names, domains and ports across apps point at the second one", () => {
    const two = (a: string, b: string) =>
      `apps:\n  - {name: ${a.split(" ")[0]}, repo: a/b, domain: ${a.split(" ")[1]}, settings: s, wsgi: "w:app", tags: {alpha: v1}}\n` +
      `  - {name: ${b.split(" ")[0]}, repo: a/c, domain: ${b.split(" ")[1]}, settings: s, wsgi: "w:app", tags: {alpha: v1}}\n`;
    assert.match(
      onlyError(two("polls a.example.edu", "polls b.example.edu")),
      /^apps\.yaml:3:12: polls\.name: name "polls" is already used by apps\[0\] \(polls\)$/,
    );
    assert.match(
      onlyError(two("one a.example.edu", "two a.example.edu")),
      /^apps\.yaml:3:36: two\.domain: domain "a\.example\.edu" is already used by apps\[0\] \(one\)$/,
    );
  });

  it("two apps on one explicit port", () => {
    const text =
      `apps:\n  - {name: one, repo: a/b, domain: a.example.edu, settings: s, wsgi: "w:app", port: 9000, tags: {alpha: v1}}\n` +
      `  - {name: two, repo: a/c, domain: b.example.edu, settings: s, wsgi: "w:app", port: 9000, tags: {alpha: v1}}\n`;
    assert.match(onlyError(text), /^apps\.yaml:3:85: two\.port: port "9000" is already used by apps\[0\] \(one\)$/);
  });

  it("duplicate YAML keys", () => {
    assert.match(
      onlyError(withLine("    domain: polls.example.edu", "    domain: polls.example.edu\n    domain: other.example.edu")),
      /^apps\.yaml:5:5: catalog: duplicate key/,
    );
  });

  it("YAML syntax errors keep their position", () => {
    assert.match(onlyError("apps:\n  - name: [unclosed\n"), /^apps\.yaml:\d+:\d+: catalog: invalid YAML/);
  });

  it("an alias bomb is refused, not expanded", () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 10; i++) {
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(",")}]`,
      );
    }
    const started = process.hrtime.bigint();
    const errs = errors(`${lines.join("\n")}\napps: []\n`);
    assert.ok(
      errs.some((e) => /alias bomb/.test(e)),
      errs.join("\n"),
    );
    assert.ok(process.hrtime.bigint() - started < 5_000_000_000n, "must not expand the bomb");
  });

  it("not a catalog at all", () => {
    assert.match(onlyError(""), /^apps\.yaml:1:1: catalog: must be a map with an `apps:` list$/);
    assert.match(onlyError("- a\n- b\n"), /catalog: must be a map/);
    assert.match(onlyError("apps: {}\n"), /^apps\.yaml:1:7: catalog\.apps: must be a list of apps$/);
  });

  it("reports every problem of a file, sorted by position", () => {
    const text = catalog().replace("name: polls", "name: P").replace("alpha: v1.0.0", "alpha: 1.0");
    const errs = errors(text);
    assert.equal(errs.length, 2);
    assert.match(errs[0], /:2:11: apps\[0\]\.name/);
    assert.match(errs[1], /:8:14: apps\[0\]\.tags\.alpha/);
  });
});

describe("catalog: the JSON Schema for editors", () => {
  it("apps.yaml's first line points at apps.schema.json", () => {
    const first = fs.readFileSync(path.join(__dirname, "..", "..", "apps.yaml"), "utf8").split("\n")[0];
    assert.equal(first, "# yaml-language-server: $schema=./apps.schema.json");
  });

  it("the committed apps.schema.json is the one the catalog schema generates", () => {
    const committed = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "apps.schema.json"), "utf8"));
    assert.deepEqual(committed, JSON.parse(JSON.stringify(catalogJsonSchema())), "stale: run npm run schema");
    const app = committed.properties.apps.items;
    assert.equal(app.additionalProperties, false, "unknown keys are errors in editors too");
    assert.deepEqual([...app.required].sort(), ["domain", "name", "repo", "settings", "tags", "wsgi"]);
  });
});

describe("catalog: values that used to fail later", () => {
  it("refuses a second app on the same repository, in any case", () => {
    const second = (repo: string) => [
      "  - name: polls-two",
      `    repo: ${repo}`,
      "    domain: two.example.edu",
      "    settings: pollsite.settings",
      "    wsgi: pollsite.wsgi:application",
      "    tags:",
      "      alpha: v1.0.0",
    ];
    for (const repo of ["uni-it/polls", "Uni-IT/Polls"]) {
      assert.match(
        onlyError(catalog([], []) + second(repo).join("\n") + "\n"),
        new RegExp(
          `^apps\\.yaml:10:11: polls-two\\.repo: "${repo}" is already the repository of apps\\[0\\] \\(polls\\) \\(GitHub names ignore case\\).*allowed: one app per repository$`,
        ),
      );
    }
  });

  it("refuses values longer than a command line carries: a 200,000-character wsgi, 4,000 acknowledged migrations", () => {
    const long = onlyError(withLine("wsgi: pollsite.wsgi:application", `wsgi: ${"a".repeat(200_000)}:app`));
    assert.match(
      long,
      /^apps\.yaml:6:11: polls\.wsgi: "a{59}\.\.\." \(200004 characters\) is not allowed: module:callable such as mysite\.wsgi:application, or django .*, at most 200 characters$/,
    );
    const many = Array.from({ length: 4000 }, (_, i) => `polls.${String(i).padStart(4, "0")}_x`);
    assert.match(
      onlyError(catalog([`    acknowledgeMigrations: [${many.join(", ")}]`])),
      /^apps\.yaml:9:28: polls\.acknowledgeMigrations: has more than 200 entries .*allowed: at most 200/,
    );
  });

  it("refuses several YAML documents and deep nesting in its own words", () => {
    assert.deepEqual(errors(`${catalog()}---\napps: []\n`), [
      "apps.yaml:9:1: catalog: a second YAML document (after a `---` line); allowed: one document per file",
    ]);
    const deep = errors(`apps: ${"[".repeat(20000)}${"]".repeat(20000)}\n`);
    assert.equal(deep.length, 1);
    assert.match(deep[0], /^apps\.yaml:\d+:\d+: catalog: collections nested too deeply; allowed: at most 32 levels$/);
    assert.match(
      onlyError(`apps: ${"[".repeat(40)}${"]".repeat(40)}\n`),
      /^apps\.yaml:1:\d+: catalog: collections nested too deeply; allowed: at most 32 levels$/,
    );
  });
});
