//! Tests of the printer: checks at load, escaping, errors with positions, and the CRM's quote
//! and contract rendered from a realistic context (compared with golden files).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::{PrintSettings, Printer, RenderError, TemplateError};

fn settings() -> PrintSettings {
    PrintSettings {
        name: "上海云杉信息科技有限公司".to_owned(),
        name_alt: Some("Shanghai Yunshan Information Technology Co., Ltd.".to_owned()),
        address: Some("上海市浦东新区张江高科技园区碧波路690号3号楼5层".to_owned()),
        phone: Some("021-5080 1234".to_owned()),
        email: Some("sales@yunshan-tech.cn".to_owned()),
        website: Some("www.yunshan-tech.cn".to_owned()),
        logo_url: None,
        tax_id: Some("91310115MA1K4B2X7Q".to_owned()),
        bank_name: Some("招商银行上海张江支行".to_owned()),
        bank_account: Some("1219 0876 5410 001".to_owned()),
    }
}

fn printer(templates: &[(&str, &str)]) -> Result<Printer, Vec<TemplateError>> {
    let map: BTreeMap<String, String> = templates.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Printer::new(&map, &settings())
}

fn errors(templates: &[(&str, &str)]) -> Vec<String> {
    match printer(templates) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn render(template: &str, context: Value) -> Result<String, RenderError> {
    let p = printer(&[("t", template)]).unwrap_or_else(|e| panic!("{e:?}"));
    p.render("t", &context)
}

/// The body of a rendered document, without the layout around it.
fn body(template: &str, context: Value) -> String {
    let html = render(template, context).unwrap_or_else(|e| panic!("{e}"));
    let start = html.find("<main class=\"document\">").map_or(0, |i| i + "<main class=\"document\">".len());
    let end = html.rfind("</main>").unwrap_or(html.len());
    html[start..end].trim().to_owned()
}

#[test]
fn printer_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Printer>();
}

#[test]
fn escapes_record_fields() {
    let out = body("<p>{{record.data.name}}</p>", json!({"record": {"data": {"name": "<script>alert(1)</script>\"&'"}}}));
    assert_eq!(out, "<p>&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;&#x27;</p>");
    // Helper output is escaped too.
    let out = body(
        "{{label options.x record.data.x}}",
        json!({"record": {"data": {"x": "a"}}, "options": {"x": [{"value": "a", "label": "<b>"}]}}),
    );
    assert_eq!(out, "&lt;b&gt;");
}

#[test]
fn the_letterhead_is_escaped_too() {
    let mut s = settings();
    s.name = "<img src=x onerror=alert(1)>".to_owned();
    let map = BTreeMap::from([("t".to_owned(), "x".to_owned())]);
    let html = Printer::new(&map, &s).unwrap_or_else(|e| panic!("{e:?}")).render("t", &json!({}));
    let html = html.unwrap_or_else(|e| panic!("{e}"));
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(html.contains("&lt;img src&#x3D;x"), "{html}");
}

#[test]
fn refuses_unescaped_output() {
    assert_eq!(
        errors(&[("quote", "<p>\n  {{{record.data.notes}}}</p>")]),
        ["templates/quote.hbs:2:3: `{{{record.data.notes}}}` would print without HTML escaping; write `{{record.data.notes}}`"]
    );
    assert_eq!(errors(&[("quote", "{{&record.data.notes}}")]).len(), 1);
}

#[test]
fn a_missing_helper_names_template_and_position() {
    let errs = errors(&[("quote", "<h1>Quote</h1>\n<p>{{monney record.data.total}}</p>")]);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("templates/quote.hbs:2:4: no helper named `monney`; helpers are: "), "{}", errs[0]);
    // In a block, a subexpression, an else-if chain.
    let errs =
        errors(&[("contract", "{{#each rows}}{{money (summ amount)}}{{/each}}\n{{#iff x}}{{/iff}}\n{{#if a}}{{else if (nope b)}}{{/if}}")]);
    let errs: Vec<&str> = errs.iter().map(|e| e.split(';').next().unwrap_or_default()).collect();
    assert_eq!(
        errs,
        [
            "templates/contract.hbs:1:15: no helper named `summ`",
            "templates/contract.hbs:2:1: no helper named `iff`",
            "templates/contract.hbs:3:1: no helper named `nope`",
        ]
    );
}

#[test]
fn a_helper_without_arguments_is_flagged() {
    let errs = errors(&[("t", "{{#each rows}}{{date}}{{/each}}")]);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].contains("`{{date}}` calls the date helper"), "{}", errs[0]);
    // The way round it works.
    assert_eq!(body("{{#each rows}}{{this.date}}{{/each}}", json!({"rows": [{"date": "x"}]})), "x");
}

#[test]
fn syntax_errors_have_positions() {
    let errs = errors(&[("a", "ok"), ("b", "<p>\n{{#if x}}\n</p>")]);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("templates/b.hbs:"), "{}", errs[0]);
}

#[test]
fn every_problem_at_once() {
    let errs = errors(&[("a", "{{foo x}}"), ("b", "{{{y}}}"), ("c", "{{> missing}}"), ("d", "{{#*inline \"p\"}}x{{/inline}}")]);
    let files: Vec<&str> = errs.iter().map(|e| e.split(':').next().unwrap_or_default()).collect();
    assert_eq!(files, ["templates/a.hbs", "templates/b.hbs", "templates/c.hbs", "templates/d.hbs"], "{errs:?}");
}

#[test]
fn partials_are_other_templates_without_loops() {
    let p = printer(&[("terms", "<p>{{record.data.terms}}</p>"), ("contract", "<h1>C</h1>{{> terms}}")]);
    let p = p.unwrap_or_else(|e| panic!("{e:?}"));
    let html = p.render("contract", &json!({"record": {"data": {"terms": "30 days"}}}));
    assert!(html.unwrap_or_else(|e| panic!("{e}")).contains("<h1>C</h1><p>30 days</p>"));

    let errs = errors(&[("a", "{{> b}}"), ("b", "x\n {{> c}}"), ("c", "{{> a}}")]);
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert_eq!(errs[1], "templates/b.hbs:2:2: templates include each other in a loop: b → c → a → b");
    assert_eq!(errors(&[("a", "{{> a}}")]), ["templates/a.hbs:1:1: template a includes itself"]);
    assert_eq!(errors(&[("a", "{{> (lookup x \"y\")}}")]).len(), 1);
}

#[test]
fn render_errors_name_template_and_position() {
    let err = render("<p>\n  {{cn_upper record.data.total}}</p>", json!({"record": {"data": {"total": "lots"}}}));
    assert_eq!(err.map_err(|e| e.to_string()), Err("templates/t.hbs:2:3: cn_upper: \"lots\" is not a number".to_owned()));
    let err = render("{{cn_upper x}}", json!({"x": 1e13}));
    assert_eq!(
        err.map_err(|e| e.to_string()),
        Err("templates/t.hbs:1:1: cn_upper: 10000000000000 is too large (at most 999,999,999,999.99)".to_owned())
    );
    let p = printer(&[("t", "x")]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(p.render("nope", &json!({})), Err(RenderError::UnknownTemplate("nope".to_owned())));
    assert_eq!(p.render("t", &json!([])), Err(RenderError::ContextNotObject));
}

#[test]
fn empty_fields_print_nothing() {
    let out = body(
        "[{{money record.data.a}}|{{date record.data.b}}|{{cn_upper record.data.c}}|{{record.data.d}}|{{sum record.data.e \"x\"}}]",
        json!({"record": {"data": {}}, "locale": "zh-CN"}),
    );
    assert_eq!(out, "[||||0]");
}

#[test]
fn money_and_dates_follow_the_locale() {
    let template = "{{money x}} {{money y}} {{date d}} {{money x locale=\"en\"}} {{money x symbol=false}} {{money x currency=\"USD\"}}";
    let context = |locale: &str| json!({"x": 12345.675, "y": -3, "d": "2026-11-23", "locale": locale});
    assert_eq!(body(template, context("zh-CN")), "¥12,345.68 -¥3.00 2026年11月23日 CNY 12,345.68 12,345.68 USD 12,345.68");
    assert_eq!(body(template, context("en")), "CNY 12,345.68 -CNY 3.00 23 Nov 2026 CNY 12,345.68 12,345.68 USD 12,345.68");
}

#[test]
fn arithmetic_is_exact() {
    let rows = json!({"rows": [{"a": 0.1}, {"a": 0.2}, {"a": null}, {}, {"a": "0.3"}], "n": [1, 2, 3]});
    assert_eq!(
        body("{{sum rows \"a\"}} {{sum n}} {{add 0.1 0.2}} {{sub 1 0.9}} {{mul 3 19.99}} [{{mul 2 x}}]", rows),
        "0.6 6 0.3 0.1 59.97 []"
    );
    assert_eq!(body("{{percent 1 3}} {{percent 1 3 decimals=1}} {{percent 1 0}} {{percent -1 4}}", json!({})), "33% 33.3%  -25%");
    assert_eq!(body("{{#each rows}}{{inc @index}},{{/each}}", json!({"rows": [1, 2, 3]})), "1,2,3,");
    assert_eq!(body("{{en_words 12345.67}}", json!({})), "twelve thousand three hundred forty-five and 67/100");
}

#[test]
fn links_by_field_and_by_id() {
    let context = json!({
        "record": {"data": {"account": "0190-a", "name": "0190-zzz", "items": [{"product": "0190-p"}], "tags": ["0190-a"]}},
        "linked": {"0190-a": {"name": "华信精密机械有限公司"}, "0190-p": {"name": "云杉 CRM 企业版"}},
    });
    let out = body(
        "{{links.account.name}}|{{links.name}}|{{#each record.data.items}}{{#with (link product)}}{{name}}{{/with}}{{/each}}|{{#each links.tags}}{{name}}{{/each}}|{{#with (link \"x\")}}y{{else}}none{{/with}}",
        context,
    );
    assert_eq!(out, "华信精密机械有限公司||云杉 CRM 企业版|华信精密机械有限公司|none");
}

#[test]
fn the_document_is_complete() {
    let html = render("<p>hi</p>", json!({"locale": "zh-CN", "title": "报价单 QT-1"})).unwrap_or_else(|e| panic!("{e}"));
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"zh-CN\">"), "{html}");
    assert!(html.contains("<title>报价单 QT-1</title>"));
    assert!(html.contains("size: A4"));
    assert!(html.contains("上海云杉信息科技有限公司"));
    assert!(html.contains("Shanghai Yunshan Information Technology Co., Ltd."));
    assert!(html.trim_end().ends_with("</html>"));
}

// ---- The CRM's templates ----

fn crm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apps/crm")
}

fn crm_printer() -> Printer {
    let mut templates = BTreeMap::new();
    for entry in std::fs::read_dir(crm_dir().join("templates")).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.extension().is_some_and(|e| e == "hbs") {
            let id = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            templates.insert(id, std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}")));
        }
    }
    Printer::new(&templates, &settings())
        .unwrap_or_else(|errors| panic!("{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")))
}

/// `options.<form>.<field>` for the select fields of `forms`, as the engine passes them.
fn crm_options(forms: &[&str]) -> Value {
    let mut options = serde_json::Map::new();
    for form in forms {
        let text = std::fs::read_to_string(crm_dir().join(format!("forms/{form}.json"))).unwrap_or_else(|e| panic!("{e}"));
        let def: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let mut fields = serde_json::Map::new();
        for field in def["fields"].as_array().into_iter().flatten() {
            if let (Some(id), Some(list)) = (field["id"].as_str(), field.get("options")) {
                fields.insert(id.to_owned(), list.clone());
            }
        }
        options.insert((*form).to_owned(), Value::Object(fields));
    }
    Value::Object(options)
}

fn common(locale: &str) -> Value {
    json!({
        "user": {"username": "rep1", "name": "王晓明", "email": "wang.xiaoming@yunshan-tech.cn"},
        "app": {"id": "crm", "name": "客户关系管理"},
        "locale": locale,
        "now": "2026-11-23T14:05:00+08:00",
    })
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    base
}

fn quote_context() -> Value {
    merge(
        common("zh-CN"),
        json!({
            "title": "报价单 QT-2026-00042",
            "record": {
                "id": "0193a1c2-0000-7000-8000-000000000042", "form": "quote", "version": 3, "state": null,
                "owner": "rep1", "created_by": "rep1", "created_at": "2026-11-20T02:15:00Z",
                "updated_by": "rep1", "updated_at": "2026-11-21T08:00:00Z",
                "data": {
                    "number": "QT-2026-00042",
                    "account": "0193a1c2-0000-7000-8000-00000000a001",
                    "contact": "0193a1c2-0000-7000-8000-00000000c001",
                    "opportunity": "0193a1c2-0000-7000-8000-00000000e001",
                    "status": "sent",
                    "valid_until": "2026-12-31",
                    "items": [
                        {"product": "0193a1c2-0000-7000-8000-00000000b001", "qty": 1, "unit_price": 168000, "amount": 168000},
                        {"product": "0193a1c2-0000-7000-8000-00000000b002", "qty": 120, "unit_price": 1280, "amount": 153600},
                        {"product": "0193a1c2-0000-7000-8000-00000000b003", "qty": 15, "unit_price": 2800, "amount": 42000},
                        {"product": "0193a1c2-0000-7000-8000-00000000b004", "qty": 2, "unit_price": 12345.67, "amount": 24691.34}
                    ],
                    "discount": 8,
                    "total": 357916.03,
                    "payment_terms": "合同签订后5个工作日内支付50%，上线验收后支付40%，质保期满支付10%。",
                    "notes": "实施地点：苏州工业园区。\n含3个月免费运维支持；<培训>另计。"
                }
            },
            "linked": {
                "0193a1c2-0000-7000-8000-00000000a001": {
                    "name": "华信精密机械股份有限公司", "province": {"province": "江苏省", "city": "苏州市"},
                    "address": "工业园区星湖街328号", "phone": "0512-6288 7766", "credit_code": "91320594MA1NQ7XK3D"
                },
                "0193a1c2-0000-7000-8000-00000000c001": {
                    "name": "李娜", "title": "采购经理", "phone": "138 0151 2233", "email": "lina@huaxin-pm.com"
                },
                "0193a1c2-0000-7000-8000-00000000e001": {"name": "华信精密 CRM 升级项目"},
                "0193a1c2-0000-7000-8000-00000000b001": {"code": "TS-CRM100", "name": "云杉 CRM 企业版", "unit": "set"},
                "0193a1c2-0000-7000-8000-00000000b002": {"code": "TS-SUB210", "name": "云杉 CRM 订阅（用户·年）", "unit": "user_year"},
                "0193a1c2-0000-7000-8000-00000000b003": {"code": "TS-SVC305", "name": "实施与培训服务", "unit": "person_day"},
                "0193a1c2-0000-7000-8000-00000000b004": {"code": "TS-HW020", "name": "工业数据采集网关", "unit": "unit"}
            },
            "options": crm_options(&["quote", "product", "account"]),
        }),
    )
}

fn contract_context() -> Value {
    merge(
        common("zh-CN"),
        json!({
            "title": "合同 HT-2026-00017",
            "record": {
                "id": "0193a1c2-0000-7000-8000-000000000017", "form": "contract", "version": 5, "state": null,
                "owner": "rep1", "created_by": "rep1", "created_at": "2026-11-22T03:00:00Z",
                "updated_by": "legal1", "updated_at": "2026-11-23T01:00:00Z",
                "data": {
                    "number": "HT-2026-00017",
                    "name": "华信精密 CRM 升级项目销售合同",
                    "type": "sales",
                    "account": "0193a1c2-0000-7000-8000-00000000a001",
                    "quote": "0193a1c2-0000-7000-8000-000000000042",
                    "amount": 357916.03,
                    "paid_amount": 0, "receivable": 357916.03, "overdue_amount": 0,
                    "status": "signed",
                    "signed_date": "2026-11-25",
                    "start_date": "2026-12-01",
                    "end_date": "2027-11-30",
                    "payment_plan": [
                        {"due_date": "2026-12-05", "amount": 178958.02, "note": "预付款：合同签订后5个工作日内"},
                        {"due_date": "2027-03-31", "amount": 143166.41, "note": "上线验收合格后"},
                        {"due_date": "2027-11-30", "amount": 35791.6, "note": "质保金：质保期满后"}
                    ],
                    "terms": "1. 乙方负责系统部署、数据迁移与用户培训，项目周期约16周。\n2. 质保期为上线验收之日起12个月，质保期内乙方免费提供缺陷修复与远程支持。\n3. 任何一方逾期履行义务的，每逾期一日按未履行部分金额的0.05%向守约方支付违约金，累计不超过合同总额的10%。\n4. 双方对在合作中知悉的对方商业秘密负有保密义务，本条在合同终止后三年内继续有效。"
                }
            },
            "linked": {
                "0193a1c2-0000-7000-8000-00000000a001": {
                    "name": "华信精密机械股份有限公司", "province": {"province": "江苏省", "city": "苏州市"},
                    "address": "工业园区星湖街328号", "phone": "0512-6288 7766", "credit_code": "91320594MA1NQ7XK3D"
                },
                "0193a1c2-0000-7000-8000-000000000042": {"number": "QT-2026-00042", "total": 357916.03}
            },
            "options": crm_options(&["contract", "account"]),
        }),
    )
}

/// Compares with the golden file (rewritten with `UPDATE_GOLDEN=1`), and writes a preview.
fn golden(name: &str, html: &str) {
    preview(name, html);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("golden/{name}.html"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&path, html).unwrap_or_else(|e| panic!("{e}"));
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(expected == html, "{name}.html differs from {}; rerun with UPDATE_GOLDEN=1 and review the diff", path.display());
}

/// With `TESSERA_PRINT_PREVIEW=<dir>`, writes the HTML there to look at in a browser or as PDF.
fn preview(name: &str, html: &str) {
    if let Ok(dir) = std::env::var("TESSERA_PRINT_PREVIEW") {
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(Path::new(&dir).join(format!("{name}.html")), html).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn crm_quote() {
    let html = crm_printer().render("quote", &quote_context()).unwrap_or_else(|e| panic!("{e}"));
    for expected in [
        "QT-2026-00042",
        "华信精密机械股份有限公司",
        "江苏省苏州市工业园区星湖街328号",
        "云杉 CRM 企业版",
        "用户·年",
        "24,691.34",
        "¥388,291.34",                    // subtotal
        "-¥30,375.31",                    // 8 % discount
        "¥357,916.03",                    // total
        "叁拾伍万柒仟玖佰壹拾陆元零叁分", // total in capitals
        "three hundred fifty-seven thousand nine hundred sixteen and 03/100",
        "2026年12月31日",
        "&lt;培训&gt;",
    ] {
        assert!(html.contains(expected), "quote lacks {expected}");
    }
    golden("quote", &html);
}

#[test]
fn crm_contract() {
    let html = crm_printer().render("contract", &contract_context()).unwrap_or_else(|e| panic!("{e}"));
    for expected in [
        "销售合同",
        "Sales contract",
        "HT-2026-00017",
        "91320594MA1NQ7XK3D",
        "招商银行上海张江支行",
        "¥357,916.03",
        "叁拾伍万柒仟玖佰壹拾陆元零叁分",
        "本合同期限自2026年12月1日起至2027年11月30日止",
        "178,958.02",
        "50%",
        "100%",
        "QT-2026-00042",
    ] {
        assert!(html.contains(expected), "contract lacks {expected}");
    }
    golden("contract", &html);
}

#[test]
fn crm_templates_in_english_and_with_little_data() {
    let p = crm_printer();
    let mut context = quote_context();
    context["locale"] = json!("en");
    context["record"]["data"]["status"] = json!("draft");
    let html = p.render("quote", &context).unwrap_or_else(|e| panic!("{e}"));
    assert!(html.contains("CNY 357,916.03") && html.contains("31 Dec 2026") && html.contains("Draft"));
    preview("quote_en_draft", &html);
    // A record with only its required fields, nothing linked readable, no options.
    let bare = merge(
        common("zh-CN"),
        json!({"record": {"created_at": "2026-11-20T02:15:00Z", "data": {
        "number": "QT-2026-00001", "account": "x", "items": [{"product": "y", "qty": 1, "unit_price": 10}]}}}),
    );
    let html = p.render("quote", &bare).unwrap_or_else(|e| panic!("{e}"));
    assert!(html.contains("QT-2026-00001"));
    let bare = merge(common("en"), json!({"record": {"data": {"number": "HT-2026-00001", "name": "N", "amount": 10}}}));
    let html = p.render("contract", &bare).unwrap_or_else(|e| panic!("{e}"));
    assert!(html.contains("壹拾元整"));
}
