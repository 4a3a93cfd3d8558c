import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/** The PostgreSQL the two-node tests use: trust auth on loopback, an existing database `test`. */
const HOST = process.env["BASALT_TEST_PG_HOST"] || "127.0.0.1";
const PORT = process.env["BASALT_TEST_PG_PORT"] || "5432";
const USER = process.env["BASALT_TEST_PG_USER"] || "postgres";
const ADMIN_DB = process.env["BASALT_TEST_PG_DB"] || "test";

/** In CI (BASALT_TEST_REQUIRE_POSTGRES=1) an unreachable PostgreSQL fails the tests instead of skipping them. */
export const REQUIRE_POSTGRES = process.env["BASALT_TEST_REQUIRE_POSTGRES"] === "1";

function psql(sql: string): string {
  return execFileSync("psql", ["-h", HOST, "-p", PORT, "-U", USER, "-d", ADMIN_DB, "-v", "ON_ERROR_STOP=1", "-tAc", sql], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 15_000,
  });
}

/** Null when PostgreSQL answers; else why not. */
export function postgresProblem(): string | null {
  try {
    return psql("SELECT 1").trim() === "1" ? null : "SELECT 1 did not answer 1";
  } catch (e) {
    const err = e as { stderr?: string; message?: string };
    return `PostgreSQL at ${HOST}:${PORT} is unreachable: ${(err.stderr || err.message || String(e)).trim()}`;
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): void;
}

/** A new, empty database for one test run (`basalt_sdk_<random>`), dropped by `drop()`. */
export function createDatabase(): TestDatabase {
  const name = `basalt_sdk_${randomBytes(6).toString("hex")}`;
  psql(`CREATE DATABASE ${name}`);
  return {
    name,
    url: `postgres://${USER}@${HOST}:${PORT}/${name}`,
    drop: () => {
      psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
