/** The argument lists of `webencode-kernel admin backup/restore` (src/kernel/backup-command.ts). */
import { describe, expect, test } from "bun:test";
import { defaultBackupName, pgDumpArgs, pgRestoreArgs, tarCreateArgs, tarExtractArgs } from "../../src/kernel/backup-command.ts";

describe("backup arguments", () => {
  const url = "postgres://we:pw@db1:5432,db2:5432/webencode?target_session_attrs=read-write";
  test("pg_dump: custom format of the whole database, no owners (restorable by another role)", () => {
    expect(pgDumpArgs(url, "/b/x.pgdump")).toEqual(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", "/b/x.pgdump", "--dbname", url]);
  });
  test("pg_restore: clean first, one transaction, stop at the first error", () => {
    expect(pgRestoreArgs(url, "/b/x.pgdump")).toEqual(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", "--dbname", url, "/b/x.pgdump"]);
  });
  test("tar: only the named DATA_DIR entries, relative to DATA_DIR", () => {
    expect(tarCreateArgs("/var/lib/webencode", "/b/s.tar.gz", ["pgdata", "secret.key"])).toEqual(["tar", "--create", "--gzip", "--file", "/b/s.tar.gz", "--directory", "/var/lib/webencode", "pgdata", "secret.key"]);
    expect(tarExtractArgs("/var/lib/webencode", "/b/s.tar.gz")).toEqual(["tar", "--extract", "--gzip", "--file", "/b/s.tar.gz", "--directory", "/var/lib/webencode"]);
  });
  test("default names carry the mode and a sortable UTC time", () => {
    const now = new Date("2026-12-05T03:04:05.678Z");
    expect(defaultBackupName("postgres", now)).toBe("webencode-20261205T030405Z.pgdump");
    expect(defaultBackupName("standalone", now)).toBe("webencode-standalone-20261205T030405Z.tar.gz");
  });
});
