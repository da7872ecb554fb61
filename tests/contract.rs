//! The API document as a contract: which of its operations a request is, and whether an answer
//! is one it describes — a status it lists for the operation, a content type it lists for that
//! status, and a JSON body its schema accepts.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::{Value, json};

/// A test request of the document's method name (`get`, `post`, …).
pub fn request(method: &str) -> TestRequest {
    match method {
        "get" => TestRequest::get(),
        "post" => TestRequest::post(),
        "patch" => TestRequest::patch(),
        "put" => TestRequest::put(),
        "delete" => TestRequest::delete(),
        other => panic!("the document names a method the tests do not send: `{other}`"),
    }
}

/// The document's operation for `method` and a concrete `path` (or a path template): the
/// template whose literal segments all match, the most literal one first (`/records/{id}`
/// loses to a literal segment).
pub fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> Option<(&'a str, &'a Value)> {
    let segments: Vec<&str> = path.split('?').next().unwrap_or_default().split('/').collect();
    let mut best: Option<(usize, &'a str, &'a Value)> = None;
    for (template, operations) in doc["paths"].as_object()? {
        let parts: Vec<&str> = template.split('/').collect();
        let fits = parts.len() == segments.len() && parts.iter().zip(&segments).all(|(p, s)| p.starts_with('{') || p == s);
        let literal = parts.iter().filter(|p| !p.starts_with('{')).count();
        if let (true, Some(op)) = (fits, operations.get(method))
            && best.is_none_or(|(l, _, _)| literal > l)
        {
            best = Some((literal, template, op));
        }
    }
    best.map(|(_, template, op)| (template, op))
}

/// How an answer disagrees with the document (`None` when it agrees): an undocumented status,
/// a content type the status does not list, a body where it has none, or a JSON body its
/// schema refuses. `content_type` is the answer's media type without parameters (empty for no
/// body).
pub fn disagreement(doc: &Value, method: &str, path: &str, status: StatusCode, content_type: &str, body: &Value) -> Option<String> {
    let Some((template, op)) = operation(doc, method, path) else {
        return Some(format!("{method} {path}: no such operation in the document"));
    };
    let at = format!("{} {template} → {}", method.to_uppercase(), status.as_u16());
    let Some(response) = op["responses"].get(status.as_str()) else {
        return Some(format!("{at}: status not documented"));
    };
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return (!body.is_null()).then(|| format!("{at}: a body ({content_type}) where the document has none"));
    };
    if body.is_null() {
        return None; // HEAD-like empty answers and 304s carry no body
    }
    // A listed type may carry parameters (`text/plain; version=0.0.4`).
    let listed = content.iter().find(|(listed, _)| listed.split(';').next().is_some_and(|essence| essence.trim() == content_type));
    let Some((_, described)) = listed else {
        let listed: Vec<&String> = content.keys().collect();
        return Some(format!("{at}: answered {content_type}, the document lists {listed:?}"));
    };
    let schema = described.get("schema")?;
    if content_type != "application/json" {
        return None; // files: their bytes are not JSON
    }
    let root = json!({"allOf": [schema], "components": doc["components"]});
    let validator = jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("{at}: the schema does not compile: {e}"));
    let errors: Vec<String> = validator.iter_errors(body).take(5).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    (!errors.is_empty()).then(|| format!("{at}: {}\n  body: {:.600}", errors.join("; "), body.to_string()))
}
