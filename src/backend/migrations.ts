import { createHash } from "node:crypto";
import { OffloadError } from "../errors.js";

/** A numbered, forward-only schema change of one engine. */
export interface Migration {
  name: string;
  sql: string;
  version: number;
}

/** A migration as recorded in the database's `offload_migrations` table. */
export interface AppliedMigration {
  checksum: string;
  version: number;
}

export function migrationChecksum(migration: Migration): string {
  return createHash("sha256").update(migration.sql).digest("hex");
}

/**
 * Decides which migrations to apply, refusing a database that is newer than
 * the code or whose recorded history differs from the code's (a changed
 * migration would otherwise silently leave two schemas called the same).
 */
export function planMigrations(known: readonly Migration[], applied: readonly AppliedMigration[]): Migration[] {
  const newest = known.reduce((max, m) => Math.max(max, m.version), 0);
  for (const row of applied) {
    if (row.version > newest) {
      throw new OffloadError(
        "OFFLOAD_ERR_MIGRATION",
        `The database schema is at version ${Math.max(...applied.map((a) => a.version))}, newer than this version of Offload knows (${newest}). Upgrade Offload before running it against this database.`,
      );
    }
    const migration = known.find((m) => m.version === row.version);
    if (!migration || migrationChecksum(migration) !== row.checksum) {
      throw new OffloadError(
        "OFFLOAD_ERR_MIGRATION",
        `Migration ${row.version} recorded in the database differs from the one in this version of Offload (checksum mismatch). Refusing to run against a schema of unknown shape.`,
      );
    }
  }
  const done = new Set(applied.map((a) => a.version));
  return known.filter((m) => !done.has(m.version)).sort((a, b) => a.version - b.version);
}
