#!/usr/bin/env python3
"""compare_table.py: the tables of bench/compare and bench/edge-compare.

Usage: compare_table.py ROWS TSV TXT [--meta KEY=VALUE]... [--ratio SPEC]... [--title LINE]...

ROWS holds the measured rows, tab-separated: system, operation, ops/s, p50 ms,
p99 ms, note. A --ratio SPEC is "SYSTEM|OPERATION|SYSTEM|OPERATION|TARGET": the
first row's ops/s over the second's, with TARGET the minimum wanted ("-" for
none). Writes TSV (the machine-readable table, format below) and TXT (the same
for people, after the --title lines), and prints TXT.

TSV: tab-separated lines whose first field is the line's kind:
  kind     system  operation  ops_per_s  p50_ms  p99_ms  note   (header, line 1)
  measure  SYSTEM  OPERATION  OPS/S      P50     P99     NOTE   (one per row measured;
           P50/P99 "-" when the load generator gives none: h2load)
  kind     name    value      target_min met     note           (header of the ratios)
  ratio    NAME    VALUE      MIN|-      yes|no|-  NOTE
  meta     KEY     VALUE
NAME is "SYSTEM OPERATION / SYSTEM OPERATION"; VALUE is the ratio with two
decimals, or "n/m" when a side was not measured (then met is "no" when there is
a target); MIN and met are "-" for a ratio without a target. The last meta line
is targets_met, "K of N".
"""
import argparse


def num(x):
    try:
        return float(x)
    except ValueError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rows")
    ap.add_argument("tsv")
    ap.add_argument("txt")
    ap.add_argument("--meta", action="append", default=[])
    ap.add_argument("--ratio", action="append", default=[])
    ap.add_argument("--title", action="append", default=[])
    a = ap.parse_args()

    rows = [(line.rstrip("\n").split("\t") + [""] * 6)[:6] for line in open(a.rows) if line.strip()]
    by = {(r[0], r[1]): r for r in rows}
    meta = [tuple(m.split("=", 1)) for m in a.meta]
    ratios = []
    for spec in a.ratio:
        s1, o1, s2, o2, target = spec.split("|")
        num_key, den_key = (s1, o1), (s2, o2)
        tmin = None if target == "-" else float(target)
        x = num(by[num_key][2]) if num_key in by else None
        y = num(by[den_key][2]) if den_key in by else None
        name = f"{s1} {o1} / {s2} {o2}"
        if x and y:
            value = f"{x / y:.2f}"
            met = "-" if tmin is None else ("yes" if x / y >= tmin else "no")
            note = f"{x:.0f} / {y:.0f} ops/s"
        else:
            value, met = "n/m", "-" if tmin is None else "no"
            note = "not measured: " + ", ".join(" ".join(k) for k, v in ((num_key, x), (den_key, y)) if not v)
        ratios.append((name, value, "-" if tmin is None else f"{tmin:g}", met, note))
    with_target = [r for r in ratios if r[2] != "-"]
    meta.append(("targets_met", f'{sum(r[3] == "yes" for r in with_target)} of {len(with_target)}'))

    with open(a.tsv, "w") as f:
        f.write("kind\tsystem\toperation\tops_per_s\tp50_ms\tp99_ms\tnote\n")
        for r in rows:
            f.write("measure\t" + "\t".join(r) + "\n")
        f.write("kind\tname\tvalue\ttarget_min\tmet\tnote\n")
        for r in ratios:
            f.write("ratio\t" + "\t".join(r) + "\n")
        for k, v in meta:
            f.write(f"meta\t{k}\t{v}\n")

    width_op = max([len(r[1]) for r in rows] + [9])
    width_sys = max([len(r[0]) for r in rows] + [6])
    width_ratio = max([len(r[0]) for r in ratios] + [5])
    lines = [""] + a.title + [""]
    lines.append(f'{"system":<{width_sys}} {"operation":<{width_op}} {"ops/s":>9} {"p50 ms":>8} {"p99 ms":>8}  note')
    for sysname, op, ops, p50, p99, note in rows:
        def ms(x):
            return f"{num(x):>8.3f}" if num(x) is not None else f"{x or '-':>8}"
        lines.append(f"{sysname:<{width_sys}} {op:<{width_op}} {num(ops) or 0:>9.0f} "
                     f"{ms(p50)} {ms(p99)}  {note}")
    lines.append("")
    lines.append(f'{"ratio":<{width_ratio}} {"value":>7} {"target":>8}  met')
    for name, value, target, met, note in ratios:
        v = value + ("x" if value != "n/m" else "")
        t = ">= " + target + "x" if target != "-" else "-"
        lines.append(f"{name:<{width_ratio}} {v:>7} {t:>8}  {met:<3}  ({note})")
    lines.append(f"targets met: {dict(meta)['targets_met']}")
    text = "\n".join(lines) + "\n"
    with open(a.txt, "w") as f:
        f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
