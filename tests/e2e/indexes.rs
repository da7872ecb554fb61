//! Fields a form marks as indexed get real database indexes that queries use.

use e2e::repo;
use engine::Engine;
use sea_orm::{ConnectionTrait, Database, Statement};

#[actix_web::test]
async fn declared_indexes_exist_and_the_list_query_uses_them() {
    let dir = std::env::temp_dir().join(format!("tessera-ix-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/t.db", dir.display());
    let engine = Engine::open_with(&url, &[repo().join("apps/crm")], &e2e::settings()).await.unwrap();
    engine.close().await.unwrap();

    let db = Database::connect(&url).await.unwrap();
    let plan = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            // Indexed fields are typed columns (`f_<field>`) generated from `data`; lists read those.
            "EXPLAIN QUERY PLAN SELECT id FROM r_crm__opportunity WHERE deleted_at IS NULL \
             AND \"f_stage\" = 'proposal' AND \"f_amount\" > 50000 ORDER BY \"f_amount\" DESC LIMIT 50",
        ))
        .await
        .unwrap();
    let plan: Vec<String> = plan.iter().map(|r| r.try_get::<String>("", "detail").unwrap()).collect();
    assert!(plan.iter().any(|d| d.contains("USING INDEX")), "{plan:?}");
    assert!(!plan.iter().any(|d| d.contains("TEMP B-TREE")), "the sort must come from the index: {plan:?}");
    db.close().await.ok();
    std::fs::remove_dir_all(&dir).ok();

    if let Ok(base) = std::env::var("TESSERA_TEST_PG") {
        let url = e2e::fresh_postgres(&base).await;
        let engine = Engine::open_with(&url, &[repo().join("apps/crm")], &e2e::settings()).await.unwrap();
        engine.close().await.unwrap();
        let db = Database::connect(&url).await.unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'r_crm__opportunity'",
            ))
            .await
            .unwrap();
        let defs: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "indexdef").unwrap()).collect();
        assert!(
            defs.iter().any(|d| d.contains("(f_stage NULLS FIRST, f_amount NULLS FIRST)") && d.contains("WHERE (deleted_at IS NULL)")),
            "{defs:?}"
        );
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT data_type::text AS type FROM information_schema.columns WHERE table_name = 'r_crm__opportunity' AND column_name = 'f_amount'",
            ))
            .await
            .unwrap();
        let column_type: String = rows[0].try_get("", "type").unwrap();
        assert_eq!(column_type, "double precision", "the amount is a typed column the index reads");
    }
}
