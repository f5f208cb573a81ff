import { asc, eq, gt, sql } from "drizzle-orm";
import type { Role } from "../domain/access.js";
import type { Db } from "./client.js";
import { guardDatabase } from "./errors.js";
import { apiTokens } from "./schema.js";
import { iso, isoOrNull } from "./timestamps.js";

/** An API token as stored: everything but the secret, which is kept only as its hash. */
export type StoredApiToken = {
  id: string;
  name: string;
  role: Role;
  serviceTypes: string[] | null;
  secretHash: string;
  createdBy: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  updatedAt: string;
};

/** Tokens made with createApiToken; the gateway keeps them in memory and reads changes. */
export function createApiTokenRepository(db: Db) {
  return {
    insert: (token: StoredApiToken) =>
      guardDatabase(async () => {
        await db.insert(apiTokens).values(token);
      }),

    /** Marks a token revoked; the revoked row, or null for an unknown id. */
    revoke: (id: string, at: string) =>
      guardDatabase(async (): Promise<StoredApiToken | null> => {
        const [row] = await db
          .update(apiTokens)
          // A token revoked twice keeps its first revocation time.
          .set({ revokedAt: sql`coalesce(${apiTokens.revokedAt}, ${at})`, updatedAt: at })
          .where(eq(apiTokens.id, id))
          .returning();
        return row ? toToken(row) : null;
      }),

    /** Every token changed after `since` (all of them for null), oldest change first. */
    changedSince: (since: string | null) =>
      guardDatabase(async (): Promise<StoredApiToken[]> => {
        const rows = await db
          .select()
          .from(apiTokens)
          .where(since === null ? undefined : gt(apiTokens.updatedAt, since))
          .orderBy(asc(apiTokens.updatedAt));
        return rows.map(toToken);
      }),
  };
}

export type ApiTokenRepository = ReturnType<typeof createApiTokenRepository>;

function toToken(row: typeof apiTokens.$inferSelect): StoredApiToken {
  return {
    ...row,
    role: row.role as Role,
    createdAt: iso(row.createdAt),
    expiresAt: isoOrNull(row.expiresAt),
    revokedAt: isoOrNull(row.revokedAt),
    updatedAt: iso(row.updatedAt),
  };
}
