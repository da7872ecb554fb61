//! Memory of an import as a user sends one (issue 24, item 6): a CSV of about `megabytes` MB
//! (leads with a long note each, 1 % bad emails) posted to the real server's import route on
//! an SQLite file, waiting for the report. The server's peak resident memory (`VmHWM`) is read
//! after the import, and compared with its resident memory idle before it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Instant;

use engine::Engine;

use crate::server_bench::{free_port, serve, status_mb, tessera_binary, wait_for_health};

/// A note of this many characters (CJK and ASCII) makes each row about half a kilobyte.
const NOTE: usize = 250;

pub(crate) fn run(megabytes: usize) {
    let binary = tessera_binary();
    let dir = std::env::temp_dir().join(format!("tessera-upload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}/upload.db", dir.display());
    let apps = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../apps/crm");
    let token = tokio::runtime::Runtime::new().expect("runtime").block_on(async {
        let engine = Engine::open(&url, std::slice::from_ref(&apps)).await.expect("engine");
        engine.seed_users("crm", "demo").await.expect("users");
        let token = engine.login("marketing1", "demo").await.expect("login").token;
        engine.close().await.ok();
        token
    });
    let file = dir.join("leads.csv");
    let (rows, bad) = write_csv(&file, megabytes * 1_000_000);
    let bytes = std::fs::metadata(&file).expect("the file").len();

    let port = free_port();
    let mut server = serve(&binary, &url, port, apps.parent().expect("apps folder"));
    wait_for_health(port);
    let idle = status_mb(server.id(), "VmRSS:");
    let started = Instant::now();
    let (status, body) = post(port, &token, &file, bytes);
    let secs = started.elapsed().as_secs_f64();
    let peak = status_mb(server.id(), "VmHWM:");
    server.kill().ok();
    server.wait().ok();
    assert_eq!(status, 200, "the import answers its report: {}", &body[..body.len().min(500)]);
    let report: serde_json::Value = serde_json::from_str(&body).expect("a JSON report");
    assert_eq!(report["created"], rows - bad, "every good row is in: {}", &body[..body.len().min(500)]);
    assert_eq!(report["failed"], bad, "every bad row is counted");

    println!(
        "upload: {:.1} MB CSV, {rows} leads ({bad} bad), POST …/lead/import?wait=true to the release server, SQLite file",
        bytes as f64 / 1e6
    );
    println!("  import, upload to report       {secs:>8.2} s   {:>8.0} rows/s", rows as f64 / secs);
    println!("  server resident memory         idle {idle:.0} MB, peak {peak:.0} MB (VmHWM)");
    if std::env::var_os("TESSERA_BENCH_KEEP").is_none() {
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// Writes leads until the file has about `bytes` bytes (at most the import's row bound);
/// returns the rows and how many have a broken email.
fn write_csv(path: &Path, bytes: usize) -> (usize, usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("the CSV"));
    let header = "姓名,Company,email,手机,Lead source,Sales region,Industry,Estimated budget (CNY),Notes\n";
    out.write_all(header.as_bytes()).expect("write");
    let (mut written, mut rows, mut bad) = (header.len(), 0, 0);
    let note: String = "客户希望下季度试点,需要报价与演示 call back after the trade fair; ".chars().cycle().take(NOTE).collect();
    while written < bytes && rows < server::MAX_SHEET_ROWS {
        let email = if rows % 100 == 42 {
            bad += 1;
            format!("broken{rows}-at-example")
        } else {
            format!("lead{rows}@example.com")
        };
        let line = format!("客户{rows},公司{rows},{email},139{rows:08},web,east,retail,{},\"{note} #{rows}\"\n", (rows * 977) % 2_000_000);
        out.write_all(line.as_bytes()).expect("write");
        written += line.len();
        rows += 1;
    }
    out.flush().expect("flush");
    (rows, bad)
}

/// Posts the file as the import's body and reads the answer: its status and body (the report
/// is sent whole, with its length, not in chunks).
fn post(port: u16, token: &str, file: &Path, bytes: u64) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let head = format!(
        "POST /api/apps/crm/forms/lead/import?wait=true HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: text/csv\r\nContent-Length: {bytes}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("send");
    std::io::copy(&mut std::fs::File::open(file).expect("the CSV"), &mut stream).expect("send the file");
    let mut answer = BufReader::new(stream);
    let mut status_line = String::new();
    answer.read_line(&mut status_line).expect("status");
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut rest = String::new();
    answer.read_to_string(&mut rest).expect("answer");
    let body = rest.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}
