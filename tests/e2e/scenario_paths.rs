//! A scenario test's outcome carries the way each record it named took through its flow —
//! what the flow designer highlights after running the tests — up to where the scenario ended.

use e2e::repo;

/// The outcome of the CRM's scenario `id` alone, its text changed by `edit`.
async fn run_crm_scenario(id: &str, edit: impl Fn(&str) -> String) -> engine::ScenarioOutcome {
    let (mut files, problems) = defs::AppFiles::read(&repo().join("apps/crm"));
    assert!(problems.is_empty(), "{problems:?}");
    let path = format!("tests/{id}.json");
    files.0.retain(|p, _| !p.starts_with("tests/") || *p == path);
    let text = edit(&files.0[&path]);
    files.0.insert(path, text);
    // Boxed, as the server runs them: a scenario drives the whole engine, a deep future.
    let mut outcomes = Box::pin(engine::run_scenarios(&files, &e2e::settings())).await;
    assert_eq!(outcomes.len(), 1);
    outcomes.remove(0)
}

/// The `(action, from, to)` of each move of the record the scenario saved as `record`.
fn moves_of(outcome: &engine::ScenarioOutcome, record: &str) -> Vec<(String, String, String)> {
    let path = outcome.paths.iter().find(|p| p.record == record).unwrap_or_else(|| panic!("no path of {record}: {:?}", outcome.paths));
    path.moves.iter().map(|m| (m.action.clone(), m.from.clone(), m.to.clone())).collect()
}

fn moves(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter().map(|(a, f, t)| ((*a).to_owned(), (*f).to_owned(), (*t).to_owned())).collect()
}

#[actix_web::test]
async fn a_scenario_answers_the_path_each_of_its_records_took_through_its_flow() {
    let outcome = run_crm_scenario("quote_approval", str::to_owned).await;
    assert_eq!(outcome.failure, None);
    // Rejected by the director, submitted again at 20 %, approved by the manager alone, sent
    // and accepted; decisions within the approval are moves from a state to itself.
    let quote = [
        ("submit", "draft", "in_review"),
        ("approve", "in_review", "in_review"),
        ("reject", "in_review", "in_review"),
        ("rejected", "in_review", "draft"),
        ("submit", "draft", "in_review"),
        ("approve", "in_review", "in_review"),
        ("approved", "in_review", "approved"),
        ("send", "approved", "sent"),
        ("accept", "sent", "accepted"),
    ];
    assert_eq!(moves_of(&outcome, "quote"), moves(&quote));
    let path = outcome.paths.iter().find(|p| p.record == "quote").unwrap();
    assert_eq!((path.form.as_str(), path.moves[1].step.as_deref()), ("quote", Some("manager")));
    // Records whose form has no flow (the account, the product) have no path.
    assert!(outcome.paths.iter().all(|p| p.form == "quote"), "{:?}", outcome.paths);

    // A scenario that fails shows how far its records got.
    let failing = run_crm_scenario("quote_approval", |text| text.replace("\"act\": \"accept\"", "\"act\": \"acknowledge\"")).await;
    assert!(failing.failure.as_deref().is_some_and(|f| f.contains("acknowledge")), "{:?}", failing.failure);
    assert_eq!(moves_of(&failing, "quote"), moves(&quote[..8]));
}
