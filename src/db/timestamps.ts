/**
 * Timestamps as the gateway speaks them: ISO 8601 in UTC with milliseconds. node-postgres
 * and PGlite hand `timestamptz` columns back in PostgreSQL's own text form.
 */
export function iso(value: string): string {
  return new Date(value).toISOString();
}

export function isoOrNull(value: string | null): string | null {
  return value === null ? null : iso(value);
}
