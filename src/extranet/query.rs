//! Query strings of the API read into typed structs, with a malformed one answered as a
//! JSON 400 that names the parameter at fault (`?limit=abc` -> `"field": "limit"`)
//! rather than axum's plain-text rejection a merchant's program cannot read.

use super::error::ApiError;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A query string deserialized into `T`, or a JSON 400 naming the parameter.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse(&parts.uri).map(ApiQuery)
    }
}

/// The query of `uri` as `T`, or the error naming the parameter at fault.
pub fn parse<T: DeserializeOwned>(uri: &axum::http::Uri) -> Result<T, ApiError> {
    let pairs = match Query::<Vec<(String, String)>>::try_from_uri(uri) {
        Ok(Query(p)) => p,
        Err(_) => return Err(bad("query", "not a valid URL-encoded query string".into())),
    };
    match Query::<T>::try_from_uri(uri) {
        Ok(Query(t)) => Ok(t),
        Err(e) => {
            let text = e.body_text();
            let detail = text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text).to_string();
            let (field, message) = culprit(&detail, &pairs);
            Err(bad(&field, message))
        }
    }
}

fn bad(field: &str, message: String) -> ApiError {
    ApiError::BadQuery { field: field.chars().take(64).collect(), message }
}

/// The parameter a serde error is about, and what to tell the merchant. serde reports
/// a bad value as `name: reason` (the path), an unknown, missing or repeated one by
/// quoting its name in backticks.
fn culprit(detail: &str, pairs: &[(String, String)]) -> (String, String) {
    if let Some((name, reason)) = detail.split_once(": ") {
        if let Some((_, value)) = pairs.iter().find(|(k, _)| k == name) {
            let value: String = value.chars().take(64).collect();
            return (name.to_string(), format!("'{value}' is not valid for {name}: {}", friendly(reason)));
        }
    }
    let quoted = |prefix: &str| detail.split(prefix).nth(1).and_then(|rest| rest.split('`').next()).map(str::to_string);
    if let Some(name) = quoted("unknown field `") {
        let message = match detail.split_once(", expected ") {
            Some((_, expected)) => format!("unknown parameter '{name}'; expected {expected}"),
            None => format!("unknown parameter '{name}'"),
        };
        return (name, message);
    }
    if let Some(name) = quoted("duplicate field `") {
        return (name.clone(), format!("{name} is given more than once"));
    }
    if let Some(name) = quoted("missing field `") {
        return (name.clone(), format!("{name} is required"));
    }
    ("query".to_string(), detail.to_string())
}

/// serde's wording for a few common mistakes, in the API's terms.
fn friendly(reason: &str) -> String {
    if reason.contains("invalid digit") || reason.contains("empty string") || reason.contains("too large") {
        format!("expected an integer ({reason})")
    } else if reason.contains("`true` or `false`") {
        "expected true or false".into()
    } else {
        reason.to_string()
    }
}

/// The `cursor` parameter of a listing: None for the first page, the cursor itself when
/// it is one this API gave, a 400 naming `cursor` otherwise (never silently page one).
pub fn page_cursor(cursor: Option<&str>) -> Result<Option<&str>, ApiError> {
    let cursor = cursor.filter(|c| !c.is_empty());
    if cursor.is_some_and(|c| crate::store::invoices::parse_cursor(c).is_none()) {
        return Err(ApiError::BadQuery {
            field: "cursor".into(),
            message: "not a cursor this API gave (use next_cursor from the previous page as it is)".into(),
        });
    }
    Ok(cursor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Q {
        limit: Option<u32>,
        flag: Option<bool>,
        name: Option<String>,
    }

    fn field(uri: &str) -> (String, String) {
        match parse::<Q>(&uri.parse().unwrap()) {
            Ok(q) => panic!("{uri} accepted: {q:?}"),
            Err(ApiError::BadQuery { field, message }) => (field, message),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn each_mistake_names_its_parameter() {
        assert!(parse::<Q>(&"/x?limit=5&flag=true&name=a".parse().unwrap()).is_ok());
        let (f, m) = field("/x?name=a&limit=abc");
        assert_eq!(f, "limit");
        assert!(m.contains("'abc'") && m.contains("integer"), "{m}");
        assert_eq!(field("/x?flag=yes").0, "flag");
        assert_eq!(field("/x?limt=5").0, "limt");
        assert!(field("/x?limt=5").1.contains("expected"), "the accepted names are listed");
        assert_eq!(field("/x?limit=1&limit=2").0, "limit");
    }
}
