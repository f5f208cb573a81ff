import { and, asc, eq, type SQL } from "drizzle-orm";
import type { Integration } from "../domain/integration.js";
import type { Db } from "./client.js";
import { guardDatabase } from "./errors.js";
import { integrations } from "./schema.js";
import { iso } from "./timestamps.js";

/** Which integrations a list reads; each criterion given must hold. */
export type IntegrationFilter = {
  sourceServiceId?: string;
  targetServiceId?: string;
  integrationType?: string;
};

/** What an update may change: every field but the id and the creation time. */
export type IntegrationChanges = Partial<Omit<Integration, "id" | "createdAt" | "updatedAt">> & {
  updatedAt: string;
};

/** Integrations between registered services, in PostgreSQL (or PGlite). */
export function createIntegrationRepository(db: Db) {
  return {
    insert: (integration: Integration) =>
      guardDatabase(async (): Promise<Integration> => {
        const [row] = await db.insert(integrations).values(integration).returning();
        return toIntegration(row as typeof integrations.$inferSelect);
      }),

    get: (id: string) =>
      guardDatabase(async (): Promise<Integration | null> => {
        const [row] = await db.select().from(integrations).where(eq(integrations.id, id));
        return row ? toIntegration(row) : null;
      }),

    /** Oldest first (ties by id), so a list reads the same twice. */
    list: (filter: IntegrationFilter) =>
      guardDatabase(async (): Promise<Integration[]> => {
        const conditions: SQL[] = [];
        if (filter.sourceServiceId !== undefined) {
          conditions.push(eq(integrations.sourceServiceId, filter.sourceServiceId));
        }
        if (filter.targetServiceId !== undefined) {
          conditions.push(eq(integrations.targetServiceId, filter.targetServiceId));
        }
        if (filter.integrationType !== undefined) {
          conditions.push(eq(integrations.integrationType, filter.integrationType));
        }
        const rows = await db
          .select()
          .from(integrations)
          .where(and(...conditions))
          .orderBy(asc(integrations.createdAt), asc(integrations.id));
        return rows.map(toIntegration);
      }),

    /** The updated row, or null for an unknown id. */
    update: (id: string, changes: IntegrationChanges) =>
      guardDatabase(async (): Promise<Integration | null> => {
        const [row] = await db
          .update(integrations)
          .set(changes)
          .where(eq(integrations.id, id))
          .returning();
        return row ? toIntegration(row) : null;
      }),

    /** Whether there was such an integration. */
    delete: (id: string) =>
      guardDatabase(async (): Promise<boolean> => {
        const rows = await db
          .delete(integrations)
          .where(eq(integrations.id, id))
          .returning({ id: integrations.id });
        return rows.length > 0;
      }),
  };
}

export type IntegrationRepository = ReturnType<typeof createIntegrationRepository>;

function toIntegration(row: typeof integrations.$inferSelect): Integration {
  return { ...row, createdAt: iso(row.createdAt), updatedAt: iso(row.updatedAt) };
}
