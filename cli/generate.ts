// npm run generate (and npm run schema): writes the files generated from the TypeScript, each
// rule's single source: apps.schema.json from the catalog's schema (config/catalog.ts), and
// node/rollout/lib-rules.sh from the patterns and the remote layout (config/patterns.ts,
// rollout/layout.ts). `--check` writes nothing and exits 1 when a committed file is stale.
import * as fs from "fs";
import * as path from "path";
import { catalogJsonSchema } from "../config/catalog";
import { projectDir } from "../config/stackFiles";
import { renderRulesLibrary, RULES_LIBRARY_FILE } from "../render/rulesLibrary";

const generated: { file: string; text: () => string }[] = [
  { file: path.join(projectDir(), "apps.schema.json"), text: () => `${JSON.stringify(catalogJsonSchema(), null, 2)}\n` },
  { file: RULES_LIBRARY_FILE, text: renderRulesLibrary },
];

const check = process.argv.includes("--check");
for (const { file, text } of generated) {
  const wanted = text();
  const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  if (current === wanted) continue;
  if (check) {
    process.stderr.write(
      `${path.relative(process.cwd(), file)}: out of date with the TypeScript it is generated from; run: npm run generate\n`,
    );
    process.exitCode = 1;
  } else {
    fs.writeFileSync(file, wanted);
  }
}
