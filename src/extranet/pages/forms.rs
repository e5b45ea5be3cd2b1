//! Errors shown beside the field they concern, the way every page form reports them.

use super::i18n::{self, Lang};
use crate::payments::invoice::FieldError;

/// The problems of a submitted form, by field name.
#[derive(Clone, Debug, Default)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    /// The message for `field`, or "" (templates test for emptiness).
    pub fn get(&self, field: &str) -> &str {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str()).unwrap_or("")
    }

    /// Adds a problem (the first one per field is the one shown).
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    /// True when the form was fine.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The payments core's field errors, in the page's language.
    pub fn from_core(lang: Lang, errs: &[FieldError]) -> FieldErrors {
        let mut out = FieldErrors::default();
        for e in errs {
            out.add(e.field, i18n::message(lang, &e.message));
        }
        out
    }
}
