#!/usr/bin/env python3
"""School files through the real cetctl (CTest: int.t96_school_files; python3 stdlib).

Files as schools have them (base/cet_sheet.h, docs/data-formats.md): a GBK
roster with Chinese headers made by the iconv program, a tab-separated one,
an .xlsx written by cetctl's own export and one written by openpyxl (an
independent writer, when Debian's python3-openpyxl is installed), values Excel
mangled, an .xls and a broken .xlsx; exports with a BOM and Chinese headers
read back identical, per school, in yuan; `export reviews` after a real CET6
review decided over HTTP by a school's teacher; the template.
"""
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DataDir, Engine, cetctl, staff_token  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, where python3-openpyxl installs


def has_openpyxl():
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import openpyxl"],
                          capture_output=True).returncode == 0


def run_py(code, *args):
    """Runs code under Debian's python (openpyxl); returns stdout."""
    p = subprocess.run([SYSTEM_PYTHON, "-c", code, *args], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


class SchoolFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = DataDir(candidates=600, seed=5)
        cls.tmp = tempfile.mkdtemp(prefix="cet-sheet-")

    @classmethod
    def tearDownClass(cls):
        cls.data.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def export(self, kind, *args, data=None):
        return cetctl("export", kind, "--data", data or self.data.data, *args).stdout

    def export_bytes(self, kind, *args, data=None):
        out = self.path(f"{kind}-{len(os.listdir(self.tmp))}.out")
        cetctl("export", kind, "--data", data or self.data.data, "--out", out, *args)
        with open(out, "rb") as f:
            return f.read()

    def fresh(self, name):
        """A new environment with the sitting and the campuses of the demo, as data files."""
        d = self.path(name)
        for kind in ("sitting", "campuses"):
            f = self.path(f"{name}-{kind}.csv")
            with open(f, "w", encoding="utf-8", newline="") as fh:
                fh.write(self.export(kind))
            cetctl("import", kind, "--data", d, f)
        return d

    def test_gbk_chinese_headers_round_trip(self):
        # the teacher's CSV of school 10013: BOM, CRLF, Chinese headers and values
        teacher = self.export_bytes("roster", "--format", "csv", "--school", "10013")
        self.assertTrue(teacher.startswith(b"\xef\xbb\xbf\xe8\xaf\x81\xe4\xbb\xb6\xe7\xb1\xbb\xe5\x9e\x8b,"))  # BOM 证件类型
        text = teacher[3:].decode("utf-8")
        self.assertIn("\r\n", text)
        self.assertNotIn("\n", text.replace("\r\n", ""))
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual(rows[0][:4], ["证件类型", "证件号码", "姓名", "性别"])
        self.assertTrue(all(r[4] == "10013" for r in rows[1:]), "only school 10013")
        self.assertIn("居民身份证", {r[0] for r in rows[1:]})
        self.assertTrue({r[3] for r in rows[1:]} <= {"男", "女"})
        # the same file saved as GBK without the BOM, as a Chinese-locale Excel does
        utf8 = self.path("roster-10013-utf8.csv")
        gbk = self.path("roster-10013-gbk.csv")
        with open(utf8, "wb") as f:
            f.write(teacher[3:])
        subprocess.run(f"iconv -f UTF-8 -t GBK '{utf8}' > '{gbk}'", shell=True, check=True)
        with open(gbk, "rb") as f:
            raw = f.read()
        self.assertRaises(UnicodeDecodeError, raw.decode, "utf-8")
        d2 = self.fresh("gbk")
        p = cetctl("import", "roster", "--data", d2, gbk)
        self.assertIn("GB18030 (GBK), comma-separated", p.stderr)
        self.assertIn(f"import roster: {len(rows) - 1} rows applied", p.stderr)
        # exported again with the BOM: byte for byte the file the teacher had
        back = self.export_bytes("roster", "--format", "csv", data=d2)
        self.assertEqual(back, teacher)
        # and the operator's data format agrees with the original environment's
        want = [r for r in csv.DictReader(io.StringIO(self.export("roster")))
                if r["school"] == "10013"]
        got = list(csv.DictReader(io.StringIO(self.export("roster", data=d2))))
        self.assertEqual(got, want)

    def test_tab_separated_and_other_headers(self):
        rows = list(csv.reader(io.StringIO(self.export("roster", "--school", "99101"))))
        self.assertGreater(len(rows), 5)
        heads = ["证件类型*", "身份证号", "学生姓名", "性别", "学校代码", "校区代码", "学历",
                 "学制（年）", "入学年份", "年级", "学院", "专业", "班级", "学号", "备注",
                 "资格科目", "禁报六级"]
        tsv = self.path("roster-99101.txt")
        with open(tsv, "w", encoding="utf-8", newline="") as f:
            f.write("\t".join(heads) + "\r\n")
            for r in rows[1:]:
                f.write("\t".join(r) + "\r\n")
        d2 = self.fresh("tab")
        p = cetctl("import", "roster", "--data", d2, tsv)
        self.assertIn("UTF-8, tab-separated", p.stderr)
        self.assertEqual(self.export("roster", data=d2), self.export("roster", "--school", "99101"))

    def test_xlsx_export_read_back(self):
        x = self.export_bytes("roster", "--format", "xlsx")
        self.assertEqual(x[:4], b"PK\x03\x04")
        names = zipfile.ZipFile(io.BytesIO(x)).namelist()
        self.assertIn("xl/worksheets/sheet1.xml", names)
        f = self.path("roster.xlsx")
        with open(f, "wb") as fh:
            fh.write(x)
        d2 = self.fresh("xlsx")
        p = cetctl("import", "roster", "--data", d2, f)
        self.assertIn("xlsx workbook", p.stderr)
        self.assertEqual(self.export("roster", data=d2), self.export("roster"))
        # campuses in xlsx: the fee is a number cell in yuan and reads back as the same fen
        c = self.path("campuses.xlsx")
        with open(c, "wb") as fh:
            fh.write(self.export_bytes("campuses", "--format", "xlsx"))
        d3 = self.path("xlsx-campuses")
        s = self.path("xlsx-sitting.csv")
        with open(s, "w", encoding="utf-8", newline="") as fh:
            fh.write(self.export("sitting"))
        cetctl("import", "sitting", "--data", d3, s)
        cetctl("import", "campuses", "--data", d3, c)
        self.assertEqual(self.export("campuses", data=d3), self.export("campuses"))
        if not has_openpyxl():
            print("test_school_files: openpyxl not installed, cell types not inspected")
            return
        out = run_py(
            "import sys, openpyxl\n"
            "ws = openpyxl.load_workbook(sys.argv[1]).worksheets[0]\n"
            "r = [c for c in ws[2]]\n"
            "print(ws['A1'].value, ws['B1'].value, r[1].data_type, r[1].number_format,"
            " r[7].data_type)\n", f)
        head_a, head_b, id_type, id_fmt, years_type = out.split()
        self.assertEqual((head_a, head_b), ("证件类型", "证件号码"))
        self.assertEqual((id_type, id_fmt), ("s", "@"))  # IDs are text cells
        self.assertEqual(years_type, "n")                 # program_years is a number
        out = run_py(
            "import sys, openpyxl\n"
            "ws = openpyxl.load_workbook(sys.argv[1]).worksheets[0]\n"
            "c = ws.cell(row=2, column=10)\n"
            "print(ws.cell(row=1, column=10).value, c.value, c.data_type, c.number_format)\n", c)
        self.assertEqual(out.split(), ["报名费(元)", "30", "n", "0.00"])

    def test_openpyxl_workbook(self):
        if not has_openpyxl():
            self.skipTest("python3-openpyxl is not installed (tools/setup-deps.sh test)")
        rows = list(csv.reader(io.StringIO(self.export("scores"))))
        src = self.path("scores.csv")
        with open(src, "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([["准考证号", "证件号码", "姓名", "成绩", "考试年份"]] + rows[1:])
        book = self.path("scores-openpyxl.xlsx")
        # shared strings, numbers for score and year, a number cell for the ticket (15 digits
        # are exact in Excel), text for the ID
        run_py("import sys, csv, openpyxl\n"
               "wb = openpyxl.Workbook(); ws = wb.active; ws.title = '成绩'\n"
               "for i, r in enumerate(csv.reader(open(sys.argv[1], encoding='utf-8'))):\n"
               "    ws.append(r if i == 0 else [int(r[0]), r[1], r[2], int(r[3]), int(r[4])])\n"
               "wb.save(sys.argv[2])\n", src, book)
        d2 = self.path("openpyxl")
        p = cetctl("import", "scores", "--data", d2, book)
        self.assertIn(f"import scores: {len(rows) - 1} rows applied", p.stderr)
        self.assertEqual(self.export("scores", data=d2), self.export("scores"))
        # the same with the ID typed as a number: Excel's 1.10108E+17, refused with the fix
        run_py("import sys, openpyxl\n"
               "wb = openpyxl.Workbook(); ws = wb.active\n"
               "ws.append(['准考证号', '证件号码', '姓名', '成绩', '考试年份'])\n"
               "ws.append(['100130242100101', 110105194912310021, '张三', 512, 2024])\n"
               "wb.save(sys.argv[1])\n", book)
        p = cetctl("import", "scores", "--data", d2, book, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("scores-openpyxl.xlsx:2: id_number", p.stderr)
        self.assertIn("Format the column as text", p.stderr)

    def test_excel_like_workbook(self):
        """A workbook as Excel and WPS write them, beyond what libxlsxwriter does: prefixed
        elements, rich text with phonetic runs, a title row, a formula's cached value,
        the sheet found through the workbook's relationships."""
        rows = list(csv.reader(io.StringIO(self.export("scores"))))[1:4]
        ns = 'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        rel = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
        strings = ["2026年四级成绩（导入用）", "准考证号", "证件号码", "姓名", "成绩", "考试年份"]
        sst = "".join(f"<x:si><x:t>{t}</x:t></x:si>" for t in strings)
        # a name as rich text with a phonetic guide that is not part of it
        sst += ("<x:si><x:r><x:rPr><x:b/></x:rPr><x:t>%s</x:t></x:r>"
                "<x:rPh sb=\"0\" eb=\"1\"><x:t>PINYIN</x:t></x:rPh></x:si>" % rows[0][2])
        cells = ['<x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c></x:row>',
                 '<x:row r="3" spans="1:5">' + "".join(
                     f'<x:c r="{c}3" t="s" s="1"><x:v>{i + 1}</x:v></x:c>'
                     for i, c in enumerate("ABCDE")) + "</x:row>"]
        for n, r in enumerate(rows):
            line = 4 + n
            name = (f'<x:c r="C{line}" t="s"><x:v>6</x:v></x:c>' if n == 0 else
                    f'<x:c r="C{line}" t="inlineStr"><x:is><x:t>{r[2]}</x:t></x:is></x:c>')
            cells.append(
                f'<x:row r="{line}"><x:c r="A{line}" t="str"><x:f>TEXT(1,"0")</x:f>'
                f'<x:v>{r[0]}</x:v></x:c><x:c r="B{line}" t="inlineStr"><x:is><x:t>{r[1]}'
                f'</x:t></x:is></x:c>{name}<x:c r="D{line}"><x:f>500+{int(r[3]) - 500}</x:f>'
                f'<x:v>{r[3]}</x:v></x:c><x:c r="E{line}"><x:v>{r[4]}</x:v></x:c>'
                f'<x:c r="H{line}" s="2"/></x:row>')
        book = self.path("excel-like.xlsx")
        with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
            z.writestr("xl/workbook.xml",
                       f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><x:workbook {ns} '
                       f'{rel}><x:sheets><x:sheet name="成绩" sheetId="7" r:id="rId3"/>'
                       '</x:sheets></x:workbook>')
            z.writestr("xl/_rels/workbook.xml.rels",
                       '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats'
                       '.org/package/2006/relationships"><Relationship Id="rId3" Type="http://'
                       'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
                       'Target="/xl/worksheets/data.xml"/><Relationship Id="rId9" Type="http://'
                       'schemas.openxmlformats.org/officeDocument/2006/relationships/'
                       'sharedStrings" Target="strings.xml"/></Relationships>')
            z.writestr("xl/strings.xml", f'<?xml version="1.0"?><x:sst {ns}>{sst}</x:sst>')
            z.writestr("xl/worksheets/data.xml", f'<?xml version="1.0"?><x:worksheet {ns}>'
                       f'<x:sheetData>{"".join(cells)}</x:sheetData></x:worksheet>')
        d2 = self.path("excel-like")
        p = cetctl("import", "scores", "--data", d2, book)
        self.assertIn("import scores: 3 rows applied", p.stderr)
        got = list(csv.reader(io.StringIO(self.export("scores", data=d2))))[1:]
        self.assertEqual(sorted(got), sorted(rows))

    def test_mangled_and_bad_files(self):
        d2 = self.path("bad")
        f = self.path("mangled.csv")
        with open(f, "w", encoding="utf-8") as fh:
            fh.write("ticket,id_number,name,score,year\n"
                     "100130242100101,1.10108E+17,张三,512,2024\n"
                     "1.00130242E+14,11010519491231002X,张三,512,2024\n")
        p = cetctl("import", "scores", "--data", d2, f, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("mangled.csv:2: id_number '1.10108E+17'", p.stderr)
        self.assertIn("Excel keeps only 15 digits", p.stderr)
        self.assertIn("mangled.csv:3: ticket '1.00130242E+14'", p.stderr)
        self.assertIn("2 bad rows of 2", p.stderr)
        xls = self.path("old.xls")
        with open(xls, "wb") as fh:
            fh.write(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
        p = cetctl("import", "roster", "--data", d2, xls, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("Excel 97-2003 workbook (.xls)", p.stderr)
        broken = self.path("broken.xlsx")
        with open(broken, "wb") as fh:
            fh.write(self.export_bytes("roster", "--format", "xlsx")[:3000])
        p = cetctl("import", "roster", "--data", d2, broken, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("the .xlsx workbook cannot be read", p.stderr)

    def test_teacher_exports_in_yuan(self):
        text = self.export_bytes("campuses", "--format", "csv", "--school", "99101")[3:].decode()
        rows = list(csv.DictReader(io.StringIO(text)))
        self.assertTrue(rows)
        self.assertTrue(all(r["学校代码"] == "99101" for r in rows))
        self.assertTrue({r["报名费(元)"] for r in rows} <= {"30.00", "35.00", "50.00"})
        # the data format is unchanged: fen, English headers, no BOM
        data = self.export("campuses", "--school", "99101")
        self.assertTrue(data.startswith("province_code,"))
        self.assertTrue({r["fee"] for r in csv.DictReader(io.StringIO(data))} <=
                        {"3000", "3500", "5000"})
        p = cetctl("export", "audit", "--data", self.data.data, "--school", "10013", check=False)
        self.assertEqual(p.returncode, 2)
        p = cetctl("export", "roster", "--data", self.data.data, "--format", "pdf", check=False)
        self.assertEqual(p.returncode, 2)

    def test_template(self):
        t = self.path("template.csv")
        cetctl("template", "roster", "--out", t)
        with open(t, "rb") as fh:
            raw = fh.read()
        lines = raw[3:].decode().split("\r\n")
        self.assertTrue(raw.startswith(b"\xef\xbb\xbf"))
        self.assertTrue(lines[0].startswith("证件类型,证件号码,姓名,"))
        self.assertTrue(lines[1].startswith("id_type,id_number,name,"))
        # a teacher fills in one row under the two header rows; it imports
        row = self.export_bytes("roster", "--format", "csv", "--school", "10013")[3:] \
            .decode().split("\r\n")[1]
        with open(t, "ab") as fh:
            fh.write(row.encode() + b"\r\n")
        d2 = self.fresh("template")
        p = cetctl("import", "roster", "--data", d2, t)
        self.assertIn("import roster: 1 rows applied", p.stderr)
        x = self.path("template.xlsx")
        cetctl("template", "roster", "--format", "xlsx", "--out", x)
        names = zipfile.ZipFile(x).namelist()
        self.assertTrue(any(n.startswith("xl/comments") for n in names), names)
        self.assertIn("xl/worksheets/sheet2.xml", names)  # 填表说明
        p = cetctl("import", "roster", "--data", d2, x, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no data rows", p.stderr)


class Reviews(unittest.TestCase):
    """`cetctl export reviews` after real reviews: one automatic, one decided by a teacher."""

    @classmethod
    def setUpClass(cls):
        cls.data = DataDir(candidates=2000, seed=1)
        # bench-prep writes the directory: before cetd holds it (one owner)
        cls.people = cls.data.bench_prep(2000)
        cls.engine = Engine(cls.data)

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.engine.stop() == 0
        finally:
            cls.data.cleanup()

    def test_export_reviews(self):
        people = self.people
        scores = self.data.export("scores")
        roster = {(r["id_type"], r["id_number"]): r for r in self.data.export("roster")}
        by_id = {s["id_number"]: s for s in scores if int(s["score"]) >= 425
                 and int(s["year"]) >= 2005}
        by_name = {}
        for s in scores:
            if int(s["score"]) >= 425 and int(s["year"]) >= 2005:
                by_name.setdefault(s["name"], []).append(s)
        auto = pending = None
        for p in people:
            rec = roster[(p["id_type"], p["id_number"])]
            if "2" in p["subjects"] or rec["cet6_barred"] == "1" or rec["school"] != "10013":
                continue
            if not auto and p["id_number"] in by_id:
                auto = (p, by_id[p["id_number"]]["ticket"])
            elif not pending and p["id_number"] not in by_id and p["name"] in by_name:
                pending = (p, by_name[p["name"]][0]["ticket"])
            if auto and pending:
                break
        self.assertTrue(auto and pending, "the demo has an automatic and a pending review")
        states = {}
        for who, ticket in (auto, pending):
            c = self.engine.client(who["token"])
            st, body, _ = c.request("POST", "/api/v1/cet6-review",
                                    {"ticket_number": ticket, "confirmed": True})
            self.assertEqual(st, 201, body)
            states[who["id_number"]] = body["state"]
            st, me, _ = c.request("GET", "/api/v1/me")
            who["account_id"] = me["account_id"]
            c.close()
        self.assertEqual(states[auto[0]["id_number"]], "auto_approved")
        self.assertEqual(states[pending[0]["id_number"]], "pending")
        before = {r["account_id"]: r for r in self.data.export("reviews")}
        self.assertEqual(before[pending[0]["account_id"]]["decided_by"], "")
        tok = staff_token(self.engine, "teacher10013")
        c = self.engine.client(tok)
        st, body, _ = c.request("POST", f"/api/v1/admin/reviews/{pending[0]['account_id']}",
                                {"decision": "approve"})
        c.close()
        self.assertEqual(st, 200, body)
        rows = {r["account_id"]: r for r in self.data.export("reviews")}
        a, b = rows[auto[0]["account_id"]], rows[pending[0]["account_id"]]
        self.assertEqual((a["state"], a["decided_by"], a["ticket"]), ("auto_approved", "auto",
                                                                       auto[1]))
        self.assertEqual((b["state"], b["decided_by"], b["ticket"], b["school"]),
                         ("approved", "teacher10013", pending[1], "10013"))
        self.assertTrue(b["decided_at"].endswith("+08:00"))
        # the teacher's view: per school, Chinese headers and states
        p = cetctl("export", "reviews", "--data", self.data.data, "--format", "csv",
                   "--school", "10013")
        t = list(csv.DictReader(io.StringIO(p.stdout.lstrip("\ufeff"))))
        self.assertEqual({r["审核状态"] for r in t}, {"自动通过", "已通过"})
        p = cetctl("export", "reviews", "--data", self.data.data, "--school", "99101")
        self.assertEqual(p.stdout.count("\n"), 1)  # no reviews at another school: header only


if __name__ == "__main__":
    unittest.main(verbosity=2)
