// `npm run tags`: every app's pinned tag beside the newest release tag on GitHub, for every
// stack in one go (one tag listing per app, all apps in parallel).
import type { Catalog } from "../config/catalog";
import { LATEST } from "../config/catalog";
import { GithubClient, parseRepo } from "./api";
import type { TagEdit } from "./catalogEdit";
import { compareTags, newestVersion } from "./versions";

export type TagStatus = "current" | "behind" | "ahead" | "latest" | "not a version" | "no release tags" | "error";

export interface TagRow {
  app: string;
  stack: string;
  pinned: string;
  /** The newest release tag for this stack (pre-releases only where the stack takes them). */
  newest?: string;
  status: TagStatus;
  /** Why newest is missing, when GitHub failed for this app (one line). */
  error?: string;
}

export interface StackRule {
  stack: string;
  prerelease: boolean;
}

function status(pinned: string, newest: string | undefined): TagStatus {
  if (!newest) return "no release tags";
  if (pinned === LATEST) return "latest";
  const order = compareTags(pinned, newest);
  return order === "unknown" ? "not a version" : order;
}

/** One row per (app, stack the app runs on), in catalog order; GitHub failures become rows too. */
export async function tagRows(catalog: Catalog, stacks: StackRule[], client: GithubClient): Promise<TagRow[]> {
  const perApp = await Promise.all(
    catalog.apps.map(async (app) => {
      const runsOn = stacks.filter((s) => app.tags[s.stack] !== undefined);
      if (runsOn.length === 0) return [];
      let tags: string[];
      try {
        tags = await client.listTags(parseRepo(app.repo), app.name);
      } catch (err) {
        return runsOn.map((s): TagRow => ({
          app: app.name,
          stack: s.stack,
          pinned: app.tags[s.stack],
          status: "error",
          error: (err as Error).message,
        }));
      }
      return runsOn.map((s): TagRow => {
        const newest = newestVersion(tags, { prerelease: s.prerelease });
        return { app: app.name, stack: s.stack, pinned: app.tags[s.stack], newest, status: status(app.tags[s.stack], newest) };
      });
    }),
  );
  return perApp.flat();
}

/** The edits `--pin` makes: every row whose newest tag differs from what is written. */
export function pinEdits(rows: TagRow[]): TagEdit[] {
  return rows
    .filter((r) => r.newest !== undefined && r.newest !== r.pinned)
    .map((r) => ({ app: r.app, stack: r.stack, tag: r.newest as string }));
}

/** The rows as an aligned table; failures as "app: message" lines below it. */
export function renderRows(rows: TagRow[]): string {
  const table = [["APP", "STACK", "PINNED", "NEWEST", "STATUS"], ...rows.map((r) => [r.app, r.stack, r.pinned, r.newest ?? "-", r.status])];
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  const lines = table.map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]))).join("  "));
  const errors = [...new Set(rows.flatMap((r) => (r.error ? [r.error] : [])))];
  return [...lines, ...errors].join("\n");
}
