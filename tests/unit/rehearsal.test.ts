// The pure parts of `npm run rehearse` (testbed/rehearsal.ts): the per-tag catalog, asset links, the error line.
import { strict as assert } from "assert";
import { parse } from "yaml";
import {
  failureLine,
  linkedAssets,
  migrationsOf,
  rehearsalCatalog,
  RehearsalInputError,
  releaseLine,
  sitePath,
} from "../../testbed/rehearsal";
import type { ApplyResult, Ran } from "../../testbed/executor";
import { EMPTY_STATE } from "../../testbed/executor";

const CATALOG = `defaults:
  healthCheck: /healthz
apps:
  - name: wiki
    repo: uni-it/wiki
    domain: wiki.example.edu
    settings: wiki.settings
    wsgi: wiki.wsgi:application
    env: { WIKI_TITLE: "Wiki" }
    workers: 2
    tags: { production: "1.3", staging: v2 }
  - name: blog
    repo: uni-it/blog
    domain: blog.example.edu
    settings: mysite.settings
    wsgi: mysite.wsgi:application
    tags: {}
`;

describe("rehearse: the catalog of each rehearsed tag", () => {
  it("keeps the entry and the defaults as written, its tags replaced by the one tag on the local stack", () => {
    const c = rehearsalCatalog(CATALOG, "apps.yaml", "wiki");
    assert.equal(c.app.name, "wiki");
    assert.deepEqual(parse(c.catalogFor("1.4")), {
      defaults: { healthCheck: "/healthz" },
      apps: [
        {
          name: "wiki",
          repo: "uni-it/wiki",
          domain: "wiki.example.edu",
          settings: "wiki.settings",
          wsgi: "wiki.wsgi:application",
          env: { WIKI_TITLE: "Wiki" },
          workers: 2,
          tags: { alpha: "1.4" },
        },
      ],
    });
    // A numeric-looking tag stays a string in the text the program reads.
    assert.match(c.catalogFor("1.4"), /alpha: "1\.4"/);
  });

  it("refuses, in one line, several apps without --app, an unknown --app, and an invalid catalog", () => {
    assert.throws(
      () => rehearsalCatalog(CATALOG, "apps.yaml"),
      new RehearsalInputError("apps.yaml: has 2 apps (wiki, blog): pick one with --app"),
    );
    assert.throws(
      () => rehearsalCatalog(CATALOG, "apps.yaml", "news"),
      new RehearsalInputError('apps.yaml: no app named "news"; apps: wiki, blog'),
    );
    assert.throws(
      () =>
        rehearsalCatalog(
          CATALOG.replace("workers: 2", "workers: 99").replace("domain: blog.example.edu", "domain: Blog"),
          "apps.yaml",
          "wiki",
        ),
      (e: Error) =>
        e instanceof RehearsalInputError &&
        /^apps\.yaml:10:14: wiki\.workers: must be from 1 to 32 \(and 1 more: npm run check-apps -- apps\.yaml\)$/.test(e.message),
    );
    assert.throws(() => rehearsalCatalog("apps: []\n", "apps.yaml"), /apps\.yaml: has no apps/);
  });
});

describe("rehearse: the assets a page links", () => {
  const page = `<html><head>
<link rel="stylesheet" href="/static/css/site.3f2a.css"><link rel='icon' href='favicon.ico'>
<link rel="canonical" href="/"><link href="https://fonts.example.com/css?family=Roboto" rel="stylesheet">
<script src="/static/js/app.js?v=2&amp;x=1"></script><script>inline()</script>
</head><body><img src="//wiki.example.edu/media/logo.png" alt=""><img src=/static/img/a.png></body></html>`;

  it("takes stylesheets, icons, scripts and images, not other links", () => {
    assert.deepEqual(linkedAssets(page), [
      "/static/css/site.3f2a.css",
      "favicon.ico",
      "https://fonts.example.com/css?family=Roboto",
      "/static/js/app.js?v=2&x=1",
      "//wiki.example.edu/media/logo.png",
      "/static/img/a.png",
    ]);
  });

  it("keeps the site's own, resolved against the page; another site's are not fetched", () => {
    const own = linkedAssets(page).map((a) => sitePath(a, "http://wiki.example.edu/wiki/Main", "wiki.example.edu"));
    assert.deepEqual(own, [
      "/static/css/site.3f2a.css",
      "/wiki/favicon.ico",
      undefined,
      "/static/js/app.js?v=2&x=1",
      "/media/logo.png",
      "/static/img/a.png",
    ]);
    assert.equal(sitePath("data:image/png;base64,AAAA", "http://wiki.example.edu/", "wiki.example.edu"), undefined);
  });
});

describe("rehearse: the one-line reason of a failed release", () => {
  const ran = (name: string, ok: boolean, stderr: string): Ran => ({
    name,
    urn: name,
    op: "create",
    command: "",
    ok,
    stdout: "",
    stderr,
    ms: 1,
    failedDials: 0,
  });
  const result = (r: Ran[], skipped: string[] = []): ApplyResult => ({ state: EMPTY_STATE, ran: r, skipped, ok: false });

  it("is the script's own `fleet: error:` line, not the traceback's last line", () => {
    const stderr =
      "fleet: migrating\nTraceback (most recent call last):\n  File x\nfleet: error: migrating wiki to v2 failed: column x does not exist; no node was switched\n\tHINT: something\n";
    assert.equal(
      failureLine(result([ran("wiki-stage-node-1", true, ""), ran("wiki-expand", false, stderr)])),
      "migrating wiki to v2 failed: column x does not exist; no node was switched",
    );
  });

  it("else the failed step and its last line; else what did not run", () => {
    assert.equal(
      failureLine(result([ran("node-1-scripts-copy", false, "ssh: connect to host 10.0.0.1 port 22: Connection refused\n")])),
      "node-1-scripts-copy: ssh: connect to host 10.0.0.1 port 22: Connection refused",
    );
    assert.equal(
      failureLine(result([ran("node-1-scripts-copy", false, "")])),
      "node-1-scripts-copy: exited with an error and printed nothing",
    );
    assert.equal(failureLine(result([], ["wiki-switch-node-1"])), "not run, a step it depends on did not finish: wiki-switch-node-1");
  });
});

describe("rehearse: a release's migrations", () => {
  it("are the expand step's last `fleet-migrations:` line; no line, none known", () => {
    const out =
      'fleet: migrating\nfleet-migrations: {"app":"wiki","tag":"v2","migrations":[{"name":"wiki.0002_x","class":"unsafe","when":"refused","reason":"renames a column"}]}\nREFUSED wiki v2: ...\n';
    assert.deepEqual(migrationsOf(out), [{ name: "wiki.0002_x", class: "unsafe", when: "refused", reason: "renames a column" }]);
    assert.equal(migrationsOf("fleet: nothing to migrate\n"), undefined);
  });

  it("are summed up on the release's line: name, class, and the step that runs it", () => {
    const line = releaseLine({
      tag: "v2",
      ok: true,
      seconds: 3,
      requests: 10,
      failedRequests: 0,
      assets: { checked: 1, broken: 0 },
      error: null,
      serving: {},
      migrations: [
        { name: "wiki.0002_a", class: "before-switch", when: "expand" },
        { name: "wiki.0003_b", class: "after-switch", when: "contract" },
      ],
    });
    assert.equal(
      line,
      "v2: ok in 3 s; 10 requests, 0 failed, assets 1 checked, 0 broken; migrations: wiki.0002_a before-switch (expand), wiki.0003_b after-switch (contract)",
    );
  });
});
