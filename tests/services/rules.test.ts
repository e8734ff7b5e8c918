// One source for each rule: the patterns of config/patterns.ts hold in TypeScript and, through
// the generated node/rollout/lib-rules.sh, in the node scripts, value for value; the generated
// file is current; the platform's environment names are all reserved.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { RESERVED_ENV } from "../../config/catalog";
import { appIdentity } from "../../config/identity";
import { CHOICES, LIMITS, RuleName, RULES, ruleRegExp } from "../../config/patterns";
import { checkFunctionName, renderRulesLibrary, RULES_LIBRARY_FILE } from "../../render/rulesLibrary";
import { platformEnv } from "../../rollout/plan";
import { sampleApps } from "../helpers/infraHarness";

const ROLLOUT = path.dirname(RULES_LIBRARY_FILE);

/** Per rule: values it must accept, values it must refuse. */
const TABLE: Record<RuleName, { accept: string[]; reject: string[] }> = {
  app: {
    accept: ["abc", "polls", "room-booking", "a1-2", "a".repeat(32)],
    reject: ["ab", "a".repeat(33), "Polls", "1abc", "-abc", "abc-", "ab_c", "a.bc", "ab c", "abc\nx", "abé", "", "abc;x", "ABC"],
  },
  osUser: {
    accept: ["app_polls", "app_room-booking", "app_" + "a".repeat(27)],
    reject: [
      "polls",
      "deploy",
      "root",
      "app_",
      "app_a",
      "app_" + "a".repeat(28),
      "app_Polls",
      "app_1abc",
      "app_-abc",
      "app_abc-",
      "app_a.b",
      "app_a b",
      "app__ab",
    ],
  },
  database: {
    accept: ["app_polls", "app_room_booking", "app_" + "a".repeat(27)],
    reject: [
      "polls",
      "fleetadmin",
      "mysql",
      "app_room-booking",
      "app_",
      "app_" + "a".repeat(28),
      "app_Polls",
      "app_1ab",
      "app_ab_",
      "app_a;b",
    ],
  },
  overrides: {
    accept: ["none", "database", "database,hosts,static,secretKey,proxy,storage,debug", "storage,database"],
    reject: [
      "",
      "None",
      "database,",
      ",database",
      "database,,hosts",
      "databases",
      "database hosts",
      "debug;id",
      "none,debug",
      "debug,none",
      "debug,none,hosts",
    ],
  },
  tag: {
    accept: ["v1", "v1.4.0", "1.3", "release/1.2", "v1_rc-2", "A", "a".repeat(128)],
    reject: ["", ".v1", "-v1", "v1..2", "a//b", "v1.lock", "v1/", "v1.", "v 1", "v1\nv2", "v1;x", "a".repeat(129), "v1~", "v1^", "v1:x"],
  },
  gitUrl: {
    accept: [
      "git@github.com:uni-it/polls.git",
      "ssh://git@host/o/r.git",
      "https://github.com/o/r",
      "file:///srv/git/polls.git",
      "git@ghe.example.edu:o/r+x@y",
    ],
    reject: [
      "",
      "http://github.com/o/r",
      "git@:o/r",
      "https://",
      "file://host/x",
      "https://h/o r",
      "https://h/$(x)",
      "git@h:o/r\nx",
      "https://h/{repo}",
      "git@-oProxyCommand=x:o/r",
      "ssh://-oProxyCommand=x/o/r",
      "https://u:t@h/o/r",
      "https://tok@h/o/r",
      `git@h:${"a".repeat(1024)}`,
    ],
  },
  dotted: {
    accept: ["mysite.settings", "a", "_a.b_c.D9"],
    reject: ["", "a..b", ".a", "a.", "9a", "a-b", "a.b:c", "a b", "a".repeat(201)],
  },
  wsgi: {
    accept: ["mysite.wsgi:application", "app:app", "_a.b:C_1", "django"],
    reject: [
      "",
      "mysite.wsgi",
      "Django",
      "djangos",
      "django:",
      "django\n",
      "a:b:c",
      "a..b:c",
      "a.:c",
      ":app",
      "a:9b",
      "a:b.c",
      "a b:c",
      "a:b\n",
      `${"a".repeat(200)}:b`,
    ],
  },
  domain: {
    accept: ["polls.example.edu", "a.b", "x-1.example.co.uk", `${"a".repeat(63)}.edu`, `${Array(50).fill("abcd").join(".")}.edu`],
    reject: [
      "",
      "localhost",
      "Polls.example.edu",
      "*.example.edu",
      "a..b",
      "-a.edu",
      "a-.edu",
      "a.1edu",
      "a.edu.",
      "a.edu:80",
      "http://a.edu",
      `${"a".repeat(64)}.edu`,
      `${Array(63).fill("abc").join(".")}.edu`,
      "a.e_du",
    ],
  },
  healthPath: {
    accept: ["/", "/healthz", "/a/b.c_d~e-f"],
    reject: ["", "healthz", "/h?x=1", "/a b", "/a#b", "/é", "/a\n", `/${"a".repeat(200)}`],
  },
  envName: {
    accept: ["A", "_A", "SENTRY_DSN", "A1_2"],
    reject: ["", "a", "1A", "A-B", "A B", "Ä", "A\nB"],
  },
  sshUser: {
    accept: ["deploy", "_x", "a-b_1", "a".repeat(32)],
    reject: ["", "Deploy", "1a", "-a", "a".repeat(33), "a b", "a.b"],
  },
  processName: {
    accept: ["worker", "w", "celery-beat", "a1", "a".repeat(32)],
    reject: ["", "Worker", "1w", "-w", "w-", "w_x", "w.x", "w x", "a".repeat(33), "w\nx"],
  },
  command: {
    accept: [
      "python manage.py work",
      "celery -A proj worker --concurrency 2",
      "bin/run.sh",
      "python  manage.py x=1,2 a@b:c+d",
      "a".repeat(500),
    ],
    reject: [
      "",
      " python",
      "python ",
      "a;b",
      "a | b",
      "a && b",
      "echo $HOME",
      "a 'b'",
      'a "b"',
      "a\nb",
      "a `b`",
      "a%b",
      "a\\b",
      "a > f",
      "a".repeat(501),
      "a\tb",
    ],
  },
  onCalendar: {
    accept: ["*-*-* 3:17:00 UTC", "*-*-* *:*:00 UTC", "Mon,Fri *-1,7-* 0,12:0,30:00 UTC"],
    reject: ["", "daily", "*-*-* 3:17:00", "*-*-* 3:17:00 UTC; id", "mon *-*-* 3:17:00 UTC", "*-*-* 3:17:05 UTC"],
  },
  host: {
    accept: ["10.0.9.158", "db.example.internal", "a", "a-b.c", "A1"],
    reject: ["", "-a", ".a", "a_b", "a b", "a:5432", "a\nb", "a".repeat(254)],
  },
};

/** Runs the generated check function of a rule on each value, for real: true where it accepts. */
function shellVerdicts(rule: RuleName, values: string[]): boolean[] {
  const script = [
    'here=$1; shift; . "$here/lib.sh"',
    `for v; do if (${checkFunctionName(rule)} "$v") >/dev/null 2>&1; then echo yes; else echo no; fi; done`,
  ].join("\n");
  const r = spawnSync("sh", ["-eu", "-c", script, "rules-test", ROLLOUT, ...values], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .trim()
    .split("\n")
    .map((l) => l === "yes");
}

describe("one source for each rule", () => {
  it("every rule has an accept/reject table, and the tables cover every refused glob and length", () => {
    assert.deepEqual(Object.keys(TABLE).sort(), Object.keys(RULES).sort());
    for (const [name, rule] of Object.entries(RULES) as [RuleName, (typeof RULES)[RuleName]][]) {
      let outside: string = rule.ere;
      while (/\([^()]*\)/.test(outside)) outside = outside.replace(/\([^()]*\)/g, "");
      assert.doesNotMatch(outside, /\|/, `${name}: no | outside parentheses`);
      if ("maxLength" in rule)
        assert.ok(
          TABLE[name].reject.some((v) => v.length > rule.maxLength),
          `${name}: a value over maxLength`,
        );
    }
  });

  for (const name of Object.keys(TABLE) as RuleName[]) {
    it(`${name}: TypeScript and the node scripts accept and refuse the same values`, () => {
      const { accept, reject } = TABLE[name];
      const values = [...accept, ...reject];
      const expected = values.map((_, i) => i < accept.length);
      const re = ruleRegExp(RULES[name]);
      assert.deepEqual(
        values.map((v) => [v, re.test(v)]),
        values.map((v, i) => [v, expected[i]]),
        "TypeScript",
      );
      const shell = shellVerdicts(name, values);
      assert.deepEqual(
        values.map((v, i) => [v, shell[i]]),
        values.map((v, i) => [v, expected[i]]),
        "sh",
      );
    });
  }

  it("a refused value's message names what it is and the value", () => {
    const r = spawnSync("sh", ["-eu", "-c", 'here=$0; . "$here/lib.sh"; check_tag v1..2', ROLLOUT], { encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, "fleet: error: tag 'v1..2' is not allowed\n");
    const host = spawnSync("sh", ["-eu", "-c", 'here=$0; . "$here/lib.sh"; check_host "a b" "database host"', ROLLOUT], {
      encoding: "utf8",
    });
    assert.match(host.stderr, /^fleet: error: database host 'a b' is not allowed \(must match /);
  });

  /** Exit status and stderr of one generated check_* function on a value. */
  const runCheck = (fn: string, value: string) =>
    spawnSync("sh", ["-eu", "-c", `here=$0; . "$here/lib.sh"; ${fn} "$1"`, ROLLOUT, value], { encoding: "utf8" });

  it("every limit holds in the node scripts as in the catalog: its bounds accepted, one past them and anything not a whole number refused", () => {
    for (const [name, limit] of Object.entries(LIMITS)) {
      const fn = checkFunctionName(name);
      for (const ok of [limit.min, limit.max]) assert.equal(runCheck(fn, String(ok)).status, 0, `${fn} ${ok}`);
      for (const bad of [
        String(limit.max + 1),
        ...(limit.min > 0 ? [String(limit.min - 1)] : []),
        "",
        "1.5",
        "-1",
        "01",
        "1 2",
        "1\n2",
        "x",
      ]) {
        const r = runCheck(fn, bad);
        assert.equal(r.status, 1, `${fn} ${JSON.stringify(bad)}`);
        assert.equal(
          r.stderr,
          `fleet: error: ${limit.label} '${bad}' is not allowed (must be a whole number from ${limit.min} to ${limit.max})\n`,
        );
      }
    }
  });

  it("every choice holds in the node scripts as in the catalog, and a refused word's message lists the allowed ones", () => {
    for (const [name, choice] of Object.entries(CHOICES)) {
      const fn = checkFunctionName(name);
      for (const ok of choice.values) assert.equal(runCheck(fn, ok).status, 0, `${fn} ${ok}`);
      const r = runCheck(fn, "other");
      assert.equal(r.status, 1);
      assert.equal(r.stderr, `fleet: error: ${choice.label} 'other' is not allowed (${choice.values.join(" or ")})\n`);
    }
  });

  it("named arguments: each --NAME once, in any order, values taken as they are; a missing, repeated, unknown or valueless one is refused with the usage", () => {
    const named = (...args: string[]) =>
      spawnSync(
        "sh",
        [
          "-eu",
          "-c",
          'here=$0; shift; . "$here/lib.sh"; named_args "usage: x.sh --app A --git-url U" app git-url -- "$@"; printf "%s|%s" "$arg_app" "$arg_git_url"',
          ROLLOUT,
          "x",
          ...args,
        ],
        { encoding: "utf8" },
      );
    assert.equal(named("--git-url", "$(id) two", "--app", "a").stdout, "a|$(id) two");
    for (const [args, why] of [
      [["--app", "a"], "--git-url is missing"],
      [["--app", "a", "--git-url", "u", "--app", "b"], "--app is given twice"],
      [["--app", "a", "--git-url"], "--git-url has no value"],
      [["--app", "a", "--git-url", "u", "--tag", "v1"], "--tag is not one of its arguments"],
      [["a", "--app", "a", "--git-url", "u"], "'a' is not a --NAME"],
    ] as const) {
      const r = named(...args);
      assert.equal(r.status, 1, why);
      assert.equal(r.stderr, `fleet: error: usage: x.sh --app A --git-url U (${why})\n`);
    }
  });

  it("derived identities pass the shell's checks; catalog names do not (the scripts never take a name as an identity)", () => {
    const check = (fn: string, value: string) =>
      spawnSync("sh", ["-eu", "-c", `here=$0; . "$here/lib.sh"; ${fn} "$1"`, ROLLOUT, value], { encoding: "utf8" }).status;
    for (const app of ["polls", "room-booking", "a-b-c", "deploy", "an-app-name-longer-than-twenty-six"]) {
      const id = appIdentity(app);
      assert.equal(check("check_os_user", id.osUser), 0, id.osUser);
      assert.equal(check("check_database", id.database), 0, id.database);
      assert.notEqual(check("check_os_user", app), 0, app);
      assert.notEqual(check("check_database", app), 0, app);
    }
    assert.equal(appIdentity("room-booking").database, "app_room_booking");
  });

  it("the committed node/rollout/lib-rules.sh is the one the TypeScript generates", () => {
    const committed = fs.readFileSync(RULES_LIBRARY_FILE, "utf8");
    assert.equal(committed, renderRulesLibrary(), "stale: run npm run generate");
    assert.match(committed.split("\n")[1], /^# generated by npm run generate; do not edit/);
  });

  it("every name in the platform's environment is reserved (a catalog value would be replaced)", () => {
    const env = platformEnv(
      sampleApps()[0],
      { engine: "postgres", host: "db", port: 5432, password: "pw" },
      "key",
      { bucket: "b", region: "eu-west-1" },
      true,
    );
    for (const name of Object.keys(env)) assert.ok(RESERVED_ENV.includes(name), `${name} is set by the platform but not reserved`);
    assert.ok(RESERVED_ENV.includes("SITE_URL"));
  });
});
