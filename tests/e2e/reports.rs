//! Reports: every CRM report's numbers against the same numbers computed here, in Rust, from the
//! demo records read back through the records API; drill-down; errors; explain; export; as_of.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::{Duration, NaiveDate, Utc};
use e2e::{call, crm, databases, repo, start};
use serde_json::{Map, Value, json};

/// Every live record of `form`, read through the records API.
async fn all<S, B>(app: &S, token: &str, form: &str) -> Vec<Value>
where
    S: actix_web::dev::Service<actix_http::Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let after = if cursor.is_empty() { String::new() } else { format!("&cursor={cursor}") };
        let (status, page) =
            call(app, TestRequest::get().uri(&format!("/api/apps/crm/forms/{form}/records?limit=500{after}")), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => return out,
        }
    }
}

/// A record's value at `path` (system column, field, or dot path through links).
fn get(r: &Value, path: &str, linked: &BTreeMap<String, Value>) -> Value {
    match path.split_once('.') {
        // A part of an object field (a region's `province`).
        Some((field, part)) if r["data"][field].is_object() => r["data"][field][part].clone(),
        Some((link, rest)) => r["data"][link].as_str().and_then(|id| linked.get(id)).map(|t| get(t, rest, linked)).unwrap_or(Value::Null),
        None if r.get(path).is_some() && path != "data" => r[path].clone(),
        None => r["data"].get(path).cloned().unwrap_or(Value::Null),
    }
}

/// A report that counts the rows of child table `table` counts, per row, its record with that
/// one row in place of the table: `payment_plan.due_date` then reads it as an object's part.
fn each_row(records: &[Value], table: &str) -> Vec<Value> {
    let rows_of = |r: &Value| r["data"][table].as_array().cloned().unwrap_or_default();
    let with = |r: &Value, row: Value| {
        let mut r = r.clone();
        r["data"][table] = row;
        r
    };
    records.iter().flat_map(|r| rows_of(r).into_iter().map(move |row| with(r, row))).collect()
}

/// The report filter language, evaluated on one record (only what the CRM reports use).
fn matches(r: &Value, filter: &Map<String, Value>, linked: &BTreeMap<String, Value>, today: NaiveDate) -> bool {
    filter.iter().all(|(key, cond)| {
        let v = get(r, key, linked);
        let ops = match cond {
            Value::Object(o) => o.clone(),
            other => [("eq".to_owned(), other.clone())].into_iter().collect(),
        };
        let text = v.as_str().unwrap_or_default().to_owned();
        let day = |n: i64| (today - Duration::days(n)).to_string();
        ops.iter().all(|(op, arg)| match op.as_str() {
            "eq" => &v == arg,
            "in" => arg.as_array().unwrap().contains(&v),
            "nin" => !arg.as_array().unwrap().contains(&v),
            "is_null" => v.is_null() == arg.as_bool().unwrap(),
            "gt" => v.as_f64().is_some_and(|x| x > arg.as_f64().unwrap()),
            "gte" => v.as_f64().is_some_and(|x| x >= arg.as_f64().unwrap()),
            "lte" => v.as_f64().is_some_and(|x| x <= arg.as_f64().unwrap()),
            "before_now" => !v.is_null() && (text < Utc::now().to_rfc3339()) == arg.as_bool().unwrap(),
            "last_n_days" => !v.is_null() && text >= day(arg.as_i64().unwrap() - 1) && text < day(-1),
            "older_than_days" => !v.is_null() && text < day(arg.as_i64().unwrap() - 1),
            "period" => {
                let prefix = match arg.as_str().unwrap() {
                    "this_year" => today.format("%Y").to_string(),
                    "this_month" => today.format("%Y-%m").to_string(),
                    other => panic!("test evaluator lacks the period `{other}`"),
                };
                text.starts_with(&prefix)
            }
            other => panic!("test evaluator lacks `{other}`"),
        })
    })
}

/// Evaluates a calculated measure over the row's other measures.
fn calc(expr: &str, row: &Map<String, Value>) -> Option<f64> {
    fn sum(t: &[String], i: &mut usize, row: &Map<String, Value>) -> Option<f64> {
        let mut v = product(t, i, row)?;
        while *i < t.len() && (t[*i] == "+" || t[*i] == "-") {
            let op = t[*i].clone();
            *i += 1;
            let r = product(t, i, row)?;
            v = if op == "+" { v + r } else { v - r };
        }
        Some(v)
    }
    fn product(t: &[String], i: &mut usize, row: &Map<String, Value>) -> Option<f64> {
        let mut v = atom(t, i, row)?;
        while *i < t.len() && (t[*i] == "*" || t[*i] == "/") {
            let op = t[*i].clone();
            *i += 1;
            let r = atom(t, i, row)?;
            v = if op == "*" {
                v * r
            } else if r == 0.0 {
                return None;
            } else {
                v / r
            };
        }
        Some(v)
    }
    fn atom(t: &[String], i: &mut usize, row: &Map<String, Value>) -> Option<f64> {
        let tok = t[*i].clone();
        *i += 1;
        if tok == "(" {
            let v = sum(t, i, row);
            *i += 1;
            return v;
        }
        tok.parse().ok().or_else(|| row.get(&tok).and_then(Value::as_f64))
    }
    let spaced = expr.replace('(', " ( ").replace(')', " ) ").replace('/', " / ").replace('*', " * ").replace('+', " + ");
    let tokens: Vec<String> = spaced.split_whitespace().map(str::to_owned).collect();
    sum(&tokens, &mut 0, row)
}

/// The report computed here: groups by the dimensions, then each measure.
fn expected(
    report: &Value,
    records: &[Value],
    linked: &BTreeMap<String, Value>,
    today: NaiveDate,
) -> BTreeMap<Vec<String>, Map<String, Value>> {
    let empty = Map::new();
    let filter = report["filter"].as_object().unwrap_or(&empty);
    let dims = report["dimensions"].as_array().cloned().unwrap_or_default();
    let mut groups: BTreeMap<Vec<String>, Vec<&Value>> = BTreeMap::new();
    for r in records.iter().filter(|r| matches(r, filter, linked, today)) {
        let key = dims
            .iter()
            .map(|d| {
                let v = get(r, d["field"].as_str().unwrap(), linked);
                match d["bucket"].as_str() {
                    Some("month") => v.as_str().map(|s| s[..7].to_owned()).unwrap_or_default(),
                    _ => match v {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    },
                }
            })
            .collect();
        groups.entry(key).or_default().push(r);
    }
    if dims.is_empty() {
        groups.entry(Vec::new()).or_default(); // one row, whatever matches (a KPI of nothing)
    }
    groups
        .into_iter()
        .map(|(key, rs)| {
            let mut row = Map::new();
            for m in report["measures"].as_array().unwrap() {
                let id = m["id"].as_str().unwrap().to_owned();
                if let Some(expr) = m["calc"].as_str() {
                    row.insert(id, calc(expr, &row).map_or(Value::Null, |v| json!(v)));
                    continue;
                }
                let only: Vec<&&Value> =
                    rs.iter().filter(|r| matches(r, m["filter"].as_object().unwrap_or(&empty), linked, today)).collect();
                let num = |r: &Value| {
                    let v = get(r, m["field"].as_str()?, linked).as_f64()?;
                    match m["times"].as_str() {
                        Some(t) => Some(v * get(r, t, linked).as_f64()?),
                        None => Some(v),
                    }
                };
                let nums: Vec<f64> = only.iter().filter_map(|r| num(r)).collect();
                let v = match m["agg"].as_str().unwrap() {
                    "count" => json!(only.len()),
                    "count_distinct" => {
                        let mut vals: Vec<String> = only.iter().map(|r| get(r, m["field"].as_str().unwrap(), linked).to_string()).collect();
                        vals.sort();
                        vals.dedup();
                        json!(vals.len())
                    }
                    // A sum of nothing is 0 (an average of nothing has none).
                    "sum" => json!(nums.iter().sum::<f64>()),
                    "avg" if nums.is_empty() => Value::Null,
                    "avg" => json!(nums.iter().sum::<f64>() / nums.len() as f64),
                    "max" => nums.iter().copied().reduce(f64::max).map_or(Value::Null, |v| json!(v)),
                    other => panic!("test evaluator lacks `{other}`"),
                };
                row.insert(id, v);
            }
            (key, row)
        })
        .collect()
}

fn close(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-6 * x.abs().max(1.0),
        _ => a == b,
    }
}

#[actix_web::test]
async fn every_crm_report_matches_numbers_computed_from_the_records() {
    let today = Utc::now().date_naive();
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        engine.seed("crm", "demo").await.unwrap();
        let app = start(engine).await;
        let t = token.as_str();
        let mut linked = BTreeMap::new();
        for form in ["account", "campaign"] {
            for r in all(&app, t, form).await {
                linked.insert(r["id"].as_str().unwrap().to_owned(), r);
            }
        }
        let dir = repo().join("apps/crm/reports");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let id = path.file_stem().unwrap().to_str().unwrap().to_owned();
            let def: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let mut records = all(&app, t, def["source"].as_str().unwrap()).await;
            if let Some(table) = def["rows"].as_str() {
                records = each_row(&records, table);
            }
            let want = expected(&def, &records, &linked, today);
            let (status, got) = call(&app, TestRequest::get().uri(&format!("/api/apps/crm/reports/{id}")), Some(t)).await;
            assert_eq!(status, StatusCode::OK, "{url} {id}: {got}");
            let dims: Vec<String> =
                def["dimensions"].as_array().map(|d| d.iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()).unwrap_or_default();
            let rows = got["rows"].as_array().unwrap();
            let having_free = def.get("having").is_none();
            if having_free {
                assert_eq!(rows.len(), want.len(), "{url} {id}: group count");
            }
            assert!(!rows.is_empty(), "{url} {id}: the demo data should give rows");
            for row in rows {
                let key: Vec<String> = dims
                    .iter()
                    .map(|d| match &row[d] {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    })
                    .collect();
                let w = want.get(&key).unwrap_or_else(|| panic!("{url} {id}: unexpected group {key:?}"));
                for (m, v) in w {
                    assert!(close(&row[m], v), "{url} {id} {key:?} {m}: report {} vs computed {v}", row[m]);
                }
            }
            if def["totals"] == json!(true) {
                let grand = expected(&json!({"filter": def["filter"], "measures": def["measures"]}), &records, &linked, today);
                for (m, v) in grand.values().next().unwrap() {
                    assert!(close(&got["totals"][m], v), "{url} {id} total {m}: {} vs {v}", got["totals"][m]);
                }
            }
            checked += 1;
        }
        assert!(checked >= 9, "{url}: every CRM report is checked");
    }
}

#[actix_web::test]
async fn drill_down_from_a_funnel_cell_returns_exactly_the_records_counted() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        engine.seed("crm", "demo").await.unwrap();
        let app = start(engine).await;
        let t = Some(token.as_str());
        let (_, funnel) = call(&app, TestRequest::get().uri("/api/apps/crm/reports/sales_funnel"), t).await;
        let opportunities = all(&app, &token, "opportunity").await;
        for row in funnel["rows"].as_array().unwrap() {
            let stage = row["stage"].clone();
            let mut ids = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let body = json!({"cell": {"stage": stage}, "limit": 37, "cursor": cursor});
                let (status, page) =
                    call(&app, TestRequest::post().uri("/api/apps/crm/reports/sales_funnel/drill").set_json(body), t).await;
                assert_eq!(status, StatusCode::OK, "{url}: {page}");
                for item in page["items"].as_array().unwrap() {
                    assert_eq!(item["data"]["stage"], stage);
                    ids.push(item["id"].as_str().unwrap().to_owned());
                }
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => break,
                }
            }
            let mut want: Vec<String> =
                opportunities.iter().filter(|o| o["data"]["stage"] == stage).map(|o| o["id"].as_str().unwrap().to_owned()).collect();
            want.sort();
            ids.sort();
            assert_eq!(ids.len() as u64, row["count"].as_u64().unwrap(), "{url} {stage}");
            assert_eq!(ids, want, "{url} {stage}");
        }
        // A conditional measure narrows the drill to what it counted.
        let (_, rates) = call(&app, TestRequest::get().uri("/api/apps/crm/reports/win_rate_by_owner"), t).await;
        let row = &rates["rows"][0];
        let body = json!({"cell": {"owner": row["owner"]}, "measure": "won", "limit": 500});
        let (_, page) = call(&app, TestRequest::post().uri("/api/apps/crm/reports/win_rate_by_owner/drill").set_json(body), t).await;
        assert_eq!(page["items"].as_array().unwrap().len() as u64, row["won"].as_u64().unwrap(), "{url}");
    }
}

#[actix_web::test]
async fn bad_reports_are_refused_with_pointers_never_sql_errors() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        let cases = [
            (
                json!({"source": "opportunity", "dimensions": [{"id": "x", "field": "nope"}], "measures": [{"id": "n", "agg": "count"}]}),
                "/dimensions/0/field",
            ),
            (
                json!({"source": "opportunity", "dimensions": [{"id": "x", "field": "account.nope"}], "measures": [{"id": "n", "agg": "count"}]}),
                "/dimensions/0/field",
            ),
            (json!({"source": "opportunity", "measures": [{"id": "s", "agg": "sum", "field": "stage"}]}), "/measures/0/field"),
            (
                json!({"source": "opportunity", "filter": {"amount": {"gt": "lots"}}, "measures": [{"id": "n", "agg": "count"}]}),
                "/filter/amount/gt",
            ),
            (
                json!({"source": "opportunity", "filter": {"close_date": {"period": "someday"}}, "measures": [{"id": "n", "agg": "count"}]}),
                "/filter/close_date/period",
            ),
            (json!({"source": "opportunity", "measures": [{"id": "r", "calc": "won / closed"}]}), "/measures/0/calc"),
            (json!({"source": "opportunity", "measures": [{"id": "n", "agg": "count"}], "sort": ["nope"]}), "/sort/0"),
            (json!({"source": "opportunity", "measures": [{"id": "n", "agg": "count"}], "unknown": 1}), "/unknown"),
        ];
        for (body, pointer) in cases {
            let (status, err) = call(&app, TestRequest::post().uri("/api/apps/crm/query").set_json(body.clone()), t).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url} {body}: {err}");
            assert!(err["details"].as_array().unwrap().iter().any(|d| d["path"] == pointer), "{url} {body}: {err}");
        }
        let (status, _) = call(&app, TestRequest::get().uri("/api/apps/crm/reports/nope"), t).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = call(&app, TestRequest::get().uri("/api/apps/crm/reports/sales_funnel?format=pdf"), t).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}

#[actix_web::test]
async fn explain_buckets_pivot_export_and_as_of() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        let (_, account) = call(
            &app,
            TestRequest::post()
                .uri("/api/apps/crm/forms/account/records")
                .set_json(json!({"data": {"name": "Acme", "industry": "retail"}})),
            t,
        )
        .await;
        let account = account["id"].as_str().unwrap().to_owned();
        let mut ids = Vec::new();
        for (i, (stage, amount, close)) in
            [("proposal", 100, "2026-01-15"), ("proposal", 200, "2026-02-03"), ("won", 50, "2026-02-20"), ("lost", 70, "2026-04-01")]
                .into_iter()
                .enumerate()
        {
            let data = json!({"data": {"name": format!("D{i}"), "account": account, "stage": stage, "amount": amount, "close_date": close, "probability": 50}});
            let (status, r) = call(&app, TestRequest::post().uri("/api/apps/crm/forms/opportunity/records").set_json(data), t).await;
            assert_eq!(status, StatusCode::CREATED, "{r}");
            ids.push((r["id"].as_str().unwrap().to_owned(), r["version"].as_i64().unwrap()));
        }
        let q = json!({"source": "opportunity",
            "dimensions": [{"id": "quarter", "field": "close_date", "bucket": "quarter"}, {"id": "industry", "field": "account.industry"}],
            "measures": [{"id": "n", "agg": "count"}, {"id": "amount", "agg": "sum", "field": "amount"},
                         {"id": "won", "agg": "count", "filter": {"stage": "won"}}, {"id": "rate", "calc": "won / n"}],
            "having": {"n": {"gte": 1}}, "pivot": {"rows": ["quarter"], "columns": ["industry"]}, "totals": true});
        let (status, r) = call(&app, TestRequest::post().uri("/api/apps/crm/query?explain=true").set_json(q), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {r}");
        assert_eq!(
            r["rows"],
            json!([
            {"quarter": "2026-Q1", "industry": "retail", "n": 3, "amount": 350.0, "won": 1, "rate": 1.0 / 3.0},
            {"quarter": "2026-Q2", "industry": "retail", "n": 1, "amount": 70.0, "won": 0, "rate": 0.0}]),
            "{url} {}",
            r["sql"]
        );
        assert_eq!(r["totals"]["n"], 4);
        assert_eq!(r["pivot"]["rows"][0]["total"], json!([3, 350.0, 1, 1.0 / 3.0]));
        assert_eq!(r["pivot"]["grand_total"], json!([4, 420.0, 1, 0.25]));
        let sql = r["sql"][0]["sql"].as_str().unwrap();
        assert!(!sql.contains("'won'"), "values are bound, not inlined: {sql}");
        assert!(r["sql"][0]["values"].as_array().unwrap().contains(&json!("won")), "{url}");

        // Export: CSV with labelled header, XLSX as a zip file.
        let resp = actix_web::test::call_service(
            &app,
            TestRequest::get()
                .uri("/api/apps/crm/reports/sales_funnel?format=csv")
                .insert_header(("Authorization", format!("Bearer {token}")))
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body = actix_web::test::read_body(resp).await;
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.trim_start_matches('\u{feff}').starts_with("\"Stage\",\"Opportunities\",\"Amount\""), "{text}");
        assert!(text.contains("\"proposal\",\"2\",\"300"), "{text}");
        let resp = actix_web::test::call_service(
            &app,
            TestRequest::get()
                .uri("/api/apps/crm/reports/sales_funnel?format=xlsx")
                .insert_header(("Authorization", format!("Bearer {token}")))
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(actix_web::test::read_body(resp).await.starts_with(b"PK"));

        // as_of: the funnel before a deal moved and another was deleted.
        let before = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let (id, version) = &ids[0];
        let (status, _) = call(
            &app,
            TestRequest::post()
                .uri(&format!("/api/apps/crm/forms/opportunity/records/{id}/actions/win"))
                .insert_header(("If-Match", version.to_string())),
            t,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (id, version) = &ids[3];
        let (status, _) = call(
            &app,
            TestRequest::delete()
                .uri(&format!("/api/apps/crm/forms/opportunity/records/{id}"))
                .insert_header(("If-Match", version.to_string())),
            t,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let counts = |r: &Value| -> BTreeMap<String, i64> {
            r["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| (row["stage"].as_str().unwrap().to_owned(), row["count"].as_i64().unwrap()))
                .collect()
        };
        let (_, now) = call(&app, TestRequest::get().uri("/api/apps/crm/reports/sales_funnel"), t).await;
        // The funnel leaves won and lost deals out: the deal won leaves the proposal stage.
        assert_eq!(counts(&now), BTreeMap::from([("proposal".into(), 1)]), "{url}");
        let (status, then) =
            call(&app, TestRequest::get().uri(&format!("/api/apps/crm/reports/sales_funnel?as_of={}", before.replace('+', "%2B"))), t)
                .await;
        assert_eq!(status, StatusCode::OK, "{then}");
        assert_eq!(counts(&then), BTreeMap::from([("proposal".into(), 2)]), "{url}");
    }
}

#[actix_web::test]
async fn a_dashboard_runs_its_tiles_with_its_filters_as_the_viewer_may_see_them() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        engine.seed("crm", "demo").await.unwrap();
        let rep = engine.login("rep1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let t = Some(token.as_str());
        let uri = |filter: &str| format!("/api/apps/crm/dashboards/sales?filter={}", filter.replace('"', "%22").replace(' ', "%20"));
        let (status, board) = call(&app, TestRequest::get().uri(&uri(r#"{"owner": ["rep1"]}"#)), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {board}");
        let tiles = board["tiles"].as_array().unwrap();
        assert_eq!(tiles.len(), 6, "{url}");
        // Each tile equals its report run alone with the same condition.
        for tile in tiles {
            let report = tile["report"].as_str().unwrap();
            let alone = format!("/api/apps/crm/reports/{report}?filter={}", r#"{"owner":{"in":["rep1"]}}"#.replace('"', "%22"));
            let (_, expected) = call(&app, TestRequest::get().uri(&alone), t).await;
            assert_eq!(tile["result"]["rows"], expected["rows"], "{url}: {report}");
        }
        // Tiles name their report, and select dimensions carry their options' labels.
        let funnel = &tiles[0]["result"];
        assert_eq!(funnel["label"]["zh-CN"], "销售漏斗", "{url}: {funnel}");
        assert_eq!(funnel["columns"][0]["values"]["negotiation"]["zh-CN"], "商务谈判", "{url}");
        let (_, everyone) = call(&app, TestRequest::get().uri("/api/apps/crm/dashboards/sales"), t).await;
        let count =
            |b: &Value| b["tiles"][0]["result"]["rows"].as_array().unwrap().iter().map(|r| r["count"].as_i64().unwrap()).sum::<i64>();
        assert!(count(&everyone) > count(&board), "{url}: the owner filter narrows the funnel");
        // A rep sees the same dashboard over their own deals only.
        let (_, mine) = call(&app, TestRequest::get().uri("/api/apps/crm/dashboards/sales"), Some(&rep)).await;
        assert_eq!(count(&mine), count(&board), "{url}: rep1's scope is rep1's deals");
        let (status, _) = call(&app, TestRequest::get().uri(&uri(r#"{"colour": "red"}"#)), t).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
        // Export headers in the viewer's language.
        let resp = actix_web::test::call_service(
            &app,
            TestRequest::get()
                .uri("/api/apps/crm/reports/sales_funnel?format=csv&lang=zh-CN")
                .insert_header(("Authorization", format!("Bearer {token}")))
                .to_request(),
        )
        .await;
        let csv = String::from_utf8(actix_web::test::read_body(resp).await.to_vec()).unwrap();
        assert!(csv.lines().next().unwrap().contains("阶段"), "{url}: {csv}");
        let (status, _) = call(&app, TestRequest::get().uri("/api/apps/crm/dashboards/nope"), t).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
    }
}

/// A dashboard may be for some roles only: to anyone else it does not exist — not in the app's
/// menu, 404 when asked for — while its holders and admins see it.
#[actix_web::test]
async fn a_dashboard_for_some_roles_does_not_exist_for_the_others() {
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let rep = engine.login("rep1", "demo").await.unwrap().token;
        let manager = engine.login("manager1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let a = Some(admin.as_str());
        let at = "/api/apps/crm/definitions/dashboard/management";
        let (_, view) = call(&app, TestRequest::get().uri(at), a).await;
        let mut managers_only = view["definition"].clone();
        managers_only["roles"] = json!(["sales_manager", "executive"]);
        let save = TestRequest::put()
            .uri(at)
            .insert_header(("If-Match", format!("\"{}\"", view["version"])))
            .set_json(json!({"definition": managers_only}));
        let (status, saved) = call(&app, save, a).await;
        assert_eq!((status, saved["problems"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{url}: {saved}");
        let (status, release) =
            call(&app, TestRequest::post().uri("/api/apps/crm/publish").set_json(json!({"message": "managers only"})), a).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {release}");

        let listed = |view: &Value| view["dashboards"].as_array().unwrap().iter().any(|d| d["id"] == "management");
        for (who, sees) in [(&rep, false), (&manager, true), (&admin, true)] {
            let (_, view) = call(&app, TestRequest::get().uri("/api/apps/crm"), Some(who)).await;
            assert_eq!(listed(&view), sees, "{url}: {view}");
            let (status, _) = call(&app, TestRequest::get().uri("/api/apps/crm/dashboards/management"), Some(who)).await;
            assert_eq!(status, if sees { StatusCode::OK } else { StatusCode::NOT_FOUND }, "{url}");
        }
        // A role the app does not have is a problem of the draft, at its pointer.
        let (_, view) = call(&app, TestRequest::get().uri(at), a).await;
        let mut unknown = view["definition"].clone();
        unknown["roles"] = json!(["pilot"]);
        let save = TestRequest::put()
            .uri(at)
            .insert_header(("If-Match", format!("\"{}\"", view["version"])))
            .set_json(json!({"definition": unknown}));
        let (_, saved) = call(&app, save, a).await;
        assert_eq!(saved["problems"][0]["pointer"], "/roles/0", "{url}: {saved}");
    }
}

/// A sum over no records is 0, not unknown: what a campaign that won nothing has won, so its
/// return on cost is −100 %. An average over none stays unknown.
#[actix_web::test]
async fn a_sum_of_nothing_is_zero_and_its_return_on_cost_minus_one() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        engine.seed("crm", "demo").await.unwrap();
        let app = start(engine).await;
        let body = json!({
            "source": "opportunity",
            "measures": [
                {"id": "won", "agg": "sum", "field": "amount", "filter": {"amount": {"gt": 1e13}}},
                {"id": "mean", "agg": "avg", "field": "amount", "filter": {"amount": {"gt": 1e13}}},
                {"id": "cost", "agg": "count"},
                {"id": "roi", "calc": "(won - cost) / cost"},
            ],
        });
        let (status, answer) = call(&app, TestRequest::post().uri("/api/apps/crm/query").set_json(body), Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {answer}");
        let row = &answer["rows"][0];
        assert_eq!((row["won"].as_f64(), &row["mean"], row["roi"].as_f64()), (Some(0.0), &Value::Null, Some(-1.0)), "{url}: {answer}");
    }
}
