//! Regression tests of issue 15 (security and bounds): security_rules.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, databases, lab, start};
use engine::{RuleLimits, Settings};
use serde_json::{Value, json};

/// The lab's rule deadline here: far above what a read takes (milliseconds), so a read that
/// waited for a runaway rule is told from one that did not however busy the machine is.
const DEADLINE: Duration = Duration::from_millis(500);

/// Runaway saves sent at once: more than the rules pool runs together on most machines.
const RUNAWAYS: usize = 4;

fn post(form: &str, data: Value) -> TestRequest {
    TestRequest::post().uri(&format!("/api/apps/lab/forms/{form}/records")).set_json(json!({ "data": data }))
}

#[actix_web::test]
async fn runaway_rules_that_catch_their_errors_keep_their_deadline_and_others_their_latency() {
    for url in databases().await {
        let settings = Settings { rule_limits: RuleLimits { deadline: DEADLINE, ..RuleLimits::default() }, ..Settings::default() };
        let (engine, u1, _) = lab(&url, &settings).await;
        let app = start(engine).await;
        let t = Some(u1.as_str());
        let (status, company) = call(&app, post("company", json!({"name": "Acme", "tier": "A"})), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {company}");
        let company_url = format!("/api/apps/lab/forms/company/records/{}", company["id"].as_str().unwrap());

        // A read sent together with saves whose rule loops over failing reads it catches. The
        // tests' server runs on one thread: a rule run on it would hold the read up for a
        // deadline at least.
        let finished_runaways = AtomicUsize::new(0);
        let (app, finished_runaways) = (&app, &finished_runaways);
        let runaways = futures::future::join_all((0..RUNAWAYS).map(|i| async move {
            let answer = call(app, post("deal", json!({"name": format!("runaway {i}"), "mode": "catch_reads"})), t).await;
            finished_runaways.fetch_add(1, Ordering::SeqCst);
            answer
        }));
        let read = async {
            let sent = Instant::now();
            let (status, _) = call(app, TestRequest::get().uri(&company_url), t).await;
            (status, sent.elapsed(), finished_runaways.load(Ordering::SeqCst))
        };
        let ((status, waited, finished), runaways) = futures::join!(read, runaways);
        assert_eq!(status, StatusCode::OK, "{url}");
        assert!(waited < DEADLINE, "{url}: a read waited {waited:?} for rules of other requests");
        assert_eq!(finished, 0, "{url}: the read was answered while the runaway rules ran");

        // Each runaway was stopped at its deadline, whatever it caught, and wrote nothing.
        let limit = format!("ran longer than {} ms", DEADLINE.as_millis());
        for (status, body) in runaways {
            assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("rule_limit_exceeded")), "{url}: {body}");
            assert!(body["message"].as_str().unwrap().contains(&limit), "{url}: {body}");
        }
        let (_, deals) = call(app, TestRequest::get().uri("/api/apps/lab/forms/deal/records"), t).await;
        assert_eq!(deals["items"], json!([]), "{url}");
    }
}
