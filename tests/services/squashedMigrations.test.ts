// A squashed migration, as real apps have them (getpatchwork/patchwork: 0001_squashed_0040): applying
// it records the migrations it replaces too, so the release's known migrations (fleet_migrations.py
// `known`, what migrate.sh compares the database's applied ones with) must name them, or every
// contract after a first deploy reads the replaced rows as a newer release's and takes the
// release for a rollback. Debian's Django 3.2 on SQLite; no root needed.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const CLASSIFIER = path.join(__dirname, "..", "..", "node", "rollout", "fleet_migrations.py");
const PYTHON = "/usr/bin/python3";

const MODEL = `from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=100)
    size = models.IntegerField(null=True)
`;
const INITIAL = `from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [migrations.CreateModel(name="Item", fields=[("id", models.AutoField(primary_key=True, serialize=False)), ("name", models.CharField(max_length=100))])]
`;
const SECOND = `from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("squashed", "0001_initial")]
    operations = [migrations.AddField(model_name="item", name="size", field=models.IntegerField(null=True))]
`;
const SQUASH = `from django.db import migrations, models


class Migration(migrations.Migration):
    replaces = [("squashed", "0001_initial"), ("squashed", "0002_item_size")]
    initial = True
    dependencies = []
    operations = [migrations.CreateModel(name="Item", fields=[("id", models.AutoField(primary_key=True, serialize=False)), ("name", models.CharField(max_length=100)), ("size", models.IntegerField(null=True))])]
`;

/** A project with one app whose two migrations are squashed; `keepReplaced` false: the release
 *  that deleted the replaced files (what a squash's author does once every database has it). */
function project(keepReplaced: boolean): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-squash-"));
  const app = path.join(dir, "squashed");
  fs.mkdirSync(path.join(app, "migrations"), { recursive: true });
  fs.writeFileSync(path.join(app, "__init__.py"), "");
  fs.writeFileSync(path.join(app, "models.py"), MODEL);
  fs.writeFileSync(path.join(app, "migrations", "__init__.py"), "");
  fs.writeFileSync(path.join(app, "migrations", "0001_squashed_0002_item_size.py"), SQUASH);
  if (keepReplaced) {
    fs.writeFileSync(path.join(app, "migrations", "0001_initial.py"), INITIAL);
    fs.writeFileSync(path.join(app, "migrations", "0002_item_size.py"), SECOND);
  }
  fs.writeFileSync(
    path.join(dir, "settings.py"),
    `SECRET_KEY = "squash-test-only"\nINSTALLED_APPS = ["squashed"]\nDATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ${JSON.stringify(path.join(dir, "db.sqlite3"))}}}\n`,
  );
  return dir;
}

function run(dir: string, ...args: string[]): string[] {
  const r = spawnSync(PYTHON, [CLASSIFIER, ...args], {
    cwd: dir,
    env: { ...process.env, DJANGO_SETTINGS_MODULE: "settings", PYTHONPATH: dir },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean);
}

describe("a squashed migration (fleet_migrations.py known / applied)", function () {
  this.timeout(120000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  for (const keepReplaced of [true, false]) {
    it(`the code knows every migration the database records after the squash is applied (replaced files ${keepReplaced ? "kept" : "deleted"})`, () => {
      const dir = project(keepReplaced);
      dirs.push(dir);
      const known = run(dir, "known");
      assert.deepEqual(known, ["squashed.0001_initial", "squashed.0001_squashed_0002_item_size", "squashed.0002_item_size"]);
      run(dir, "migrate", "5", "60", "0", "forwards", "squashed.0001_squashed_0002_item_size");
      const applied = run(dir, "applied");
      assert.ok(
        applied.includes("squashed.0001_initial") && applied.includes("squashed.0002_item_size"),
        `Django records the replaced ones: ${applied.join(" ")}`,
      );
      assert.deepEqual(
        applied.filter((m) => !known.includes(m)),
        [],
        "applied but unknown to the release (read as a rollback)",
      );
    });
  }
});
