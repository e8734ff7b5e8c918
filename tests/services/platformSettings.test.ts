// The platform's settings module and error_line, run for real: Debian's Django (3.2) and
// django-storages with boto3 import the module over an app's own settings, as a release would.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { OVERRIDE_NAMES } from "../../config/catalog";

const ROLLOUT = path.join(__dirname, "..", "..", "node", "rollout");
const PYTHON = "/usr/bin/python3";

/** An app's own settings: hard-coded everything, as a laptop project has them. */
const APP_SETTINGS = `
SECRET_KEY = "committed"
DEBUG = False
ALLOWED_HOSTS = ["localhost"]
INSTALLED_APPS = ["django.contrib.staticfiles"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3", "CONN_MAX_AGE": 60}, "replica": {"ENGINE": "django.db.backends.sqlite3", "NAME": "r"}}
STATIC_URL = "/assets/"
STATIC_ROOT = "/nowhere"
STATICFILES_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
CSRF_TRUSTED_ORIGINS = ["other.example.edu"]
_private = 1
`;

const ENV = {
  FLEET_APP_SETTINGS: "mysite.settings",
  DJANGO_SETTINGS_MODULE: "fleet_platform_settings",
  DATABASE_URL: "mysql://polls:p%40ss@db.internal:3306/polls",
  ALLOWED_HOSTS: "polls.example.edu",
  STATIC_URL: "/static/",
  STATIC_ROOT: "/srv/polls/releases/v1/.fleet/static",
  SECRET_KEY: "platform-key",
  SITE_URL: "https://polls.example.edu",
  AWS_STORAGE_BUCKET_NAME: "uni-fleet-alpha-polls",
  AWS_S3_REGION_NAME: "eu-central-1",
};

/** The release's commit (stage.sh records it in .fleet/commit): its static files' URL. */
const COMMIT = "0123456789abcdef0123456789abcdef01234567";

const PRINT = `
import json, django
from django.conf import settings as s
django.setup()
import fleet_platform_settings as p
names = ["DATABASES", "ALLOWED_HOSTS", "STATIC_URL", "STATIC_ROOT", "SECRET_KEY", "SECURE_PROXY_SSL_HEADER", "CSRF_TRUSTED_ORIGINS", "DEFAULT_FILE_STORAGE", "STATICFILES_STORAGE", "AWS_STORAGE_BUCKET_NAME", "AWS_S3_REGION_NAME"]
print(json.dumps({"settings": {n: getattr(s, n, None) for n in names}, "set": p.platform_set, "notSet": p.platform_not_set, "private": hasattr(s, "_private")}))
`;

function release(overrides: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-platform-settings-"));
  fs.mkdirSync(path.join(dir, "mysite"));
  fs.mkdirSync(path.join(dir, ".fleet"));
  fs.writeFileSync(path.join(dir, "mysite", "__init__.py"), "");
  fs.writeFileSync(path.join(dir, "mysite", "settings.py"), APP_SETTINGS);
  fs.copyFileSync(path.join(ROLLOUT, "platform_settings_module.py"), path.join(dir, "fleet_platform_settings.py"));
  fs.writeFileSync(path.join(dir, ".fleet", "platform"), `overrides=${overrides.join(",") || "none"} deployChecks=warn healthCheck=/\n`);
  fs.writeFileSync(path.join(dir, ".fleet", "commit"), `${COMMIT}\n`);
  return dir;
}

interface Seen {
  settings: Record<string, unknown>;
  set: string[];
  notSet: string[];
  private: boolean;
}

function settingsOf(overrides: string[]): Seen {
  const dir = release(overrides);
  try {
    const r = spawnSync(PYTHON, ["-c", PRINT], { cwd: dir, env: { PATH: process.env.PATH, PYTHONPATH: dir, ...ENV }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Seen;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("the platform's settings module over an app's own settings (Django 3.2, django-storages)", () => {
  it("sets the database, hosts, static, key, proxy and media in S3; keeps the app's other settings", () => {
    const seen = settingsOf([...OVERRIDE_NAMES]);
    const db = seen.settings.DATABASES as Record<string, Record<string, unknown>>;
    assert.deepEqual(
      {
        ENGINE: db.default.ENGINE,
        NAME: db.default.NAME,
        USER: db.default.USER,
        PASSWORD: db.default.PASSWORD,
        HOST: db.default.HOST,
        PORT: db.default.PORT,
        OPTIONS: db.default.OPTIONS,
        CONN_MAX_AGE: db.default.CONN_MAX_AGE,
      },
      {
        ENGINE: "django.db.backends.mysql",
        NAME: "polls",
        USER: "polls",
        PASSWORD: "p@ss",
        HOST: "db.internal",
        PORT: "3306",
        OPTIONS: { charset: "utf8mb4" },
        CONN_MAX_AGE: 60,
      },
    );
    assert.equal(db.replica.NAME, "r", "the app's other databases stay");
    assert.deepEqual(seen.settings.ALLOWED_HOSTS, ["polls.example.edu"]);
    assert.equal(seen.settings.STATIC_URL, `/static/${COMMIT}/`, "each release's files have a URL of their own");
    assert.equal(seen.settings.STATIC_ROOT, ENV.STATIC_ROOT);
    assert.equal(seen.settings.SECRET_KEY, "platform-key");
    assert.deepEqual(seen.settings.SECURE_PROXY_SSL_HEADER, ["HTTP_X_FORWARDED_PROTO", "https"]);
    assert.deepEqual(seen.settings.CSRF_TRUSTED_ORIGINS, ["other.example.edu", "polls.example.edu"], "Django 3.2 takes hosts, not origins");
    assert.equal(seen.settings.DEFAULT_FILE_STORAGE, "storages.backends.s3boto3.S3Boto3Storage");
    assert.equal(
      seen.settings.STATICFILES_STORAGE,
      "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
      "the app's static storage stays",
    );
    assert.equal(seen.settings.AWS_STORAGE_BUCKET_NAME, "uni-fleet-alpha-polls");
    assert.equal(seen.settings.AWS_S3_REGION_NAME, "eu-central-1");
    assert.equal(seen.private, false, "names starting with _ are not imported (as with import *)");
    assert.deepEqual(seen.notSet, []);
  });

  it("an override turned off leaves the app's own value and says so", () => {
    const seen = settingsOf(OVERRIDE_NAMES.filter((o) => o !== "hosts" && o !== "storage"));
    assert.deepEqual(seen.settings.ALLOWED_HOSTS, ["localhost"]);
    assert.equal(seen.settings.DEFAULT_FILE_STORAGE, "django.core.files.storage.FileSystemStorage");
    assert.ok(!seen.set.includes("ALLOWED_HOSTS") && !seen.set.includes("DEFAULT_FILE_STORAGE"));
    assert.deepEqual(seen.notSet, ["hosts (overrides.hosts: false)", "storage (overrides.storage: false)"]);
    assert.equal(seen.settings.STATIC_URL, `/static/${COMMIT}/`);
    const none = settingsOf([]);
    assert.equal(none.settings.STATIC_URL, "/assets/", "overrides.static off: the app's own STATIC_URL");
    assert.deepEqual(none.set, []);
    assert.equal(none.settings.SECRET_KEY, "committed");
  });
});

describe("error_line (lib.sh): a failed command's error, not a hint or a traceback's frames", () => {
  const errorLine = (output: string) =>
    spawnSync("sh", ["-c", `here=.; . ./lib.sh; error_line`], { cwd: ROLLOUT, input: output, encoding: "utf8" }).stdout.trim();

  it("takes psycopg2's error, not its tab-indented hint", () => {
    const out =
      'Traceback (most recent call last):\n  File "x", line 1\ndjango.db.utils.OperationalError: connection to server at "10.0.0.1", port 5432 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?\n';
    assert.equal(
      errorLine(out),
      'django.db.utils.OperationalError: connection to server at "10.0.0.1", port 5432 failed: Connection refused',
    );
  });

  it("takes the last exception of a chained traceback; a bare exception name; else the last unindented line", () => {
    const chained =
      'Running migrations:\n  Applying polls.0003...\nTraceback (most recent call last):\n  File "a"\npsycopg2.errors.UndefinedColumn: column "h" does not exist\n\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):\n  File "b"\ndjango.db.utils.ProgrammingError: column "h" does not exist\n';
    assert.equal(errorLine(chained), 'django.db.utils.ProgrammingError: column "h" does not exist');
    assert.equal(errorLine('Traceback (most recent call last):\n  File "w"\nRuntimeError\n'), "RuntimeError");
    assert.equal(errorLine("something broke\n  detail\n"), "something broke");
  });
});

describe("pip_no_index (lib.sh, pipMode system): a requirement no installed package provides names the Debian package", () => {
  it("pip's `No matching distribution` becomes the cause and the fix: python3-NAME or pipMode index", function () {
    this.timeout(120000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-pip-"));
    try {
      assert.equal(spawnSync(PYTHON, ["-m", "venv", "--system-site-packages", path.join(dir, "venv")]).status, 0);
      // Django is Debian's (installed); the other is in no Debian package this machine has.
      fs.writeFileSync(path.join(dir, "requirements.txt"), "Django\nFleet_No_Such.Package==0.5.0\n");
      const r = spawnSync(
        "sh",
        [
          "-c",
          `here=.; . ./lib.sh; APP_NAME=polls tag=v1; pip_no_index "$0/bin/pip" install --quiet --no-index -r "$1"`,
          path.join(dir, "venv"),
          path.join(dir, "requirements.txt"),
        ],
        { cwd: ROLLOUT, encoding: "utf8" },
      );
      assert.notEqual(r.status, 0);
      assert.equal(
        r.stderr.trim().split("\n").pop(),
        "fleet: error: polls v1: no Python package on this node provides Fleet_No_Such.Package==0.5.0 (fleet:deploy.pipMode system installs from the machine's packages only): install Debian's python3-fleet-no-such-package on the nodes, or set fleet:deploy.pipMode to index",
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
