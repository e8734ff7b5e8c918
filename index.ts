// The fleet: one Pulumi program for every Django app of every stack.
//
// Thin wiring only: the catalog (apps.yaml) says which app runs which tag on this stack, the
// stack config says how big things are, and each component in components/ maps that onto AWS.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { appsForStack, loadCatalogFile } from "./components/catalog";
import { knownStacks } from "./components/stackFiles";

const config = new pulumi.Config();
const stack = pulumi.getStack();

function loadApps() {
  const file = config.get("appsFile") ?? "apps.yaml";
  const full = path.resolve(__dirname, file);
  // Messages name the file as a person would: relative inside the project, absolute outside it.
  const shown = full.startsWith(__dirname + path.sep) ? path.relative(__dirname, full) : full;
  const { catalog, errors } = loadCatalogFile(shown, { knownStacks: knownStacks(__dirname) });
  // RunError: Pulumi prints the message alone, without a stack trace.
  if (!catalog) throw new pulumi.RunError(errors.join("\n"));
  return appsForStack(catalog, stack);
}

const apps = loadApps();

/** Per app on this stack: the tag it is pinned to and where it answers. */
export const appReleases = Object.fromEntries(apps.map((a) => [a.name, { tag: a.tag, repo: a.repo, url: `https://${a.domain}/` }]));
