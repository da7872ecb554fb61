//! The database goes away and comes back while the server runs (issue 24, item 2): meanwhile
//! every request is answered 503 `unavailable` with `Retry-After` — never a 500, never held —
//! health and readiness name the database as down, and once it is back the server serves again
//! by itself, without a restart. PostgreSQL only: the test puts a TCP proxy between the server
//! and the database and cuts it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use e2e::{call, crm, start};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::AbortHandle;

/// A TCP proxy to the database that the test can cut (closing every connection through it and
/// refusing new ones) and open again on the same port.
struct Proxy {
    port: u16,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    fn new(upstream: SocketAddr) -> Proxy {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Proxy { port, upstream, tasks: Arc::default() }
    }

    fn open(&self) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(SocketAddr::from(([127, 0, 0, 1], self.port))).unwrap();
        let listener = socket.listen(64).unwrap();
        let (upstream, tasks) = (self.upstream, self.tasks.clone());
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let forward = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        tokio::io::copy_bidirectional(&mut client, &mut server).await.ok();
                    }
                });
                tasks.lock().unwrap().push(forward.abort_handle());
            }
        });
        self.tasks.lock().unwrap().push(accepting.abort_handle());
    }

    fn cut(&self) {
        self.tasks.lock().unwrap().drain(..).for_each(|task| task.abort());
    }
}

fn create(name: &str) -> TestRequest {
    TestRequest::post().uri("/api/apps/crm/forms/account/records").set_json(json!({"data": {"name": name}}))
}

#[actix_web::test]
async fn requests_are_answered_503_while_the_database_is_down_and_served_again_after() {
    let Ok(base) = std::env::var("TESSERA_TEST_PG") else {
        eprintln!("note: TESSERA_TEST_PG is not set; this test needs PostgreSQL");
        return;
    };
    let url = e2e::fresh_postgres(&base).await;
    // `postgres://user@host:port/name`: the proxy stands in for `host:port`.
    let authority = url.split('@').nth(1).and_then(|rest| rest.split('/').next()).unwrap().to_owned();
    let upstream = tokio::net::lookup_host(&authority).await.unwrap().next().unwrap();
    let proxy = Proxy::new(upstream);
    proxy.open();
    let proxied = url.replace(&authority, &format!("127.0.0.1:{}", proxy.port));
    let (engine, token) = crm(&proxied).await;
    let app = start(engine.clone()).await;
    let t = Some(token.as_str());
    let (status, _) = call(&app, TestRequest::get().uri("/api/ready"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&app, create("Before the outage"), t).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    proxy.cut();
    // Past the session cache's 2 s, so authentication needs the database too.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    for request in [create("During the outage"), TestRequest::get().uri("/api/apps/crm/forms/account/records")] {
        let answer = tokio::time::timeout(
            Duration::from_secs(60),
            test::call_service(&app, request.insert_header(("Authorization", format!("Bearer {token}"))).to_request()),
        )
        .await
        .expect("answered, not held");
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.headers().get("Retry-After").and_then(|v| v.to_str().ok()), Some("5"));
        let body: Value = test::read_body_json(answer).await;
        assert_eq!((&body["error"], &body["retry_after_secs"]), (&json!("unavailable"), &json!(5)), "{body}");
    }
    for route in ["/api/health", "/api/ready"] {
        let (status, body) = call(&app, TestRequest::get().uri(route), None).await;
        assert_eq!((status, &body["down"]), (StatusCode::SERVICE_UNAVAILABLE, &json!(["database"])), "{route}: {body}");
    }

    proxy.open();
    let mut served = None;
    for _ in 0..60 {
        let (status, body) = call(&app, create("After the outage"), t).await;
        if status == StatusCode::CREATED {
            served = Some(body);
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "only 503 while it reconnects: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(served.is_some(), "the server serves again once the database is back");
    let (status, body) = call(&app, TestRequest::get().uri("/api/health"), None).await;
    assert_eq!((status, &body["down"]), (StatusCode::OK, &json!([])), "{body}");
    let (_, list) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/account/records?limit=500"), t).await;
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().filter_map(|r| r["data"]["name"].as_str()).collect();
    assert!(
        names.contains(&"Before the outage") && names.contains(&"After the outage") && !names.contains(&"During the outage"),
        "{names:?}"
    );
    drop(app);
    proxy.cut();
}
