#!/usr/bin/env python3
"""check_routes.py: docs/openapi.yaml and the code must describe the same API.

Checks, with the Python standard library only:
  1. every entry of routes[] in net/net_api.c (method + path) is an operation
     of docs/openapi.yaml, and every operation there is a route; a prefix route
     ("/api/v1/registrations/" with an argument callback) matches a templated
     path ("/api/v1/registrations/{subject}");
  2. the paths cetd answers itself in net/net_server.c (/healthz, /metrics) are
     documented as GET;
  3. the ErrorCode enum of openapi.yaml is exactly the code table of
     base/cet_err.h (without "ok").

There is no YAML parser in the standard library, so openapi.yaml is read line
by line, relying on its formatting (documented at the top of the file): the
top-level "paths:" key, path keys at two spaces, methods at four spaces, and
the ErrorCode enum as a block list ("- code") under components/schemas.

Exit 0 when everything matches, 1 (with a list of differences) otherwise.
Usage: check_routes.py [--root REPO]
"""
import argparse
import os
import re
import sys

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def code_routes(net_api_c):
    """[(method, path, segments)] from the routes[] array of net_api.c; segments
    is 0 for an exact path, else the number of path segments after the prefix."""
    m = re.search(r"static const route_t routes\[\]\s*=\s*\{(.*?)\n\};", net_api_c, re.S)
    if not m:
        sys.exit("check_routes: no routes[] array in net/net_api.c")
    # Each route names its path segments after a prefix (0 for an exact path).
    out = []
    for e in re.finditer(r'\{\s*NET_([A-Z]+)\s*,\s*"([^"]+)"\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(\d+)\s*,', m.group(1)):
        method, path, segments = e.group(1).lower(), e.group(2), int(e.group(5))
        out.append((method, path, segments))
    if not out:
        sys.exit("check_routes: routes[] in net/net_api.c has no entries I can read")
    return out


def server_paths(net_server_c):
    """Paths the server core answers before the API handler (/healthz, /metrics)."""
    return sorted(set(re.findall(r'strcmp\(path,\s*"(/[^"]*)"\)\s*==\s*0', net_server_c)))


def error_codes(cet_err_h):
    codes = re.findall(r'X\(\s*\w+\s*,\s*"([a-z0-9_]+)"\s*,\s*\d{3}\s*,', cet_err_h)
    if not codes:
        sys.exit("check_routes: no error table in base/cet_err.h")
    return [c for c in codes if c != "ok"]


def yaml_operations(lines):
    """{(method, path)} from the top-level paths: section."""
    ops = set()
    in_paths = False
    path = None
    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):  # a top-level key
            in_paths = line.startswith("paths:")
            path = None
            continue
        if not in_paths:
            continue
        m = re.match(r"^  (['\"]?)(/[^'\"]*)\1:\s*$", line)
        if m:
            path = m.group(2)
            continue
        if re.match(r"^  \S", line):
            sys.exit(f"check_routes: unexpected line in paths: {line!r}")
        m = re.match(r"^    ([a-z]+):\s*$", line)
        if m and m.group(1) in METHODS:
            if path is None:
                sys.exit(f"check_routes: method outside a path: {line!r}")
            ops.add((m.group(1), path))
    if not ops:
        sys.exit("check_routes: no operations found under paths: in docs/openapi.yaml")
    return ops


def yaml_error_enum(lines):
    """The block list of components/schemas/ErrorCode/enum."""
    start = None
    for i, line in enumerate(lines):
        if re.match(r"^    ErrorCode:\s*$", line):
            start = i
            break
    if start is None:
        sys.exit("check_routes: no components/schemas/ErrorCode in docs/openapi.yaml")
    codes, in_enum, enum_indent = [], False, 0
    for line in lines[start + 1:]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent <= 4:  # next schema
            break
        if re.match(r"^\s+enum:\s*$", line):
            in_enum, enum_indent = True, indent
            continue
        if in_enum:
            m = re.match(r"^\s+- ['\"]?([a-z0-9_]+)['\"]?\s*$", line)
            if m and indent >= enum_indent:
                codes.append(m.group(1))
                continue
            if indent <= enum_indent:
                in_enum = False
    return codes


TEMPLATE = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")
LITERAL = re.compile(r"^[a-z][a-z0-9_-]*$")


def route_matches(route_path, segments, doc_path):
    """An exact route matches its path; a prefix route a path of the prefix
    followed by exactly `segments` segments, the first templated ("{name}"), the
    others templated or a fixed name the handler checks ("{school}/settings")."""
    if not segments:
        return doc_path == route_path
    if not doc_path.startswith(route_path):
        return False
    tail = doc_path[len(route_path):].split("/")
    # the first segment is the argument; a later one may be a literal the
    # callback checks itself ("/api/v1/admin/campuses/{campus}/rooms")
    return (len(tail) == segments and TEMPLATE.match(tail[0]) is not None and
            all(TEMPLATE.match(t) or LITERAL.match(t) for t in tail[1:]))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(here)))
    a = ap.parse_args()
    root = a.root
    routes = code_routes(read(os.path.join(root, "net", "net_api.c")))
    extra = server_paths(read(os.path.join(root, "net", "net_server.c")))
    yaml_lines = read(os.path.join(root, "docs", "openapi.yaml")).splitlines()
    ops = yaml_operations(yaml_lines)
    problems = []

    # code -> docs: each route is exactly one documented operation
    matched = set()
    for method, path, segments in routes:
        hits = [(m, p) for (m, p) in ops if m == method and route_matches(path, segments, p)]
        shown = path + "/".join(["{...}"] * segments)
        if not hits:
            problems.append(f"route {method.upper()} {shown} (net/net_api.c) is not in docs/openapi.yaml")
        elif len(hits) > 1:
            problems.append(f"route {method.upper()} {shown} matches several documented paths: "
                            + ", ".join(sorted(p for _, p in hits)))
        matched.update(hits)
    for path in extra:
        if ("get", path) not in ops:
            problems.append(f"GET {path} (net/net_server.c) is not in docs/openapi.yaml")
        matched.add(("get", path))

    # docs -> code: each documented operation is a route (or a server path)
    for method, path in sorted(ops, key=lambda o: (o[1], o[0])):
        if (method, path) in matched:
            continue
        same_path = [m for (m, p, seg) in routes if route_matches(p, seg, path)]
        if same_path:
            problems.append(f"docs/openapi.yaml documents {method.upper()} {path}, but the code "
                            f"routes only {', '.join(m.upper() for m in same_path)} there")
        else:
            problems.append(f"docs/openapi.yaml documents {method.upper()} {path}, which is no route "
                            "of net/net_api.c (a planned call belongs in info.description)")

    # error codes
    want = error_codes(read(os.path.join(root, "base", "cet_err.h")))
    have = yaml_error_enum(yaml_lines)
    for c in want:
        if c not in have:
            problems.append(f"error code {c} (base/cet_err.h) is missing from the ErrorCode enum")
    for c in have:
        if c not in want:
            problems.append(f"ErrorCode enum lists {c}, which base/cet_err.h does not have")
    dups = sorted({c for c in have if have.count(c) > 1})
    if dups:
        problems.append("ErrorCode enum lists more than once: " + ", ".join(dups))

    if problems:
        print("openapi.routes: docs/openapi.yaml and the code differ:")
        for p in problems:
            print("  - " + p)
        return 1
    print(f"openapi.routes: {len(routes)} routes + {len(extra)} server paths match "
          f"{len(ops)} documented operations; {len(want)} error codes match the ErrorCode enum")
    return 0


if __name__ == "__main__":
    sys.exit(main())
