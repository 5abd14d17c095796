/*
 * cet_sheet_schema.c: the columns of every school file (docs/data-formats.md):
 * the documented English header, the Chinese header a teacher's file uses
 * (and the other usual spellings), the kind of value and the value aliases.
 * One table per file, shared by cetctl and the admin API.
 */
#include <string.h>

#include "base/cet_sheet.h"

#define T CET_SHEET_TEXT
#define D CET_SHEET_DIGITS
#define N CET_SHEET_NUMBER
#define M CET_SHEET_MONEY
#define TM CET_SHEET_TIME
#define SCHEMA(var, kind, zh, cols)                                                                \
    const cet_sheet_schema_t var = {kind, zh, cols, (int)(sizeof cols / sizeof cols[0])}

/* value aliases: canonical=written in Chinese files|other spellings; a canonical marked
 * '!' is read (so that its refusal can name it) but never offered in a template */
#define ID_TYPES                                                                                                               \
    "mainland=居民身份证|身份证|中华人民共和国居民身份证|二代身份证;"                                 \
    "taiwan=台湾居民来往大陆通行证|台胞证|台湾居民往来大陆通行证;"                                    \
    "hkmo_permit=港澳居民来往内地通行证|回乡证|港澳居民往来内地通行证;"                               \
    "passport=护照|外国护照;hongkong=香港身份证|香港居民身份证;macao=澳门身份证|澳门居民身份证;" \
    "!military=军官证"
#define GENDERS "M=男|male;F=女|female"
#define YES_NO "1=是|yes|true;0=否|no|false"

static const cet_sheet_col_t sitting_cols[] = {
    {"id", "考次", "考试批次", NULL, N, true, 10},
    {"name", "考次名称", "名称", NULL, T, true, 24},
    {"lookup_opens", "资格查询开始", NULL, NULL, TM, true, 26},
    {"reg_opens", "报名开始", NULL, NULL, TM, true, 26},
    {"reg_closes", "报名截止", "报名结束", NULL, TM, true, 26},
    {"print_opens", "准考证打印开始", NULL, NULL, TM, true, 26},
    {"written_date", "笔试日期", NULL, NULL, TM, true, 26},
    {"oral_date_4", "四级口试日期", NULL, NULL, TM, false, 26},
    {"oral_date_6", "六级口试日期", NULL, NULL, TM, false, 26},
};
SCHEMA(cet_sheet_sitting, "sitting", "考次", sitting_cols);

static const cet_sheet_col_t campus_cols[] = {
    {"province_code", "省份代码", "省代码", NULL, D, true, 10},
    {"province_name", "省份名称", "省份|省份名", NULL, T, true, 12},
    {"school_code", "学校代码", "院校代码", NULL, D, true, 10},
    {"school_name", "学校名称", "学校|院校名称", NULL, T, true, 20},
    {"oral_elsewhere", "允许外校口试", "外校口试", YES_NO, N, true, 12},
    {"campus_code", "校区代码", "考点代码", NULL, D, true, 10},
    {"campus_name", "校区名称", "校区|考点名称", NULL, T, true, 16},
    {"subject", "科目代码", "科目", NULL, T, true, 8},
    {"capacity", "考位数", "容量|人数上限", NULL, N, true, 10},
    {"fee", "报名费(元)", "报名费|考试费(元)", NULL, M, true, 10},
    {"window_opens", "报名开始", NULL, NULL, TM, true, 26},
    {"window_closes", "报名截止", "报名结束", NULL, TM, true, 26},
    {"exam_date", "考试日期", NULL, NULL, TM, false, 26},
};
SCHEMA(cet_sheet_campuses, "campuses", "校区与科目", campus_cols);

static const cet_sheet_col_t roster_cols[] = {
    {"id_type", "证件类型", NULL, ID_TYPES, T, true, 14},
    {"id_number", "证件号码", "身份证号|身份证号码|证件号", NULL, D, true, 22},
    {"name", "姓名", "学生姓名|考生姓名", NULL, T, true, 10},
    {"gender", "性别", NULL, GENDERS, T, true, 6},
    {"school", "学校代码", "院校代码|学校", NULL, D, true, 10},
    {"campus", "校区代码", "校区", NULL, D, true, 10},
    {"education", "学历", "培养层次|学历层次",
     "本科=本科|bachelor;专科=专科|associate;研究生=研究生|graduate", T, true, 8},
    {"program_years", "学制", "学制(年)", NULL, N, true, 6},
    {"entry_year", "入学年份", "入学年度", NULL, N, true, 8},
    {"grade", "年级", NULL, NULL, N, true, 6},
    {"department", "院系", "学院|院系名称", NULL, T, true, 20},
    {"major", "专业", "专业名称", NULL, T, true, 16},
    {"class_name", "班级", "班级名称", NULL, D, true, 12},
    {"student_no", "学号", NULL, NULL, D, true, 14},
    {"remarks", "备注", NULL, NULL, T, false, 16},
    {"subjects", "资格科目", "可报科目", NULL, T, true, 10},
    {"cet6_barred", "禁报六级", "不可报六级", YES_NO, N, false, 8},
};
SCHEMA(cet_sheet_roster, "roster", "学籍名单", roster_cols);

static const cet_sheet_col_t score_cols[] = {
    {"ticket", "准考证号", NULL, NULL, D, true, 18},
    {"id_number", "证件号码", "身份证号|身份证号码|证件号", NULL, D, true, 22},
    {"name", "姓名", "考生姓名", NULL, T, true, 10},
    {"score", "总分", "成绩|分数", NULL, N, true, 6},
    {"year", "考试年份", "年份", NULL, N, true, 8},
};
SCHEMA(cet_sheet_scores, "scores", "四级成绩", score_cols);

static const cet_sheet_col_t room_cols[] = {
    {"campus_code", "校区代码", "考点代码", NULL, D, true, 10},
    {"room", "考场号", "考场|考场编号", NULL, N, true, 8},
    {"seats", "座位数", "考场座位数|人数", NULL, N, false, 8},
};
SCHEMA(cet_sheet_rooms, "rooms", "考场", room_cols);

#define REG_STATES "unpaid=未缴费;paid=已缴费;locked=已锁定;refund=待退款"
static const cet_sheet_col_t reg_cols[] = {
    {"id_number", "证件号码", NULL, NULL, D, true, 22},
    {"name", "姓名", NULL, NULL, T, true, 10},
    {"roster_no", "学籍序号", NULL, NULL, D, true, 10},
    {"subject", "科目代码", NULL, NULL, T, true, 8},
    {"campus", "校区代码", NULL, NULL, D, true, 10},
    {"fee", "报名费(元)", NULL, NULL, M, true, 10},
    {"state", "状态", NULL, REG_STATES, T, true, 8},
    {"method", "报名方式", NULL, "candidate=考生报名;school=学校报名", T, true, 10},
    {"arranged", "已编排", NULL, YES_NO, N, true, 8},
    {"room", "考场号", NULL, NULL, N, true, 8},
    {"seat", "座位号", NULL, NULL, N, true, 8},
    {"order_id", "订单号", NULL, NULL, D, true, 14},
    {"created_at", "报名时间", NULL, NULL, TM, true, 26},
    {"expires_at", "保留截止", NULL, NULL, TM, true, 26},
};
SCHEMA(cet_sheet_registrations, "registrations", "报名记录", reg_cols);

static const cet_sheet_col_t cand_cols[] = {
    {"roster_no", "学籍序号", NULL, NULL, D, true, 10},
    {"account_id", "账号ID", NULL, NULL, D, true, 34},
    {"email", "邮箱", NULL, NULL, T, true, 24},
    {"id_type", "证件类型", NULL, ID_TYPES, T, true, 14},
    {"id_number", "证件号码", NULL, NULL, D, true, 22},
    {"name", "姓名", NULL, NULL, T, true, 10},
    {"school", "学校代码", NULL, NULL, D, true, 10},
    {"campus", "校区代码", NULL, NULL, D, true, 10},
    {"subjects", "资格科目", NULL, NULL, T, true, 10},
    {"bound_at", "绑定时间", NULL, NULL, TM, true, 26},
    {"empty_due", "未报名删除时间", NULL, NULL, TM, true, 26},
    {"registrations", "已报科目", NULL, NULL, T, true, 10},
};
SCHEMA(cet_sheet_candidates, "candidates", "考生", cand_cols);

static const cet_sheet_col_t order_cols[] = {
    {"order_id", "订单号", NULL, NULL, D, true, 14},
    {"id_number", "证件号码", NULL, NULL, D, true, 22},
    {"subjects", "科目", NULL, NULL, T, true, 8},
    {"amount", "金额(元)", NULL, NULL, M, true, 10},
    {"channel", "支付渠道", NULL, NULL, T, true, 10},
    {"state", "状态", NULL, "pending=待支付;paid=已支付;expired=已过期;refund=待退款", T, true, 8},
    {"created_at", "创建时间", NULL, NULL, TM, true, 26},
    {"paid_at", "支付时间", NULL, NULL, TM, true, 26},
    {"gateway_txn", "支付流水号", NULL, NULL, D, true, 24},
};
SCHEMA(cet_sheet_orders, "orders", "缴费订单", order_cols);

static const cet_sheet_col_t audit_cols[] = {
    {"seq", "序号", NULL, NULL, N, true, 8},      {"at", "时间", NULL, NULL, TM, true, 26},
    {"actor", "操作人", NULL, NULL, T, true, 14}, {"action", "操作", NULL, NULL, T, true, 14},
    {"detail", "详情", NULL, NULL, T, true, 60},
};
SCHEMA(cet_sheet_audit, "audit", "操作日志", audit_cols);

static const cet_sheet_col_t review_cols[] = {
    {"account_id", "账号ID", NULL, NULL, D, true, 34},
    {"roster_no", "学籍序号", NULL, NULL, D, true, 10},
    {"id_type", "证件类型", NULL, ID_TYPES, T, true, 14},
    {"id_number", "证件号码", NULL, NULL, D, true, 22},
    {"name", "姓名", NULL, NULL, T, true, 10},
    {"school", "学校代码", NULL, NULL, D, true, 10},
    {"ticket", "四级准考证号", NULL, NULL, D, true, 18},
    {"state", "审核状态", NULL,
     "auto_approved=自动通过;pending=待审核;approved=已通过;rejected=未通过", T, true, 10},
    {"created_at", "申请时间", NULL, NULL, TM, true, 26},
    {"decided_by", "审核人", NULL, NULL, T, true, 14},
    {"decided_at", "审核时间", NULL, NULL, TM, true, 26},
};
SCHEMA(cet_sheet_reviews, "reviews", "六级资格审核", review_cols);

const cet_sheet_schema_t *cet_sheet_schema_find(const char *kind)
{
    static const cet_sheet_schema_t *const all[] = {
        &cet_sheet_sitting, &cet_sheet_campuses,      &cet_sheet_roster,
        &cet_sheet_scores,  &cet_sheet_rooms,         &cet_sheet_registrations,
        &cet_sheet_candidates, &cet_sheet_orders,     &cet_sheet_audit,
        &cet_sheet_reviews};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->kind, kind) == 0) return all[i];
    return NULL;
}

int cet_sheet_col_index(const cet_sheet_schema_t *sc, const char *name)
{
    for (int i = 0; i < sc->ncols; i++)
        if (strcmp(sc->cols[i].name, name) == 0) return i;
    return -1;
}
