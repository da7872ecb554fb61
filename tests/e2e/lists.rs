//! Listing: filter operators, dot paths through links, sort, keyset cursors, field selection.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
use serde_json::{Value, json};

fn list_uri(form: &str, query: &[(&str, &str)]) -> String {
    let qs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", e2e::url_encode(v))).collect();
    format!("/api/apps/crm/forms/{form}/records?{}", qs.join("&"))
}

fn names(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|r| r["data"]["name"].as_str().unwrap().to_owned()).collect()
}

#[actix_web::test]
async fn filters_sorts_and_pages_with_cursors() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());

        // Two accounts in different industries, 30 opportunities spread over them.
        let industries = {
            let (_, app_def) = call(&app, TestRequest::get().uri("/api/apps/crm"), t).await;
            let fields = app_def["forms"]["account"]["fields"].as_array().unwrap().clone();
            let industry = fields.iter().find(|f| f["id"] == "industry").unwrap().clone();
            let options: Vec<String> =
                industry["options"].as_array().unwrap().iter().map(|o| o["value"].as_str().unwrap().to_owned()).collect();
            (options[0].clone(), options[1].clone())
        };
        let mut accounts = Vec::new();
        for (name, industry) in [("Alpha Retail", &industries.0), ("Beta Energy", &industries.1)] {
            let (status, a) = call(
                &app,
                TestRequest::post()
                    .uri("/api/apps/crm/forms/account/records")
                    .set_json(json!({"data": {"name": name, "industry": industry}})),
                t,
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {a}");
            accounts.push(a["id"].as_str().unwrap().to_owned());
        }
        let stages = ["initial_contact", "needs_analysis", "proposal", "negotiation", "won", "lost"];
        for i in 0..30_usize {
            let mut data = json!({
                "name": format!("Deal {i:02}"),
                "account": accounts[i % 2],
                "amount": 10_000 * ((i * 7) % 13) as i64 + 500,
                "stage": stages[i % stages.len()],
            });
            if i % 5 != 0 {
                data["close_date"] = json!(format!("2026-{:02}-15", 1 + i % 12));
            }
            let (status, body) =
                call(&app, TestRequest::post().uri("/api/apps/crm/forms/opportunity/records").set_json(json!({ "data": data })), t).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        }
        // What each deal is, computed here independently of the database.
        let deal = |i: usize| (format!("Deal {i:02}"), (10_000 * ((i * 7) % 13) + 500) as f64, stages[i % 6], i % 2, !i.is_multiple_of(5));
        let expect = |pred: &dyn Fn(usize) -> bool| -> Vec<String> {
            let mut v: Vec<String> = (0..30).filter(|i| pred(*i)).map(|i| deal(i).0).collect();
            v.sort();
            v
        };
        let query = |filter: Value| {
            let uri = list_uri("opportunity", &[("filter", &filter.to_string()), ("sort", "name"), ("limit", "500")]);
            let app = &app;
            async move {
                let (status, page) = call(app, TestRequest::get().uri(&uri), t).await;
                assert_eq!(status, StatusCode::OK, "{filter}: {page}");
                names(&page)
            }
        };

        assert_eq!(query(json!({"stage": "proposal"})).await, expect(&|i| deal(i).2 == "proposal"), "{url}");
        assert_eq!(
            query(json!({"stage": "proposal", "amount": {"gt": 50000}})).await,
            expect(&|i| deal(i).2 == "proposal" && deal(i).1 > 50000.0),
            "{url}"
        );
        assert_eq!(query(json!({"stage": {"ne": "won"}})).await, expect(&|i| deal(i).2 != "won"), "{url}");
        assert_eq!(query(json!({"stage": {"in": ["won", "lost"]}})).await, expect(&|i| ["won", "lost"].contains(&deal(i).2)), "{url}");
        assert_eq!(query(json!({"stage": {"nin": ["won", "lost"]}})).await, expect(&|i| !["won", "lost"].contains(&deal(i).2)), "{url}");
        assert_eq!(
            query(json!({"amount": {"between": [20000, 60500]}})).await,
            expect(&|i| (20000.0..=60500.0).contains(&deal(i).1)),
            "{url}"
        );
        assert_eq!(
            query(json!({"amount": {"gte": 60500, "lt": 100500}})).await,
            expect(&|i| deal(i).1 >= 60500.0 && deal(i).1 < 100500.0),
            "{url}"
        );
        assert_eq!(query(json!({"close_date": {"is_null": true}})).await, expect(&|i| !deal(i).4), "{url}");
        assert_eq!(query(json!({"close_date": {"lte": "2026-03-31"}})).await, expect(&|i| deal(i).4 && i % 12 < 3), "{url}");
        assert_eq!(query(json!({"name": {"contains": "al 1"}})).await, expect(&|i| deal(i).0.to_lowercase().contains("al 1")), "{url}");
        assert_eq!(query(json!({"name": {"starts_with": "deal 2"}})).await, expect(&|i| deal(i).0.starts_with("Deal 2")), "{url}");
        assert_eq!(
            query(json!({"or": [{"stage": "won"}, {"amount": {"lt": 10000}}]})).await,
            expect(&|i| deal(i).2 == "won" || deal(i).1 < 10000.0),
            "{url}"
        );
        assert_eq!(query(json!({"account.industry": industries.1})).await, expect(&|i| deal(i).3 == 1), "{url}");
        assert_eq!(
            query(json!({"account.name": {"starts_with": "alpha"}, "stage": "won"})).await,
            expect(&|i| deal(i).3 == 0 && deal(i).2 == "won"),
            "{url}"
        );

        // Paging by -amount, name in pages of 7 visits every record once, in order.
        let mut seen: Vec<(f64, String)> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut q = vec![("sort", "-amount,name"), ("limit", "7"), ("fields", "name,amount")];
            let c = cursor.clone().unwrap_or_default();
            if cursor.is_some() {
                q.push(("cursor", &c));
            }
            let (status, page) = call(&app, TestRequest::get().uri(&list_uri("opportunity", &q)), t).await;
            assert_eq!(status, StatusCode::OK, "{url}: {page}");
            pages += 1;
            for item in page["items"].as_array().unwrap() {
                assert_eq!(item["data"].as_object().unwrap().len(), 2, "fields= keeps only name and amount");
                seen.push((item["data"]["amount"].as_f64().unwrap(), item["data"]["name"].as_str().unwrap().to_owned()));
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 5, "{url}");
        let mut expected: Vec<(f64, String)> = (0..30).map(|i| (deal(i).1, deal(i).0)).collect();
        expected.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        assert_eq!(seen, expected, "{url}");

        // Sorting on a field some records lack: missing values first ascending, last descending.
        let (_, page) =
            call(&app, TestRequest::get().uri(&list_uri("opportunity", &[("sort", "close_date,name"), ("limit", "6")])), t).await;
        assert_eq!(names(&page), expect(&|i| !deal(i).4), "{url}");
        let mut walked = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let c = cursor.clone().unwrap_or_default();
            let mut q = vec![("sort", "-close_date,name"), ("limit", "4")];
            if cursor.is_some() {
                q.push(("cursor", &c));
            }
            let (_, page) = call(&app, TestRequest::get().uri(&list_uri("opportunity", &q)), t).await;
            walked.extend(names(&page));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(walked.len(), 30, "{url}");
        assert_eq!(walked[24..].to_vec(), expect(&|i| !deal(i).4), "{url}: nulls last when descending");
    }
}

#[actix_web::test]
async fn malformed_queries_get_400_with_a_pointer() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        for (query, path) in [
            (vec![("filter", "{not json")], "/filter"),
            (vec![("filter", "[1]")], "/filter"),
            (vec![("filter", r#"{"colour": "red"}"#)], "/filter/colour"),
            (vec![("filter", r#"{"amount": {"gt": "many"}}"#)], "/filter/amount/gt"),
            (vec![("filter", r#"{"amount": {"near": 5}}"#)], "/filter/amount/near"),
            (vec![("filter", r#"{"amount": {"contains": "5"}}"#)], "/filter/amount/contains"),
            (vec![("filter", r#"{"name.industry": "x"}"#)], "/filter/name.industry"),
            (vec![("filter", r#"{"account.colour": "x"}"#)], "/filter/account.colour"),
            (vec![("filter", r#"{"competitors": "x"}"#)], "/filter/competitors/eq"),
            (vec![("filter", r#"{"or": {"stage": "won"}}"#)], "/filter/or"),
            (vec![("sort", "-colour")], "/sort"),
            (vec![("limit", "0")], "/limit"),
            (vec![("limit", "100000")], "/limit"),
            (vec![("cursor", "garbage")], "/cursor"),
            (vec![("fields", "name,colour")], "/fields"),
        ] {
            let (status, body) = call(&app, TestRequest::get().uri(&list_uri("opportunity", &query)), t).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {query:?}: {body}");
            assert_eq!(body["details"][0]["path"], path, "{url}: {query:?}: {body}");
        }
        let (status, _) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/opportunity/records?limit=abc"), t).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
        let (status, _) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/opportunity/records?bogus=1"), t).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
    }
}

/// Records that tie on every sort key follow each other by id, descending when the last key
/// descends (so an index on the sort fields and id serves the page), and paging through ties
/// in either direction sees every record once.
#[actix_web::test]
async fn ties_follow_the_last_keys_direction_and_page_through_once() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        for i in 0..7 {
            let data = json!({"code": format!("T{i}"), "name": format!("Tie {i}"), "unit": if i < 5 { "set" } else { "piece" }});
            let (status, body) =
                call(&app, TestRequest::post().uri("/api/apps/crm/forms/product/records").set_json(json!({"data": data})), t).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        }
        for sort in ["-unit", "unit"] {
            let (mut seen, mut cursor) = (Vec::new(), None::<String>);
            loop {
                let mut query = vec![("sort", sort), ("limit", "2"), ("filter", r#"{"code": {"starts_with": "T"}}"#)];
                if let Some(c) = &cursor {
                    query.push(("cursor", c.as_str()));
                }
                let (status, page) = call(&app, TestRequest::get().uri(&list_uri("product", &query)), t).await;
                assert_eq!(status, StatusCode::OK, "{url}: {page}");
                for item in page["items"].as_array().unwrap() {
                    seen.push((item["data"]["unit"].as_str().unwrap().to_owned(), item["id"].as_str().unwrap().to_owned()));
                }
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
            let mut expected = seen.clone();
            expected.sort();
            if sort.starts_with('-') {
                expected.reverse();
            }
            assert_eq!(seen, expected, "{url}: sort {sort}: every record once, ties by id in the last key's direction");
            assert_eq!(seen.len(), 7, "{url}");
        }
    }
}

#[actix_web::test]
async fn a_list_field_is_filtered_by_a_value_it_holds() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        for (name, tags) in [("Tagged A", json!(["vip", "key account"])), ("Tagged B", json!(["vip"])), ("Tagged C", json!(["partner"]))] {
            let create =
                TestRequest::post().uri("/api/apps/crm/forms/account/records").set_json(json!({"data": {"name": name, "tags": tags}}));
            assert_eq!(call(&app, create, t).await.0, StatusCode::CREATED, "{url}");
        }
        let listed = |filter: Value| {
            let app = &app;
            let uri = list_uri("account", &[("filter", &filter.to_string()), ("sort", "name")]);
            async move { call(app, TestRequest::get().uri(&uri), t).await }
        };
        let (status, page) = listed(json!({"tags": {"has": "vip"}})).await;
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        assert_eq!(names(&page), ["Tagged A", "Tagged B"], "{url}");
        let (_, page) = listed(json!({"tags": {"has": "key account"}})).await;
        assert_eq!(names(&page), ["Tagged A"], "{url}: a tag with a space");
        let (_, page) = listed(json!({"tags": {"has": "vi"}})).await;
        assert_eq!(names(&page), Vec::<String>::new(), "{url}: whole values only");
        // Only lists take `has`, and only one value.
        let (status, body) = listed(json!({"name": {"has": "Tagged A"}})).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed")), "{url}: {body}");
        let (status, _) = listed(json!({"tags": {"has": ["vip"]}})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
    }
}
