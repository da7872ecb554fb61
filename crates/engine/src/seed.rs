//! The demo-data generator: reads an app's `seed/*.json` and creates its users and records
//! through the same command path as the API (validation, links, dedupe, auto-numbers), in one
//! transaction, once per database.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use defs::{Generator, Seed};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::command::Cmd;
use crate::{Actor, Engine, EngineError};

/// What a seeding run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SeedReport {
    /// True when the database already had this seed and nothing was done.
    pub already_seeded: bool,
    pub users: usize,
    pub records: BTreeMap<String, usize>,
}

/// Attempts at generating a record that does not collide with a dedupe key.
const ATTEMPTS: usize = 5;

impl Engine {
    /// Creates only the users of seed file `name` (those not there yet), without its records.
    pub async fn seed_users(&self, app: &str, name: &str) -> Result<usize, EngineError> {
        let loaded = self.app(app)?;
        let seed = loaded.defs.seeds.get(name).ok_or_else(|| EngineError::NotFound(format!("seed `{name}` of app `{app}`")))?;
        let (turn, tx) = self.store.begin().await?;
        let created = self.create_seed_users(&tx, app, seed).await?;
        turn.commit(tx).await?;
        Ok(created)
    }

    /// Creates the seed's users not there yet and grants each the seed's roles in `app` (the
    /// platform's `admin` holds everywhere); users already there keep what they have.
    async fn create_seed_users(&self, tx: &impl store::Conn, app: &str, seed: &Seed) -> Result<usize, EngineError> {
        let mut created = 0;
        for user in &seed.users {
            if store::get_user(tx, &user.username).await?.is_some() {
                continue;
            }
            let (platform, app_roles) = crate::organisation::split_platform_roles(&user.roles);
            let grants = if app_roles.is_empty() { Default::default() } else { [(app.to_owned(), app_roles)].into() };
            let new = store::User {
                username: user.username.clone(),
                display_name: user.display_name.clone(),
                roles: platform,
                department: user.department.clone(),
                grants,
                ..store::User::default()
            };
            self.insert_user(tx, new, &seed.password, "system").await?;
            created += 1;
        }
        Ok(created)
    }

    /// Seeds `app` with its seed file `name` unless this database already has it.
    pub async fn seed(&self, app: &str, name: &str) -> Result<SeedReport, EngineError> {
        let loaded = &self.app(app)?;
        let seed = loaded.defs.seeds.get(name).ok_or_else(|| EngineError::NotFound(format!("seed `{name}` of app `{app}`")))?;
        let marker = format!("seeded:{app}:{name}");
        let (turn, tx) = self.store.begin().await?;
        if store::get_meta(&tx, &marker).await?.is_some() {
            return Ok(SeedReport { already_seeded: true, ..Default::default() });
        }
        let mut report = SeedReport { users: self.create_seed_users(&tx, app, seed).await?, ..Default::default() };
        let mut actors: HashMap<&str, Actor> = HashMap::new();
        for user in &seed.users {
            // Read in the transaction that may just have created them.
            let found = store::get_user(&tx, &user.username).await?;
            actors.insert(&user.username, found.map(Actor::of).unwrap_or_else(Actor::system));
        }
        let mut rng = fastrand::Rng::with_seed(seed.random_seed);
        let mut ids: HashMap<String, Vec<String>> = HashMap::new();
        for part in &seed.forms {
            let mut created = 0;
            for row in 0..part.count {
                let owner = (!part.owners.is_empty()).then(|| part.owners[row as usize % part.owners.len()].as_str());
                let actor = owner.and_then(|o| actors.get(o)).cloned().unwrap_or_else(Actor::system);
                for _ in 0..ATTEMPTS {
                    let data = record(&mut rng, seed, &part.fields, row + 1, &ids);
                    // Seeds write as trusted writers: read-only fields and any state of a flow.
                    let cmd = Cmd::new(&tx, &actor, loaded).first_effect();
                    let outcome = match cmd.form(&part.form) {
                        Ok(rt) => self.create_in(cmd, rt, Value::Object(data), owner).await,
                        Err(e) => Err(e),
                    };
                    match outcome {
                        Ok(envelope) => {
                            if let (Some([least, most]), Ok(rt)) = (part.age_days, cmd.form(&part.form)) {
                                let seconds = rng.i64(i64::from(least) * 86_400..=i64::from(most.max(least)) * 86_400);
                                let at = crate::time::format(chrono::Utc::now() - chrono::Duration::seconds(seconds));
                                store::backdate(&tx, &rt.table, &envelope.id, &at).await?;
                            }
                            ids.entry(part.form.clone()).or_default().push(envelope.id);
                            created += 1;
                            break;
                        }
                        Err(EngineError::Duplicate { .. }) => continue,
                        Err(e) => {
                            return Err(EngineError::Internal(format!(
                                "seed {name}, form {}, row {}: {e} {:?}",
                                part.form,
                                row + 1,
                                e.details()
                            )));
                        }
                    }
                }
            }
            *report.records.entry(part.form.clone()).or_default() += created;
        }
        store::set_meta(&tx, &marker, &crate::time::now()).await?;
        turn.commit(tx).await?;
        Ok(report)
    }
}

fn record(
    rng: &mut fastrand::Rng,
    seed: &Seed,
    fields: &IndexMap<String, Generator>,
    row: u32,
    ids: &HashMap<String, Vec<String>>,
) -> Map<String, Value> {
    let mut data = Map::new();
    for (name, generator) in fields {
        if let Some(value) = generate(rng, seed, generator, row, &data, ids) {
            data.insert(name.clone(), value);
        }
    }
    data
}

fn generate(
    rng: &mut fastrand::Rng,
    seed: &Seed,
    generator: &Generator,
    row: u32,
    data: &Map<String, Value>,
    ids: &HashMap<String, Vec<String>>,
) -> Option<Value> {
    match generator {
        Generator::Value(v) => Some(v.clone()),
        Generator::Choice(values) => (!values.is_empty()).then(|| values[rng.usize(..values.len())].clone()),
        Generator::Weighted(pairs) => {
            let total: u32 = pairs.iter().map(|(_, w)| w).sum();
            let mut pick = rng.u32(..total.max(1));
            pairs
                .iter()
                .find(|(_, w)| {
                    pick < *w || {
                        pick -= w;
                        false
                    }
                })
                .map(|(v, _)| v.clone())
        }
        Generator::Int([low, high]) => Some(json!(rng.i64(*low..=*high))),
        Generator::Number { min, max, step } => {
            let steps = ((max - min) / step).floor().max(0.0) as i64;
            let n = min + step * rng.i64(0..=steps) as f64;
            let n = (n * 100.0).round() / 100.0;
            Some(if n.fract() == 0.0 { json!(n as i64) } else { json!(n) })
        }
        Generator::Date([from, to]) => {
            let from = NaiveDate::parse_from_str(from, "%Y-%m-%d").ok()?;
            let to = NaiveDate::parse_from_str(to, "%Y-%m-%d").ok()?;
            let days = (to - from).num_days().max(0);
            Some(json!((from + chrono::Duration::days(rng.i64(0..=days))).format("%Y-%m-%d").to_string()))
        }
        Generator::Link(form) => ids.get(form).filter(|v| !v.is_empty()).map(|v| json!(v[rng.usize(..v.len())])),
        Generator::Template(text) => Some(json!(fill(rng, seed, text, row, data))),
        Generator::Sometimes { probability, then } => {
            (rng.f64() < *probability).then(|| generate(rng, seed, then, row, data, ids)).flatten()
        }
        Generator::Rows { min, max, fields } => {
            let n = rng.u32(*min..=*max);
            Some(Value::Array((0..n).map(|i| Value::Object(record(rng, seed, fields, i + 1, ids))).collect()))
        }
    }
}

/// Replaces `{list}`, `{#}` and `{=field}` placeholders.
fn fill(rng: &mut fastrand::Rng, seed: &Seed, text: &str, row: u32, data: &Map<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else { break };
        let name = &rest[open + 1..open + close];
        match name {
            "#" => out.push_str(&row.to_string()),
            _ if name.starts_with('=') => match data.get(&name[1..]) {
                Some(Value::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
                None => {}
            },
            _ => {
                if let Some(words) = seed.lists.get(name).filter(|w| !w.is_empty()) {
                    out.push_str(&words[rng.usize(..words.len())]);
                }
            }
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}
