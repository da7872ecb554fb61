//! Persisted transitions per second (issue 4 and 8): opportunities moved through their flow by
//! the engine (state, stage field, probability, history, audit, timers) and contracts through
//! their approval (tasks opened, decided, closed), against the baseline of a plain edit of the
//! same records through the same engine, in the same run, on an SQLite file.

use std::path::PathBuf;
use std::time::Instant;

use engine::{ActRequest, Actor, Engine};
use serde_json::json;

const BATCHES: usize = 3;

pub(crate) fn run(records: usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = std::env::temp_dir().join(format!("tessera-flows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}/flows.db", dir.display());
    runtime.block_on(async {
        let apps = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../apps/crm");
        let engine = Engine::open(&url, &[apps]).await.expect("engine");
        engine.seed_users("crm", "demo").await.expect("users");
        let rep = engine.login("rep1", "demo").await.expect("login").user;
        let manager = engine.login("manager1", "demo").await.expect("login").user;
        let account = engine.create(&rep, &crate::id("crm"), &crate::id("account"), json!({"name": "基准客户"})).await.expect("account").id;

        let mut deals = Vec::with_capacity(records);
        let mut contracts = Vec::with_capacity(records);
        for i in 0..records {
            let deal = json!({"name": format!("Deal {i}"), "account": account, "amount": 10_000 + i, "close_date": "2027-06-30"});
            deals.push(engine.create(&rep, &crate::id("crm"), &crate::id("opportunity"), deal).await.expect("deal").id);
            let contract = json!({"name": format!("Contract {i}"), "account": account, "amount": 50_000 + i});
            contracts.push(engine.create(&rep, &crate::id("crm"), &crate::id("contract"), contract).await.expect("contract").id);
        }

        let edit = rate(&deals, |id| {
            let (engine, rep) = (&engine, &rep);
            async move {
                engine
                    .update(rep, &crate::id("crm"), &crate::id("opportunity"), &crate::id(&id), 1, json!({"next_step": "call back"}))
                    .await
                    .expect("edit");
            }
        })
        .await;
        let propose = rate(&deals, |id| act(&engine, &rep, "opportunity", id, "propose")).await;
        let negotiate = rate(&deals, |id| act(&engine, &rep, "opportunity", id, "negotiate")).await;
        let submit = rate(&contracts, |id| act(&engine, &rep, "contract", id, "submit")).await;
        let approve = rate(&contracts, |id| act(&engine, &manager, "contract", id, "approve")).await;

        println!("flows: {records} opportunities and {records} contracts, SQLite file, one process, sequential");
        println!("  baseline: plain edit (validation, history, audit)  {edit:>8.0} writes/s");
        println!("  propose  (stage move, probability)                 {propose:>8.0} transitions/s  ratio {:.2}", propose / edit);
        println!("  negotiate (stage move + a timer job)               {negotiate:>8.0} transitions/s  ratio {:.2}", negotiate / edit);
        println!("  submit contract (approval opens a task)            {submit:>8.0} transitions/s  ratio {:.2}", submit / edit);
        println!("  approve step (decision, tasks closed and opened)   {approve:>8.0} decisions/s    ratio {:.2}", approve / edit);
        engine.close().await.ok();
    });
    std::fs::remove_dir_all(&dir).ok();
}

async fn act(engine: &Engine, actor: &Actor, form: &str, id: String, action: &str) {
    engine.act(actor, &crate::id("crm"), &crate::id(form), &crate::id(&id), action, ActRequest::default()).await.expect(action);
}

/// Runs `op` over `ids` in [`BATCHES`] batches and returns the median batch's operations per second.
async fn rate<F, Fut>(ids: &[String], mut op: F) -> f64
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut rates = Vec::new();
    for batch in ids.chunks(ids.len().div_ceil(BATCHES)) {
        let started = Instant::now();
        for id in batch {
            op(id.clone()).await;
        }
        rates.push(batch.len() as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}
