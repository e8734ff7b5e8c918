// The one stack file reader (config/stackFile.ts): bad stack files, each made from the shipped
// alpha file by a textual edit, and the exact lines they give: every problem at once, one line
// each, naming file, line, column, key and what is allowed; nothing secret is ever quoted.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { loadCatalogFile, parseCatalog } from "../../config/catalog";
import { releaseTagMatcher } from "../../config/githubConfig";
import { ALLOWED_CONFIG_KEYS, checkStack, decodeEngineConfig, parseStackFile, StackReport } from "../../config/stackFile";

const ROOT = path.resolve(__dirname, "../..");
const ALPHA = fs.readFileSync(path.join(ROOT, "Pulumi.alpha.yaml"), "utf8");
const CATALOG = loadCatalogFile(path.join(ROOT, "apps.yaml"), { knownStacks: ["alpha", "production"] }).catalog;
const F = "Pulumi.alpha.yaml";
const ALLOWED = ALLOWED_CONFIG_KEYS.join(", ");
const PLACEHOLDER_SECRET = "    polls:\n      SENTRY_DSN:\n        secure: v1:placeholder-set-with-pulumi-config-set-secret\n";
const PEM_KEY = "-----BEGIN PRIVATE KEY-----\n        c2VjcmV0LXZhbHVl\n        -----END PRIVATE KEY-----";

/** The shipped alpha file with each [from, to] replaced (each `from` must be there). */
function edited(edits: [string, string][]): string {
  return edits.reduce((text, [from, to]) => {
    assert.ok(text.includes(from), `the alpha file has no ${JSON.stringify(from)}`);
    return text.replace(from, to);
  }, ALPHA);
}

function check(text: string, stack = "alpha"): StackReport {
  return checkStack(parseStackFile(text, F), {
    stack,
    knownStacks: ["alpha", "production"],
    catalog: CATALOG,
    now: new Date("2026-12-01T00:00:00Z"),
  });
}

const cases: [string, [string, string][], string[]][] = [
  [
    "a misspelled top-level key (production would lose its protection)",
    [["fleet:protect: false", "fleet:protected: true"]],
    [`${F}:5:3: fleet:protected: unknown key; allowed: ${ALLOWED} (did you mean fleet:protect?)`],
  ],
  [
    "a misspelled section (every branch rule would be deleted)",
    [["  fleet:github:\n", "  fleet:githb:\n"]],
    [`${F}:49:3: fleet:githb: unknown key; allowed: ${ALLOWED} (did you mean fleet:github?)`],
  ],
  [
    "unknown keys directly under config:, in any namespace",
    [["  github:owner: uni-it\n", '  github:owner: uni-it\n  foo:bar: 1\n  pulumi:disable-default-providers: ["*"]\n']],
    [
      `${F}:49:3: foo:bar: unknown key; allowed: ${ALLOWED}`,
      `${F}:50:3: pulumi:disable-default-providers: unknown key; allowed: ${ALLOWED}`,
    ],
  ],
  [
    "unknown nested keys, each with the keys its mapping allows",
    [
      ["    rootVolumeGb: 20\n  fleet:staticHost:", "    rootVolumeGb: 20\n    cuont: 2\n  fleet:staticHost:"],
      ["    sshAccess: direct\n", "    sshAccess: direct\n    ipv6: true\n"],
      ["    prereleases: true\n", "    prereleases: true\n    manageRepos: true\n"],
    ],
    [
      `${F}:10:5: fleet:network.ipv6: unknown key; allowed: cidr, sshAccess`,
      `${F}:21:5: fleet:nodes.cuont: unknown key; allowed: count, instanceType, ami, rootVolumeGb, heavyJobs (did you mean count?)`,
      `${F}:54:5: fleet:github.manageRepos: unknown key; allowed: manageRepositories, statusChecks, requiredReviews, releaseTagPattern, tagActors, rulesets, sourceBranch, prereleases, apiUrl`,
    ],
  ],
  [
    "an unknown key in a recovery source (the union member it chose)",
    [
      [
        "  fleet:storage:\n",
        "  fleet:recovery:\n    replaces: production\n    media: empty\n    database:\n      from: snapshot\n      snapshot: fleet-final\n      region: x\n  fleet:storage:\n",
      ],
    ],
    [`${F}:37:7: fleet:recovery.database.region: unknown key; allowed: from, snapshot`],
  ],
  [
    "a VPC CIDR larger than AWS allows",
    [["cidr: 10.20.0.0/16", "cidr: 10.0.0.0/8"]],
    [
      `${F}:7:11: fleet:network.cidr: is larger than AWS allows for a VPC (got "10.0.0.0/8"); allowed: /16 to /18 (AWS takes /16 at most; the six subnets need /18 at least)`,
    ],
  ],
  [
    "a VPC CIDR with host bits",
    [["cidr: 10.20.0.0/16", "cidr: 10.20.0.1/16"]],
    [
      `${F}:7:11: fleet:network.cidr: has host bits set, which AWS refuses (got "10.20.0.1/16"); allowed: the network address (10.20.0.0/16)`,
    ],
  ],
  [
    "a VPC CIDR too small for the subnets",
    [["cidr: 10.20.0.0/16", "cidr: 10.20.0.0/28"]],
    [`${F}:7:11: fleet:network.cidr: must be a CIDR of /18 or larger (the six subnets need it) (got "10.20.0.0/28"); allowed: /16 to /18`],
  ],
  [
    "a MySQL version for PostgreSQL",
    [['engineVersion: "16"', 'engineVersion: "8.0.35"']],
    [
      `${F}:25:20: fleet:database.engineVersion: "8.0.35" is a MySQL version, not a PostgreSQL one (engine: postgres); allowed: a PostgreSQL major version 11 or newer, optionally with its minor (16, 16.4)`,
    ],
  ],
  [
    "a PostgreSQL version for MySQL",
    [["engine: postgres", "engine: mysql"]],
    [
      `${F}:25:20: fleet:database.engineVersion: "16" is a PostgreSQL version, not a MySQL one (engine: mysql); allowed: a MySQL version 5.7, 8.0 or 8.4, optionally with its patch (8.0.39)`,
    ],
  ],
  [
    "a MariaDB version for MySQL",
    [
      ["engine: postgres", "engine: mysql"],
      ['engineVersion: "16"', 'engineVersion: "10.11.9"'],
    ],
    [
      `${F}:25:20: fleet:database.engineVersion: "10.11.9" is a MariaDB version, not a MySQL one (engine: mysql); allowed: a MySQL version 5.7, 8.0 or 8.4, optionally with its patch (8.0.39)`,
    ],
  ],
  [
    "a recovery replacing a stack that has no stack file",
    [["  fleet:storage:\n", "  fleet:recovery:\n    replaces: staging\n    media: empty\n  fleet:storage:\n"]],
    [
      `${F}:32:15: fleet:recovery.replaces: no stack file Pulumi.staging.yaml: a recovery replaces a stack of this project; allowed: production`,
    ],
  ],
  [
    "a private key pasted into a certificate field (never echoed)",
    [
      [
        "  github:owner: uni-it\n",
        `  fleet:tls:\n    polls:\n      certificate: |\n        ${PEM_KEY}\n      privateKey:\n        secure: v1:abc\n  github:owner: uni-it\n`,
      ],
    ],
    [
      `${F}:50:20: fleet:tls.polls.certificate: holds a private key, which belongs in privateKey, as a secret (pulumi config set --secret --path 'fleet:tls.polls.privateKey' < KEY-FILE); allowed here: the certificates only (-----BEGIN CERTIFICATE-----), server certificate first`,
    ],
  ],
  [
    "a private key pasted into any other field (never echoed)",
    [
      [
        "ami: ami-0c1c30571d2dae5c9",
        'ami: "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjE\\n-----END OPENSSH PRIVATE KEY-----"',
      ],
    ],
    [`${F}:18:10: fleet:nodes.ami: must be a pinned AMI id like ami-0123456789abcdef0 (got a PEM text, not shown)`],
  ],
  [
    "a non-string app secret (no `replace is not a function`, no value)",
    [[PLACEHOLDER_SECRET, "    polls:\n      SENTRY_DSN: 987654321\n"]],
    [
      `${F}:39:19: fleet:appSecrets.polls.SENTRY_DSN: must be a string, not a number; allowed: the secret's text: pulumi config set --secret --path 'fleet:appSecrets.polls.SENTRY_DSN' VALUE`,
    ],
  ],
  [
    "a misspelled secret name, and so the real one without a value",
    [["    polls:\n      SENTRY_DSN:\n", "    polls:\n      SENTRY_DNS:\n"]],
    [
      `${F}:39:7: fleet:appSecrets.polls.SENTRY_DNS: the catalog lists no secret SENTRY_DNS for polls; allowed: SENTRY_DSN (did you mean SENTRY_DSN?)`,
      `${F}:39:7: fleet:appSecrets.polls: polls lists secret(s) SENTRY_DSN in the catalog, with no value here; allowed: set each with pulumi config set --secret --path 'fleet:appSecrets.polls.SENTRY_DSN' VALUE`,
    ],
  ],
  [
    "secrets of an app the catalog does not have",
    [[PLACEHOLDER_SECRET, `${PLACEHOLDER_SECRET}    pols:\n      X: y\n`]],
    [
      `${F}:41:5: fleet:appSecrets.pols: no app "pols" in the catalog; allowed: the apps that list secrets (polls, library-catalogue) (did you mean polls?)`,
    ],
  ],
  [
    "a YAML syntax error: one line, with the file and position",
    [["    count: 1\n", "    count: [1\n"]],
    [`${F}:15:5: stack file: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]`],
  ],
  [
    "a key given twice",
    [["  fleet:protect: false\n", "  fleet:protect: false\n  fleet:protect: true\n"]],
    [`${F}:6:3: stack file: duplicate key: each key may appear once in a map`],
  ],
  [
    "an unknown key at the top of the file",
    [["config:\n", "confg: 1\nconfig:\n"]],
    [
      `${F}:3:1: confg: unknown key at the top of the stack file; allowed keys: config, environment, secretsprovider, encryptedkey, encryptionsalt (fleet:*, aws:* and github:* keys go under config:)`,
    ],
  ],
  [
    "SSH ranges AWS refuses: IPv6 (the VPC has none), host bits, a repeat",
    [["    - 192.0.2.0/24\n", "    - 192.0.2.0/24\n    - ::/0\n    - 192.0.2.7/24\n    - 192.0.2.0/24\n"]],
    [
      `${F}:13:7: fleet:adminCidrs[1]: "::/0" is an IPv6 range, and the VPC and its SSH rules are IPv4 only (::/0 would open SSH to the whole internet); allowed: IPv4 CIDRs like 203.0.113.0/24`,
      `${F}:14:7: fleet:adminCidrs[2]: "192.0.2.7/24" has host bits set, which AWS refuses; allowed: the network address of the range (192.0.2.0/24) or one address as /32`,
      `${F}:15:7: fleet:adminCidrs[3]: "192.0.2.0/24" is listed twice (AWS refuses a repeated rule); allowed: each range once`,
    ],
  ],
  [
    "heavy-work slots a node cannot have (0 means its CPU count; a count, not a text or a fraction)",
    [["    rootVolumeGb: 20\n  fleet:staticHost:", "    rootVolumeGb: 20\n    heavyJobs: -1\n  fleet:staticHost:"]],
    [`${F}:20:16: fleet:nodes.heavyJobs: must be >= 0 (got -1)`],
  ],
  [
    "a fractional heavyJobs",
    [["    rootVolumeGb: 20\n  fleet:staticHost:", "    rootVolumeGb: 20\n    heavyJobs: 1.5\n  fleet:staticHost:"]],
    [`${F}:20:16: fleet:nodes.heavyJobs: must be an integer (got 1.5)`],
  ],
  [
    "a heavyJobs as text",
    [["    rootVolumeGb: 20\n  fleet:staticHost:", '    rootVolumeGb: 20\n    heavyJobs: "4"\n  fleet:staticHost:']],
    [`${F}:20:16: fleet:nodes.heavyJobs: must be a number (got "4")`],
  ],
  [
    "no nginx host at all",
    [["  fleet:staticHost:\n", "  fleet:staticHost:\n    count: 0\n"]],
    [`${F}:21:12: fleet:staticHost.count: must be >= 1 (got 0)`],
  ],
  [
    "more nginx hosts than the edge takes",
    [["  fleet:staticHost:\n", "  fleet:staticHost:\n    count: 5\n"]],
    [`${F}:21:12: fleet:staticHost.count: must be <= 4 (got 5)`],
  ],
  [
    "a host count as text or a fraction",
    [
      ["  fleet:staticHost:\n", '  fleet:staticHost:\n    count: "2"\n'],
      ["    count: 1\n", "    count: 1.5\n"],
    ],
    [`${F}:14:12: fleet:nodes.count: must be an integer (got 1.5)`, `${F}:21:12: fleet:staticHost.count: must be a number (got "2")`],
  ],
  [
    "AWS credentials in the stack file (never echoed)",
    [["  aws:region: eu-west-1\n", "  aws:region: eu-west-1\n  aws:secretKey: wJalrXUtnFEMI\n"]],
    [
      `${F}:5:3: aws:secretKey: AWS credentials never go in the stack file; allowed: the environment (AWS_PROFILE or AWS_* variables; OpenID Connect in CI)`,
    ],
  ],
  [
    "no region",
    [["  aws:region: eu-west-1\n", ""]],
    [`${F}:4:3: aws:region: is required (missing); see docs/infrastructure.md, "Stack config keys"`],
  ],
  [
    "several problems in one file, reported together in file order",
    [
      ["fleet:protect: false", "fleet:protected: true"],
      ["cidr: 10.20.0.0/16", "cidr: 10.0.0.0/8"],
      ['engineVersion: "16"', 'engineVersion: "8.0"'],
      ["    count: 1\n", "    count: 0\n"],
    ],
    [
      `${F}:5:3: fleet:protected: unknown key; allowed: ${ALLOWED} (did you mean fleet:protect?)`,
      `${F}:7:11: fleet:network.cidr: is larger than AWS allows for a VPC (got "10.0.0.0/8"); allowed: /16 to /18 (AWS takes /16 at most; the six subnets need /18 at least)`,
      `${F}:14:12: fleet:nodes.count: must be >= 1 (got 0)`,
      `${F}:25:20: fleet:database.engineVersion: "8.0" is a MySQL version, not a PostgreSQL one (engine: postgres); allowed: a PostgreSQL major version 11 or newer, optionally with its minor (16, 16.4)`,
    ],
  ],
];

describe("stack file reader (config/stackFile.ts)", () => {
  it("reads both shipped stack files without a problem or a warning", () => {
    for (const stack of ["alpha", "production"]) {
      const report = check(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8"), stack);
      assert.deepEqual([report.errors, report.warnings], [[], []]);
      assert.equal(report.settings?.infra.stack, stack);
    }
    assert.equal(check(ALPHA).settings?.github.prereleases, true);
  });

  it("gives alpha one nginx host (the default) and production two", () => {
    assert.equal(check(ALPHA).settings?.infra.staticHost.count, 1);
    assert.equal(
      check(fs.readFileSync(path.join(ROOT, "Pulumi.production.yaml"), "utf8"), "production").settings?.infra.staticHost.count,
      2,
    );
    assert.equal(check(edited([["  fleet:staticHost:\n", "  fleet:staticHost:\n    count: 3\n"]])).settings?.infra.staticHost.count, 3);
  });

  for (const [what, edits, expected] of cases) {
    it(`refuses ${what}`, () => {
      const report = check(edited(edits));
      assert.deepEqual(report.errors, expected);
      assert.equal(report.settings, undefined);
      for (const line of report.errors)
        assert.doesNotMatch(line, /\n|c2VjcmV0LXZhbHVl|b3BlbnNzaC1rZXktdjE|wJalrXUtnFEMI|987654321|is not a function/);
    });
  }

  it("warns (does not refuse) SSH from the whole internet and plain-text secrets", () => {
    const report = check(
      edited([
        ["    - 192.0.2.0/24\n", "    - 0.0.0.0/0\n"],
        [PLACEHOLDER_SECRET, "    polls:\n      SENTRY_DSN: https://key@sentry.example.edu/1\n"],
      ]),
    );
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.warnings, [
      `${F}:12:7: fleet:adminCidrs[0]: opens SSH to the whole internet (0.0.0.0/0): legal, but every machine then takes SSH attempts from anywhere; list the ranges that need SSH (CI runners, the ops VPN)`,
      `${F}:39:19: fleet:appSecrets.polls.SENTRY_DSN: is plain text in the stack file (and in git): set it as a secret: pulumi config set --secret --path 'fleet:appSecrets.polls.SENTRY_DSN' VALUE`,
    ]);
    assert.ok(report.settings);
  });

  it("warns (does not refuse) the secrets of an app that left the catalog: a removal is one change", () => {
    const report = check(edited([[PLACEHOLDER_SECRET, `${PLACEHOLDER_SECRET}    retired-app:\n      X: y\n`]]));
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.warnings, [
      `${F}:41:5: fleet:appSecrets.retired-app: no app "retired-app" in the catalog: its secrets are unused; remove them with pulumi config rm --path 'fleet:appSecrets.retired-app'`,
    ]);
    assert.ok(report.settings);
  });

  it("checks the engine's values (every one a string) with the file's positions, never showing a secret", () => {
    const doc = parseStackFile(ALPHA, F);
    const engine: Record<string, string> = {};
    for (const [k, v] of Object.entries(doc.values)) engine[k] = typeof v === "string" ? v : JSON.stringify(v);
    const fine = checkStack(doc, { stack: "alpha", knownStacks: ["alpha", "production"], catalog: CATALOG }, decodeEngineConfig(engine));
    assert.deepEqual(fine.errors, []);
    // A decrypted value of the wrong shape where the file keeps a secret: said, not shown.
    engine["fleet:appSecrets"] = JSON.stringify({
      polls: { SENTRY_DSN: ["decrypted-secret"] },
      "library-catalogue": { SENTRY_DSN: "a", LIBRARY_API_TOKEN: "b" },
    });
    engine["github:owner"] = "1234";
    const bad = checkStack(doc, { stack: "alpha", knownStacks: ["alpha", "production"], catalog: CATALOG }, decodeEngineConfig(engine));
    assert.deepEqual(bad.errors, [
      `${F}:40:9: fleet:appSecrets.polls.SENTRY_DSN: must be a string, not a list; allowed: the secret's text: pulumi config set --secret --path 'fleet:appSecrets.polls.SENTRY_DSN' VALUE`,
    ]);
  });

  it("refuses a deployed tag the release tag rules do not protect, at the tag's line in the catalog", () => {
    const shipped = fs.readFileSync(path.join(ROOT, "apps.yaml"), "utf8");
    const loose = parseCatalog(
      shipped.replace("production: v1.3.2", 'production: "1.3"').replace("alpha: v1.4.0", "alpha: 99.0.0"),
      "apps.yaml",
      { knownStacks: ["alpha", "production"] },
    ).catalog!;
    const production = fs.readFileSync(path.join(ROOT, "Pulumi.production.yaml"), "utf8");
    const managing = checkStack(parseStackFile(production, "Pulumi.production.yaml"), {
      stack: "production",
      knownStacks: ["alpha", "production"],
      catalog: loose,
      now: new Date("2026-12-01T00:00:00Z"),
    });
    assert.deepEqual(managing.errors, [
      'apps.yaml:22:19: polls.tags.production: "1.3" is not protected by the release tag rules (this stack\'s fleet:github.releaseTagPattern "v*"), so anyone with write access could create or move it and production would deploy it; allowed: a tag matching v*, or "latest"',
    ]);
    // alpha does not manage the repositories: production's rules are the ones its tags need.
    const ctx = {
      stack: "alpha",
      knownStacks: ["alpha", "production"],
      catalog: loose,
      now: new Date("2026-12-01T00:00:00Z"),
      tagRules: { stack: "production", pattern: "v*" },
    };
    assert.deepEqual(checkStack(parseStackFile(ALPHA, F), ctx).errors, [
      'apps.yaml:21:14: polls.tags.alpha: "99.0.0" is not protected by the release tag rules (stack production\'s fleet:github.releaseTagPattern "v*"), so anyone with write access could create or move it and alpha would deploy it; allowed: a tag matching v*, or "latest"',
    ]);
    assert.deepEqual(checkStack(parseStackFile(ALPHA, F), { ...ctx, tagRules: { stack: "production", pattern: "*" } }).errors, []);
    // The settings carry the rules `latest` resolves against.
    assert.deepEqual(check(ALPHA).settings?.tagRules, { stack: "alpha", pattern: "v*" });
  });

  it("reads a tag pattern as GitHub does (fnmatch, FNM_PATHNAME): * within one part, **/ across parts", () => {
    const covers = (pattern: string, tag: string) => releaseTagMatcher(pattern)(tag);
    assert.deepEqual(
      ["v1.3", "v1.3.2", "v2.0.0-rc.1", "1.3", "99.0.0", "v1/hotfix", "release-v1"].map((t) => covers("v*", t)),
      [true, true, true, false, false, false, false],
    );
    assert.deepEqual(
      [
        covers("*", "1.3"),
        covers("*", "a/b"),
        covers("**/v*", "a/b/v1"),
        covers("**/v*", "v1"),
        covers("release/*", "release/1.0"),
        covers("v1.*", "v1x2"),
      ],
      [true, false, true, true, true, false],
    );
  });

  // Values that used to fail later (mid-`up`, in a shell, at AWS) instead of at the door.
  const atTheDoor: [string, [string, string][], RegExp][] = [
    [
      "a credential in the clone URL",
      [
        [
          "  fleet:github:\n",
          "  fleet:deploy:\n    gitUrlTemplate: https://ci:ghp_abc123@github.example.edu/{repo}.git\n  fleet:github:\n",
        ],
      ],
      /^Pulumi\.alpha\.yaml:\d+:21: fleet:deploy\.gitUrlTemplate: carries a credential .*; allowed: no credential/,
    ],
    [
      "a token as the https user",
      [["  fleet:github:\n", "  fleet:deploy:\n    gitUrlTemplate: https://ghp_abc123@github.example.edu/{repo}.git\n  fleet:github:\n"]],
      /gitUrlTemplate: carries a credential/,
    ],
    [
      "a clone host beginning with -",
      [["  fleet:github:\n", "  fleet:deploy:\n    gitUrlTemplate: git@-oProxyCommand=x:{repo}.git\n  fleet:github:\n"]],
      /gitUrlTemplate: must be a git URL .*the host starting with a letter or digit/,
    ],
    [
      "fleet:deploy.sshUser, which nothing used",
      [["  fleet:github:\n", "  fleet:deploy:\n    sshUser: ubuntu\n  fleet:github:\n"]],
      /fleet:deploy\.sshUser: unknown key; allowed: gitUrlTemplate, /,
    ],
    [
      "a plain-HTTP GitHub API URL",
      [["    prereleases: true\n", "    prereleases: true\n    apiUrl: http://github.example.edu/api/v3\n"]],
      /fleet:github\.apiUrl: an https URL .*never http/,
    ],
    [
      "an unknown region",
      [["aws:region: eu-west-1", "aws:region: eu-centrall-1"]],
      /aws:region: is not allowed \(got "eu-centrall-1"\); allowed: an AWS region/,
    ],
    [
      "an unknown replication region",
      [["    bucketPrefix: uni-fleet\n", "    bucketPrefix: uni-fleet\n    replicationRegion: xx-north-9\n"]],
      /fleet:storage\.replicationRegion: must be an AWS region/,
    ],
    [
      "an instance type outside EC2's naming",
      [["instanceType: t3.small", "instanceType: t3.smal"]],
      /fleet:nodes\.instanceType: must be an EC2 instance type, family\.size/,
    ],
    [
      "a master user name PostgreSQL reserves",
      [["    deletionProtection: false\n", "    deletionProtection: false\n    masterUsername: admin\n"]],
      /fleet:database\.masterUsername: "admin" is a name postgres on RDS reserves/,
    ],
    [
      "rdsadmin on MySQL",
      [
        ["engine: postgres", "engine: mysql"],
        ['engineVersion: "16"', 'engineVersion: "8.0"'],
        ["    deletionProtection: false\n", "    deletionProtection: false\n    masterUsername: rdsadmin\n"],
      ],
      /masterUsername: "rdsadmin" is a name mysql on RDS reserves/,
    ],
    [
      "more admin ranges than a security group holds",
      [["    - 192.0.2.0/24\n", Array.from({ length: 58 }, (_, i) => `    - 198.51.${i}.0/24\n`).join("")]],
      /fleet:adminCidrs: has 58 ranges, more than the nginx hosts' security group holds .*at most 57/,
    ],
    [
      "a point-in-time recovery in the future",
      [
        [
          "  fleet:storage:\n",
          '  fleet:recovery:\n    replaces: production\n    media: empty\n    database:\n      from: pointInTime\n      source: fleet-db\n      time: "2027-01-01T00:00:00Z"\n  fleet:storage:\n',
        ],
      ],
      /fleet:recovery\.database\.time: "2027-01-01T00:00:00Z" is in the future/,
    ],
    [
      "a multi-line plain secret",
      [[PLACEHOLDER_SECRET, '    polls:\n      SENTRY_DSN: "secretpart-one\\nsecretpart-two"\n']],
      /fleet:appSecrets\.polls\.SENTRY_DSN: must be one line/,
    ],
    [
      "a second YAML document",
      [["  github:owner: uni-it\n", "  github:owner: uni-it\n---\nconfig: {}\n"]],
      /^Pulumi\.alpha\.yaml:\d+:\d+: stack file: a second YAML document \(after a `---` line\); allowed: one document per file$/,
    ],
    [
      "collections nested thousands deep",
      [["  github:owner: uni-it\n", `  github:owner: uni-it\n  foo:bar: ${"[".repeat(5000)}${"]".repeat(5000)}\n`]],
      /^Pulumi\.alpha\.yaml:\d+:\d+: stack file: collections nested too deeply; allowed: at most 32 levels$/,
    ],
    [
      "collections nested 40 deep",
      [["  github:owner: uni-it\n", `  github:owner: uni-it\n  foo:bar: ${"[".repeat(40)}${"]".repeat(40)}\n`]],
      /^Pulumi\.alpha\.yaml:\d+:\d+: stack file: collections nested too deeply; allowed: at most 32 levels$/,
    ],
  ];
  for (const [what, edits, expected] of atTheDoor) {
    it(`refuses at the door ${what}, in one line, no library wording`, () => {
      const report = check(edited(edits));
      assert.ok(
        report.errors.some((e) => expected.test(e)),
        report.errors.join("\n"),
      );
      assert.equal(report.settings, undefined);
      for (const line of report.errors) assert.doesNotMatch(line, /\n|call stack|parseAllDocuments|ghp_abc123|secretpart/);
    });
  }

  it("refuses a multi-line value of a `secure:` secret once decrypted (the program's config loading, before anything is declared), never showing it", () => {
    const doc = parseStackFile(ALPHA, F);
    const engine: Record<string, string> = {};
    for (const [k, v] of Object.entries(doc.values)) engine[k] = typeof v === "string" ? v : JSON.stringify(v);
    engine["fleet:appSecrets"] = JSON.stringify({
      polls: { SENTRY_DSN: "decrypted\nsecret" },
      "library-catalogue": { SENTRY_DSN: "a", LIBRARY_API_TOKEN: "b" },
    });
    const report = checkStack(doc, { stack: "alpha", knownStacks: ["alpha", "production"], catalog: CATALOG }, decodeEngineConfig(engine));
    assert.deepEqual(report.errors, [
      `${F}:40:9: fleet:appSecrets.polls.SENTRY_DSN: must be one line of at most 65536 characters (no newline or NUL: the environment file holds one NAME='value' a line); allowed: a single-line value, e.g. base64 of a multi-line one`,
    ]);
  });

  it("a file that is not a mapping, or whose config: is not one, is one line", () => {
    assert.deepEqual(check("- a\n").errors, [
      `${F}:1:1: stack file: must be a mapping with a config: section; allowed keys: config, environment, secretsprovider, encryptedkey, encryptionsalt`,
    ]);
    assert.deepEqual(check("config: [1]\n").errors, [`${F}:1:9: config: must be a mapping of "namespace:key" to value`]);
    assert.deepEqual(check("config:\n  aws:region: eu-west-1\n  fleet:tls: &a [*a]\n").errors, [
      `${F}:3:17: fleet:tls[0]: a YAML alias inside the value it names (an endless value); allowed: aliases of values defined before them`,
    ]);
    const bomb = `config:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from(
      { length: 9 },
      (_, i) =>
        `  ${"bcdefghij"[i]}: &${"bcdefghij"[i]} [${Array(10)
          .fill(i ? `*${"bcdefghij"[i - 1]}` : "*a")
          .join(", ")}]`,
    ).join("\n")}\n`;
    assert.equal(check(bomb).errors.length, 1);
    assert.match(
      check(bomb).errors[0],
      /^Pulumi\.alpha\.yaml:\d+:\d+: stack file: more than 50 YAML aliases: refused as a possible alias bomb$/,
    );
  });
});
