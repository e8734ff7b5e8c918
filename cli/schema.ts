// npm run schema: writes apps.schema.json from the catalog's schema (the single source of truth).
// `npm run schema -- --check` exits 1 when the committed file is stale.
import * as fs from "fs";
import * as path from "path";
import { catalogJsonSchema } from "../config/catalog";
import { projectDir } from "../config/stackFiles";

const file = path.join(projectDir(), "apps.schema.json");
const text = `${JSON.stringify(catalogJsonSchema(), null, 2)}\n`;
if (process.argv.includes("--check")) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  if (current !== text) {
    process.stderr.write(`${file}: out of date with config/catalog.ts; run: npm run schema\n`);
    process.exitCode = 1;
  }
} else {
  fs.writeFileSync(file, text);
}
