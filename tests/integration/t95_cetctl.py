#!/usr/bin/env python3
"""Integration tests of cetctl (python3 stdlib only).

usage: t95_cetctl.py [PART ...]   (CTest runs it as int.t95_cetctl)
The binary comes from $CETCTL, else $CET_BUILD_DIR/tools/cetctl.
PART: demo_check, determinism, roundtrip, bad_import, bench_prep, corrupt, staff
(all when none is given). Each part works in its own temporary directory and
runs the real binary against real LMDB environments.
"""
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile

CETCTL = None
FAILURES = []


def run(*args, ok=True, stdin=None):
    """Runs cetctl; returns (exit code, stdout, stderr) as text."""
    p = subprocess.run([CETCTL, *args], capture_output=True, text=True, input=stdin,
                       timeout=600)
    if ok and p.returncode != 0:
        raise AssertionError(f"cetctl {' '.join(args)} exited {p.returncode}:\n{p.stderr}\n{p.stdout}")
    return p.returncode, p.stdout, p.stderr


def expect(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def demo(tmp, name, n=2000, seed=7):
    d = os.path.join(tmp, name)
    run("demo", "--data", d, "--candidates", str(n), "--seed", str(seed))
    return d


def export(d, kind):
    return run("export", kind, "--data", d)[1]


def write(path, text):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def part_demo_check(tmp):
    d = demo(tmp, "d")
    rc, out, _ = run("check", "--data", d, ok=False)
    expect(rc == 0 and "check: ok" in out, f"check of a fresh demo passes (rc {rc}):\n{out}")
    _, stats, _ = run("stats", "--data", d)
    expect("roster records       2000" in stats, "stats counts 2000 roster records")
    expect("2026年下半年CET考试" in stats, "stats names the sitting")
    regs = export(d, "registrations").splitlines()
    header = regs[0].split(",")
    for col in ("id_number", "subject", "campus", "state", "created_at"):
        expect(col in header, f"registrations export has column {col}")
    # a second demo into the same directory is refused
    rc, _, err = run("demo", "--data", d, ok=False)
    expect(rc != 0 and "already holds data" in err, "demo refuses a directory with data")


def part_determinism(tmp):
    a, b, c = demo(tmp, "a", seed=3), demo(tmp, "b", seed=3), demo(tmp, "c", seed=4)
    ra, rb, rc_ = export(a, "roster"), export(b, "roster"), export(c, "roster")
    expect(ra == rb, "same seed, same roster")
    expect(ra != rc_, "another seed, another roster")
    expect(export(a, "scores") == export(b, "scores"), "same seed, same scores")
    rows = list(csv.DictReader(io.StringIO(ra)))
    expect(len(rows) == 2000, "2000 roster rows exported")
    expect(all(r["id_type"] in ("mainland", "taiwan", "hkmo_permit", "passport", "hongkong",
                                "macao") for r in rows), "only API id type names")
    mainland = [r for r in rows if r["id_type"] == "mainland"]
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    bad = [r["id_number"] for r in mainland
           if "10X98765432"[sum(int(x) * y for x, y in zip(r["id_number"][:17], w)) % 11]
           != r["id_number"][17]]
    expect(not bad, f"every mainland ID has its check character ({bad[:3]})")
    expect(len(mainland) > 1800, "most candidates hold a mainland ID")


def part_roundtrip(tmp):
    d1 = demo(tmp, "d1")
    files = {}
    for kind in ("sitting", "campuses", "roster", "scores"):
        files[kind] = os.path.join(tmp, kind + ".csv")
        write(files[kind], export(d1, kind))
    d2 = os.path.join(tmp, "d2")
    for kind in ("sitting", "campuses", "roster", "scores"):
        run("import", kind, "--data", d2, files[kind])
    for kind in ("sitting", "campuses", "roster", "scores"):
        expect(export(d2, kind) == open(files[kind], encoding="utf-8").read(),
               f"{kind}: export -> import into a fresh dir -> export is identical")
    # importing the same roster again changes nothing (upsert, same roster numbers)
    run("import", "roster", "--data", d2, files["roster"])
    expect(export(d2, "roster") == open(files["roster"], encoding="utf-8").read(),
           "a second roster import is idempotent")
    rc, out, _ = run("check", "--data", d2, ok=False)
    expect(rc == 0, f"check passes after the imports:\n{out}")
    # quoting: a name with a comma and a quote survives the round trip
    rows = list(csv.reader(io.StringIO(open(files["roster"], encoding="utf-8").read())))
    rows[1][14] = 'say "hi", ok'
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    write(files["roster"], buf.getvalue())
    run("import", "roster", "--data", d2, files["roster"])
    back = list(csv.reader(io.StringIO(export(d2, "roster"))))
    expect(back[1][14] == 'say "hi", ok', "RFC 4180 quoting round-trips")


# docs/rules.md#R7
def part_bad_import(tmp):
    d1 = demo(tmp, "d1")
    good = export(d1, "roster")
    lines = good.split("\n")
    # physical line numbers: the header is line 1, lines[i] is line i + 1
    f = lines[4].split(",")
    f[1] = f[1][:-1] + ("0" if f[1][-1] != "0" else "1")  # line 5: wrong check digit
    lines[4] = ",".join(f)
    f = lines[8].split(",")
    f[5] = "100139"  # line 9: no such campus
    lines[8] = ",".join(f)
    f = lines[11].split(",")
    f[0] = "military"  # line 12: refused ID type
    lines[11] = ",".join(f)
    lines[14] = lines[2]  # line 15: duplicate of line 3
    f = lines[20].split(",")
    f[4] = "99101"  # line 21: campus of another school
    lines[20] = ",".join(f)
    bad = os.path.join(tmp, "bad.csv")
    write(bad, "\n".join(lines))
    before = export(d1, "roster")
    rc, _, err = run("import", "roster", "--data", d1, bad, ok=False)
    expect(rc == 1, f"a bad import exits 1 (got {rc})")
    for line, word in ((5, "check digit"), (9, "campus 100139"), (12, "military"),
                       (15, "line 3"), (21, "belongs to school")):
        expect(f"bad.csv:{line}:" in err and word in err,
               f"line {line} reported with '{word}':\n{err}")
    expect("nothing applied" in err, "the summary says nothing was applied")
    expect(export(d1, "roster") == before, "a failed import leaves the roster unchanged")
    # into a fresh directory: still nothing, not even partial rows
    d3 = os.path.join(tmp, "d3")
    rc, _, _ = run("import", "roster", "--data", d3, bad, ok=False)
    expect(rc == 1, "bad import into an empty dir fails")
    expect(export(d3, "roster").count("\n") == 1, "the empty dir stays empty (header only)")
    # malformed CSV and wrong headers
    write(bad, 'ticket,id_number,name,score,year\n"100130241100101,x\n')
    rc, _, err = run("import", "scores", "--data", d1, bad, ok=False)
    expect(rc == 1 and "bad.csv:2:" in err, f"an unterminated quote is reported:\n{err}")
    write(bad, "ticket,id_number,nam,score,year\n")
    rc, _, err = run("import", "scores", "--data", d1, bad, ok=False)
    expect(rc == 1 and "unknown column 'nam'" in err, f"an unknown column is reported:\n{err}")
    write(bad, "ticket,id_number,name,score,year\n100130041100101,11010519491231002X,张三,500,2005\n")
    rc, _, err = run("import", "scores", "--data", d1, bad, ok=False)
    expect(rc == 1 and "bad.csv:2:" in err and "year" in err, f"ticket year mismatch:\n{err}")


def part_bench_prep(tmp):
    d = demo(tmp, "d")
    out = os.path.join(tmp, "tokens.tsv")
    run("bench-prep", "--data", d, "--candidates", "300", "--out", out)
    rows = [l.split("\t") for l in open(out, encoding="utf-8").read().splitlines()]
    expect(len(rows) == 300, f"300 token lines ({len(rows)})")
    expect(all(len(r) == 7 and len(r[0]) == 64 for r in rows), "7 fields, 64-hex tokens")
    expect(len({r[0] for r in rows}) == 300, "tokens are unique")
    expect(rows[0][1] == "bench1@bench.test", f"emails follow roster_no ({rows[0][1]})")
    rc, outp, _ = run("check", "--data", d, ok=False)
    expect(rc == 0, f"check passes after bench-prep:\n{outp}")
    cands = export(d, "candidates").splitlines()
    expect(len(cands) == 301, f"300 candidates exported ({len(cands) - 1})")
    # the next run takes the next unbound records
    run("bench-prep", "--data", d, "--candidates", "100", "--out", out)
    rows2 = [l.split("\t") for l in open(out, encoding="utf-8").read().splitlines()]
    expect(rows2[0][1] == "bench301@bench.test", f"a second run continues ({rows2[0][1]})")
    expect(run("check", "--data", d, ok=False)[0] == 0, "check passes after a second run")


# docs/rules.md#R8, docs/rules.md#R15, docs/rules.md#R16, docs/rules.md#R17, docs/rules.md#R19
def part_corrupt(tmp):
    d = demo(tmp, "d")
    out = os.path.join(tmp, "tokens.tsv")
    run("bench-prep", "--data", d, "--candidates", "200", "--out", out)
    expect(run("check", "--data", d, ok=False)[0] == 0, "check passes before corruption")
    for what, kind in (("overbook", "capacity"), ("one-per-level", "one_per_level"),
                       ("oral-alone", "oral_without_written"), ("orphan-hold", "hold_orphan"),
                       ("missing-hold", "hold_missing"), ("unbind", "binding"),
                       ("roster-index", "roster_index"), ("email-index", "email_index")):
        c = os.path.join(tmp, "c-" + what)
        # cp keeps data.mdb sparse (the map size makes it 8 GiB long, mostly holes)
        subprocess.run(["cp", "-a", "--sparse=always", d, c], check=True)
        run("debug-corrupt", "--data", c, "--what", what)
        rc, outp, _ = run("check", "--data", c, ok=False)
        expect(rc == 1, f"check fails on {what} (rc {rc})")
        expect(f"\n{kind}: " in "\n" + outp, f"check names {kind} for {what}:\n{outp}")
        expect("check: FAILED" in outp, f"summary says FAILED for {what}")
        if what == "overbook":
            # an import may not set a capacity below the live registrations either
            camp = os.path.join(tmp, "campuses.csv")
            write(camp, export(c, "campuses"))
            rc, _, err = run("import", "campuses", "--data", c, camp, ok=False)
            expect(rc == 1 and "below the" in err, f"capacity below live is refused:\n{err}")


# docs/rules.md#R1, docs/rules.md#R24
def part_staff(tmp):
    d = demo(tmp, "d", n=100)
    pw = os.path.join(tmp, "pw")
    write(pw, "Teacher-Pass-1\n")
    run("staff", "add", "--data", d, "--user", "t10013b", "--role", "school", "--scope", "10013",
        "--password-file", pw)
    _, stats, _ = run("stats", "--data", d)
    expect("staff                5" in stats, "staff count is 5 after one add")
    rc, _, _ = run("staff", "add", "--data", d, "--user", "x", "--role", "school", "--scope",
                   "123", "--password-file", pw, ok=False)
    expect(rc == 2, "a 3-digit school scope is refused")
    write(pw, "short\n")
    rc, _, _ = run("staff", "add", "--data", d, "--user", "y", "--role", "support",
                   "--password-file", pw, ok=False)
    expect(rc == 2, "a weak password is refused")


PARTS = {
    "demo_check": part_demo_check,
    "determinism": part_determinism,
    "roundtrip": part_roundtrip,
    "bad_import": part_bad_import,
    "bench_prep": part_bench_prep,
    "corrupt": part_corrupt,
    "staff": part_staff,
}


def main():
    global CETCTL
    CETCTL = os.environ.get("CETCTL") or os.path.join(os.environ.get("CET_BUILD_DIR", "build"),
                                                      "tools", "cetctl")
    if not os.access(CETCTL, os.X_OK):
        print(f"t95_cetctl: no cetctl binary at {CETCTL}\n{__doc__}", file=sys.stderr)
        return 2
    names = sys.argv[1:] or list(PARTS)
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        print(f"t95_cetctl: unknown parts {unknown}\n{__doc__}", file=sys.stderr)
        return 2
    for name in names:
        tmp = tempfile.mkdtemp(prefix=f"cetctl-{name}-")
        try:
            PARTS[name](tmp)
            print(f"{name}: done")
        except AssertionError as e:
            FAILURES.append(f"{name}: {e}")
            print(f"FAIL: {name}: {e}", file=sys.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print(f"t95_cetctl: {len(FAILURES)} failures", file=sys.stderr)
        return 1
    print("t95_cetctl: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
