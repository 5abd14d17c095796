#!/usr/bin/env bash
# run_admin.sh: the staff pages' browser test (admin.test.js), end to end, against the
# real cetd through the h2o edge (HTTPS + HTTP/2), as run.sh does for the candidate's:
#
#   tests/browser/run_admin.sh --cetd build/net/cetd --cetctl build/tools/cetctl \
#       [--work DIR] [--artifacts DIR]
#
# 1. a fresh demo data set; one roster record of school 10013 and a CET4 score under
#    its name with another ID number (its CET6 review goes to the teacher: pending);
# 2. cetd --captcha off on a unix socket and 127.0.0.1; 3. the edge;
# 4. npm ci + admin.test.js (headless Chromium, a 1366x768 desk and a phone);
# 5. stops everything, runs cetctl check (invariants and the audit chain).
# Exit 0 only if every check passed; 77 (CTest: skipped) when a tool is missing.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
NAME=browser.admin
# shellcheck source=lib.sh
. "$HERE/lib.sh"
browser_args browser-admin-run browser-admin "$@"

rm -rf "$WORK" "$ARTIFACTS"
mkdir -p "$WORK" "$ARTIFACTS" || exit 2
DATA="$WORK/data" SOCK="$WORK/cetd.sock"
CETD_PID=""
# shellcheck source=../../tools/edge/edge.sh
. "$REPO/tools/edge/edge.sh"
cleanup() {
    edge_stop
    stop_pid CETD_PID
}
trap 'cleanup; summary; exit 1' INT TERM

# ---- 1. data ----
if "$CETCTL" demo --data "$DATA" --candidates 600 --seed 11 >"$WORK/demo.out" 2>"$WORK/demo.err"; then
    pass "cetctl demo"
else
    fail "cetctl demo: $(tail -n 3 "$WORK/demo.err")"; summary; exit 1
fi
# the candidate whose CET6 review the teacher decides, the good and the bad roster files
python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
def check_char(d17):
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * k for c, k in zip(d17, w)) % 11]
def mainland(seq):
    d17 = "990404" + "20050301" + "%03d" % seq
    return d17 + check_char(d17)
cols = "证件类型,证件号码,姓名,性别,学校代码,校区代码,学历,学制,入学年份,年级,院系,专业,班级,学号,备注,资格科目,禁报六级"
def row(seq, name, idn=None, edu="本科"):
    return ",".join(["居民身份证", idn or mainland(seq), name, "女", "10013", "100130", edu, "4", "2024", "2",
                     "外国语学院", "英语", "20240102", "B%06d" % seq, "", "1;F", "0"])
review = {"id_type": "mainland", "id_number": mainland(1), "name": "审核测试",
          "ticket": "100130" + "24" + "1" + "1" + "901" + "01"}
open(work + "/roster-review.csv", "w", encoding="utf-8").write(cols + "\n" + row(1, "审核测试") + "\n")
open(work + "/scores.csv", "w", encoding="utf-8").write(
    "ticket,id_number,name,score,year\n%s,%s,审核测试,530,2024\n" % (review["ticket"], mainland(900)))
good = [row(10 + i, "导入考生%d" % i) for i in range(3)]
open(work + "/roster-good.csv", "w", encoding="gbk").write(cols + "\n" + "\n".join(good) + "\n")
bad = [row(20, "错误考生甲", idn=mainland(20)[:-1] + ("1" if mainland(20)[-1] != "1" else "2")),
       row(21, "错误考生乙", edu="博士"), row(22, "正确考生丙")]
open(work + "/roster-bad.csv", "w", encoding="utf-8").write(cols + "\n" + "\n".join(bad) + "\n")
json.dump(review, open(work + "/review.json", "w"), ensure_ascii=False)
PY
if "$CETCTL" import roster --data "$DATA" "$WORK/roster-review.csv" >>"$WORK/demo.out" 2>>"$WORK/demo.err" &&
    "$CETCTL" import scores --data "$DATA" "$WORK/scores.csv" >>"$WORK/demo.out" 2>>"$WORK/demo.err"; then
    pass "a roster record and a CET4 score under its name with another ID (the review is the teacher's)"
else
    fail "cetctl import: $(tail -n 3 "$WORK/demo.err")"; summary; exit 1
fi

# ---- 2. cetd, 3. the edge ----
API_PORT="$(free_port)" SECRET="$WORK/payment.secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SECRET"
chmod 600 "$SECRET"
"$CETD" --data "$DATA" --listen "unix:$SOCK" --listen "127.0.0.1:$API_PORT" --captcha off \
    --payment-secret-file "$SECRET" --pay-url "http://127.0.0.1:1/pay" \
    >"$WORK/cetd.out" 2>"$WORK/cetd.log" &
CETD_PID=$!
for _ in $(seq 1 200); do
    grep -q "cetd: listening on unix:" "$WORK/cetd.out" 2>/dev/null && break
    kill -0 "$CETD_PID" 2>/dev/null || break
    sleep 0.1
done
if grep -q "cetd: listening on unix:" "$WORK/cetd.out" 2>/dev/null; then
    pass "cetd started (captcha off)"
else
    fail "cetd did not start: $(tail -n 5 "$WORK/cetd.log")"; cleanup; summary; exit 1
fi
HTTPS_PORT="$(free_port)" HTTP_PORT="$(free_port)"
if edge_start --socket "$SOCK" --state "$WORK/edge" --https-port "$HTTPS_PORT" --http-port "$HTTP_PORT" \
    --max-connections 256 >"$WORK/edge.out" 2>&1; then
    pass "h2o edge started"
else
    fail "h2o edge did not start: $(cat "$WORK/edge.out")"; cleanup; summary; exit 1
fi
BASE="https://127.0.0.1:$HTTPS_PORT"
code="$(curl --http2 -k -sS -o /dev/null -w '%{http_code} %{http_version}' "$BASE/admin/")"
case "$code" in
"200 2") pass "the edge serves /admin/ over HTTP/2" ;;
*) fail "GET /admin/ through the edge: $code" ;;
esac

# ---- 4. the browser ----
browser_npm_ci || { cleanup; summary; exit 1; }
browser_node admin.test.js --base "$BASE" --artifacts "$ARTIFACTS" --work "$WORK" \
    --review "$(cat "$WORK/review.json")"

# ---- 5. stop, and check the data (invariants and the audit chain) ----
cleanup
if "$CETCTL" check --data "$DATA" >"$WORK/check.out" 2>&1; then
    pass "cetctl check: every invariant holds, the audit chain verifies"
else
    fail "cetctl check: $(tail -n 5 "$WORK/check.out")"
fi
summary
[ "$FAILED" = 0 ]
