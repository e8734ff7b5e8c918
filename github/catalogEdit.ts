// Changing tags in apps.yaml without touching anything else: every comment, blank line, quote
// style and indentation stays byte for byte. Pure (text in, text out).
//
// yaml's Document API finds each value's node and its exact source range; the new value is
// spliced into the original text there. Re-serialising the document (doc.toString()) would
// normalise spacing before comments and the like, and a release must be a one-line diff.
import { isScalar, isSeq, parseDocument, Scalar } from "yaml";
import type { Document } from "yaml";

export interface TagEdit {
  app: string;
  stack: string;
  tag: string;
}

export interface LineChange {
  /** 1-based line number (the same before and after: a tag edit never adds or removes lines). */
  line: number;
  before: string;
  after: string;
}

export class CatalogEditError extends Error {
  override name = "CatalogEditError";
}

function load(text: string, file: string): Document.Parsed {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) throw new CatalogEditError(`${file}: invalid YAML: ${doc.errors[0].message.split("\n")[0]}`);
  return doc;
}

/** The index of the app in `apps:`, or a one-line refusal naming the known apps. */
function appIndex(doc: Document.Parsed, app: string, file: string): number {
  const apps = doc.get("apps", true);
  const names = isSeq(apps) ? apps.items.map((item) => String((item as { get?: (k: string) => unknown }).get?.("name") ?? "")) : [];
  const i = names.indexOf(app);
  if (i < 0) throw new CatalogEditError(`${file}: unknown app "${app}"; apps: ${names.join(", ") || "(none)"}`);
  return i;
}

/** `tag` as YAML in the style of the value it replaces, so the line keeps its look. */
function render(tag: string, style: Scalar["type"]): string {
  if (style === Scalar.QUOTE_SINGLE) return `'${tag.replace(/'/g, "''")}'`;
  if (style === Scalar.QUOTE_DOUBLE) return JSON.stringify(tag);
  // A plain scalar that YAML would read back as something else (1.10 is a number) gets quoted.
  const probe = parseDocument(`x: ${tag}\n`);
  return probe.errors.length === 0 && probe.get("x") === tag ? tag : JSON.stringify(tag);
}

/** The source range of apps[i].tags[stack]'s value, and the text to put there. */
function locate(doc: Document.Parsed, text: string, file: string, edit: TagEdit): { start: number; end: number; value: string } {
  const i = appIndex(doc, edit.app, file);
  const node = doc.getIn(["apps", i, "tags", edit.stack], true);
  if (node === undefined) throw new CatalogEditError(`${file}: ${edit.app} has no tag for stack "${edit.stack}" (it does not run there)`);
  if (
    !isScalar(node) ||
    !node.range ||
    typeof node.value !== "string" ||
    node.type === Scalar.BLOCK_FOLDED ||
    node.type === Scalar.BLOCK_LITERAL
  ) {
    throw new CatalogEditError(`${file}: ${edit.app}.tags.${edit.stack}: is not a plain or quoted string; edit it by hand`);
  }
  const [start, end] = node.range;
  if (text.slice(start, end).includes("\n"))
    throw new CatalogEditError(`${file}: ${edit.app}.tags.${edit.stack}: spans lines; edit it by hand`);
  return { start, end, value: render(edit.tag, node.type) };
}

/**
 * Sets each (app, stack) tag. Refuses (CatalogEditError) an unknown app, a stack the app has
 * no tag for, or a value it cannot edit in place. The result is re-read and checked: it must
 * mean exactly the old document with those values changed.
 */
export function setTags(text: string, file: string, edits: TagEdit[]): string {
  const doc = load(text, file);
  const splices = edits.map((e) => locate(doc, text, file, e)).sort((a, b) => b.start - a.start);
  let out = text;
  for (const s of splices) out = out.slice(0, s.start) + s.value + out.slice(s.end);

  const expected = doc.toJS() as { apps: { tags: Record<string, string> }[] };
  for (const e of edits) expected.apps[appIndex(doc, e.app, file)].tags[e.stack] = e.tag;
  if (JSON.stringify(load(out, file).toJS()) !== JSON.stringify(expected)) {
    throw new CatalogEditError(`${file}: editing the tags in place would change more than the tags; edit it by hand`);
  }
  return out;
}

/** The lines that differ between two versions of a file with the same number of lines. */
export function changedLines(before: string, after: string): LineChange[] {
  const a = before.split("\n");
  const b = after.split("\n");
  if (a.length !== b.length) throw new CatalogEditError(`the edit changed the number of lines (${a.length} -> ${b.length})`);
  return a.flatMap((line, i) => (line === b[i] ? [] : [{ line: i + 1, before: line, after: b[i] }]));
}

/** A unified diff of line changes (one hunk per changed line, no context), as `git diff -U0` prints it. */
export function renderDiff(file: string, changes: LineChange[]): string {
  const hunks = changes.map((c) => `@@ -${c.line} +${c.line} @@\n-${c.before}\n+${c.after}`);
  return [`--- a/${file}`, `+++ b/${file}`, ...hunks].join("\n");
}
