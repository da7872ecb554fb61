//! Webhooks leave the outbox for a real HTTP receiver (issue 24): each message is posted to its
//! URL with its id as `Idempotency-Key`, tried again later when the receiver fails, given up
//! after its attempts, never sent to a private address unless the server allows it, and, with
//! several servers delivering at once, posted by one of them.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::{Duration, Utc};
use e2e::receiver::Receiver;
use engine::{Actor, Engine, MAX_DELIVERY_ATTEMPTS, WebhookClient};
use serde_json::{Value, json};

/// Creates a campaign with a journey whose one step's message goes to `url` on day 0, and
/// `leads` leads from the campaign; then runs the hourly journeys schedule, which writes one
/// webhook message a lead to the outbox. The demo gives the leads their owners.
async fn journey_messages(engine: &Engine, admin: &str, url: &str, leads: usize) {
    engine.seed("crm", "demo").await.unwrap();
    let app = e2e::start(engine.clone()).await;
    let create = |form: &str, data: Value| {
        let (app, uri) = (&app, format!("/api/apps/crm/forms/{form}/records"));
        async move {
            let (status, made) = e2e::call(app, TestRequest::post().uri(&uri).set_json(json!({"data": data})), Some(admin)).await;
            assert_eq!(status, StatusCode::CREATED, "{made}");
            made["id"].as_str().unwrap().to_owned()
        }
    };
    let campaign = create("campaign", json!({"name": "Hook Expo", "type": "trade_show", "status": "in_progress"})).await;
    let steps = json!([{"day": 0, "channel": "email", "message": "Thank you for visiting", "score": 5}]);
    create("journey", json!({"name": "Hook follow-up", "campaign": campaign, "webhook": url, "steps": steps})).await;
    for n in 0..leads {
        create("lead", json!({"name": format!("Hook lead {n}"), "company": "Hook Co", "campaign": campaign})).await;
    }
    let (status, ran) = e2e::call(&app, TestRequest::post().uri("/api/apps/crm/schedules/journeys/run"), Some(admin)).await;
    assert_eq!(status, StatusCode::OK, "{ran}");
}

/// Webhook messages not yet delivered (nor given up), as the metrics count them.
async fn undelivered(engine: &Engine) -> u64 {
    let depths = engine.queue_depths(&Actor::system()).await.unwrap();
    depths.undelivered.iter().filter(|(kind, _)| kind == "webhook").map(|(_, n)| n).sum()
}

#[actix_web::test]
async fn a_webhook_is_posted_with_its_key_tried_again_after_a_failure_and_not_sent_twice() {
    for url in e2e::databases().await {
        let receiver = Receiver::start();
        let (engine, admin) = e2e::crm(&url).await;
        journey_messages(&engine, &admin, &receiver.url("/send"), 1).await;
        let client = WebhookClient::new(true).unwrap();
        let now = Utc::now();

        receiver.answer_next(1, 503);
        assert_eq!(engine.deliver_webhooks(&client, now).await.unwrap(), 1, "{url}");
        assert_eq!(undelivered(&engine).await, 1, "{url}: a failed message stays to be sent");
        // Not due again for a while.
        assert_eq!(engine.deliver_webhooks(&client, now + Duration::seconds(10)).await.unwrap(), 0, "{url}");
        assert_eq!(engine.deliver_webhooks(&client, now + Duration::seconds(31)).await.unwrap(), 1, "{url}");
        assert_eq!(undelivered(&engine).await, 0, "{url}");
        assert_eq!(
            engine.deliver_webhooks(&client, now + Duration::days(1)).await.unwrap(),
            0,
            "{url}: a delivered message is not sent again"
        );

        let got = receiver.received();
        assert_eq!(got.iter().map(|r| r.status).collect::<Vec<_>>(), [503, 200], "{url}");
        assert!(got[0].key.is_some() && got[0].key == got[1].key, "{url}: both attempts carry one key: {got:?}");
        let body = &got[1].body;
        assert_eq!((body["event"].as_str(), body["app"].as_str()), (Some("journey.message"), Some("crm")), "{url}: {body}");
        assert_eq!(body["data"]["name"], json!("Hook lead 0"), "{url}: {body}");
        assert_eq!((got[1].path.as_str(), got[1].content_type.as_deref()), ("/send", Some("application/json")), "{url}");
        engine.close().await.unwrap();
    }
}

#[actix_web::test]
async fn a_webhook_that_keeps_failing_is_given_up_after_its_attempts() {
    for url in e2e::databases().await {
        let receiver = Receiver::start();
        let (engine, admin) = e2e::crm(&url).await;
        journey_messages(&engine, &admin, &receiver.url("/down"), 1).await;
        let client = WebhookClient::new(true).unwrap();
        receiver.answer_next(100, 500);
        let now = Utc::now();
        let mut attempts = 0;
        for hour in 0..24 {
            attempts += engine.deliver_webhooks(&client, now + Duration::hours(hour)).await.unwrap();
        }
        assert_eq!(attempts, usize::try_from(MAX_DELIVERY_ATTEMPTS).unwrap(), "{url}");
        assert_eq!(receiver.received().len(), attempts, "{url}");
        assert_eq!(undelivered(&engine).await, 0, "{url}: a given-up message is no longer waiting");
        engine.close().await.unwrap();
    }
}

#[actix_web::test]
async fn a_webhook_to_a_private_address_is_refused_unless_the_server_allows_it() {
    for url in e2e::databases().await {
        let receiver = Receiver::start();
        let (engine, admin) = e2e::crm(&url).await;
        // A rule computes the URL from a record: it must not reach what is behind the firewall.
        journey_messages(&engine, &admin, &receiver.url("/internal"), 1).await;
        let public_only = WebhookClient::new(false).unwrap();
        assert_eq!(engine.deliver_webhooks(&public_only, Utc::now()).await.unwrap(), 1, "{url}");
        assert!(receiver.received().is_empty(), "{url}: a loopback address was reached");
        assert_eq!(undelivered(&engine).await, 0, "{url}: an address that cannot change is given up at once");
        engine.close().await.unwrap();
    }
}

#[actix_web::test]
async fn two_servers_delivering_at_once_post_each_message_once() {
    let dir = std::env::temp_dir().join(format!("tessera-hooks-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    for url in e2e::file_databases(&dir).await {
        let receiver = Receiver::start();
        let (engine, admin) = e2e::crm(&url).await;
        let other = Engine::open_with(&url, &[e2e::repo().join("apps/crm")], &e2e::settings()).await.unwrap();
        journey_messages(&engine, &admin, &receiver.url("/send"), 40).await;
        let client = WebhookClient::new(true).unwrap();
        let now = Utc::now();
        let (a, b) = tokio::join!(engine.deliver_webhooks(&client, now), other.deliver_webhooks(&client, now));
        assert_eq!(a.unwrap() + b.unwrap(), 40, "{url}");
        let mut keys: Vec<String> = receiver.received().into_iter().filter_map(|r| r.key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!((receiver.received().len(), keys.len()), (40, 40), "{url}");
        other.close().await.unwrap();
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}
