//! The `tessera` command line as a user runs it: exit codes and messages of `check`.

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tessera(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).current_dir(repo()).output().expect("tessera runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn check_passes_on_the_crm_and_fails_with_file_and_pointer_on_a_broken_copy() {
    let (code, out) = tessera(&["check", "apps/crm"]);
    assert_eq!(code, 0, "{out}");

    let copy = std::env::temp_dir().join(format!("tessera-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(copy.join("forms")).unwrap();
    std::fs::write(
        copy.join("app.json"),
        r#"{"$schema": "../../schemas/app.schema.json", "format_version": 1, "id": "shop", "name": "Shop", "version": "1",
            "navigation": [{"label": "Sales", "forms": ["order", "invoice"]}]}"#,
    )
    .unwrap();
    std::fs::write(
        copy.join("forms/order.json"),
        r#"{"$schema": "../../../schemas/form.schema.json", "label": "Order", "fields": [
            {"id": "customer", "type": "link", "label": "Customer", "form": "customer"},
            {"id": "qty", "type": "integer", "label": "Qty", "min": "one"}]}"#,
    )
    .unwrap();
    let (code, out) = tessera(&["check", copy.to_str().unwrap()]);
    std::fs::remove_dir_all(&copy).ok();
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let shown = |suffix: &str| lines.iter().any(|l| l.ends_with(suffix));
    assert!(shown("app.json: /navigation/0/forms/1: no form `invoice`"), "{out}");
    assert!(lines.iter().any(|l| l.contains("forms/order.json: /fields/1/min: ")), "{out}");
    assert!(out.contains("problem(s)"), "{out}");
}

#[test]
fn check_reports_malformed_json_with_line_and_column() {
    let copy = std::env::temp_dir().join(format!("tessera-cli-json-{}", std::process::id()));
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::write(copy.join("app.json"), "{\n  \"id\": \"x\",\n  oops\n}").unwrap();
    let (code, out) = tessera(&["check", copy.to_str().unwrap()]);
    std::fs::remove_dir_all(&copy).ok();
    assert_eq!(code, 1);
    assert!(out.contains("app.json: /: not valid JSON at line 3 column 3"), "{out}");
}
