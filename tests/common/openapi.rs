//! Checks a real API answer against the published OpenAPI document: the status is one
//! the operation documents, and the body matches its schema (required fields present,
//! types, enums, nullability, and no undocumented field anywhere).

use serde_json::Value;

/// The published document.
pub fn doc() -> Value {
    serde_json::from_str(ivrpay::extranet::OPENAPI).expect("openapi.json is JSON")
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let path = r.strip_prefix("#/").expect("local $ref");
            path.split('/').fold(doc, |v, k| &v[k])
        }
        None => schema,
    }
}

fn check_value(doc: &Value, schema: &Value, v: &Value, at: &str) {
    let schema = resolve(doc, schema);
    if v.is_null() {
        assert!(schema["nullable"] == true, "{at} is null but not nullable");
        return;
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        assert!(e.contains(v), "{at} = {v} is not one of {e:?}");
    }
    match schema["type"].as_str() {
        Some("string") => assert!(v.is_string(), "{at} = {v} is not a string"),
        Some("integer") => assert!(v.is_i64(), "{at} = {v} is not an integer"),
        Some("boolean") => assert!(v.is_boolean(), "{at} = {v} is not a boolean"),
        Some("array") => {
            let items = v.as_array().unwrap_or_else(|| panic!("{at} = {v} is not an array"));
            for (i, item) in items.iter().enumerate() {
                check_value(doc, &schema["items"], item, &format!("{at}[{i}]"));
            }
        }
        Some("object") | None if schema.get("properties").is_some() => {
            let obj = v.as_object().unwrap_or_else(|| panic!("{at} = {v} is not an object"));
            let props = schema["properties"].as_object().unwrap();
            for req in schema["required"].as_array().into_iter().flatten() {
                let k = req.as_str().unwrap();
                assert!(obj.contains_key(k), "{at}.{k} is required but missing in {v}");
            }
            for (k, fv) in obj {
                let p = props.get(k).unwrap_or_else(|| panic!("{at}.{k} is not documented"));
                check_value(doc, p, fv, &format!("{at}.{k}"));
            }
        }
        _ => {}
    }
}

/// Asserts that `status` and `body` are what the document promises for `method` on
/// `path` (the template as written in the document, e.g. `/transactions/{reference}`).
pub fn check(path: &str, method: &str, status: u16, body: &Value) {
    let doc = doc();
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    let resp = &op["responses"][status.to_string()];
    assert!(resp.is_object(), "{method} {path} answered {status}, which is not documented: {body}");
    let schema = &resp["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} {status} has no JSON schema");
    check_value(&doc, schema, body, &format!("{method} {path} {status}"));
}

/// Asserts that `status` is documented for `method` on `path` with the media type
/// `media` (answers that are not JSON: the CSV journal).
pub fn check_media(path: &str, method: &str, status: u16, media: &str) {
    let doc = doc();
    let resp = &doc["paths"][path][method]["responses"][status.to_string()];
    assert!(resp.is_object(), "{method} {path} answered {status}, which is not documented");
    assert!(resp["content"][media].is_object(), "{method} {path} {status} is not documented as {media}");
}

/// One API request through [`super::http`] with its answer checked against the document:
/// `template` is the operation's path as the document writes it (`/invoices/{id}`),
/// `path` the real one under `/api/v1`.
pub async fn call(
    addr: std::net::SocketAddr,
    method: &str,
    template: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let (status, v) = super::http(addr, method, &format!("/api/v1{path}"), key, body).await;
    check(template, &method.to_ascii_lowercase(), status, &v);
    (status, v)
}
