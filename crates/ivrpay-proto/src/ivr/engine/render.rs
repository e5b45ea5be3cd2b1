//! Turning a step's items into prompts in the call's language: recorded prompts by
//! name, and values said from recorded fragments (amounts, dates, digit strings).

use super::Engine;
use crate::ivr::dialplan::{Item, SayAs};
use crate::ivr::prompts::Prompt;
use crate::ivr::say::{self, Language};
use std::sync::Arc;

/// The prompts for `items`, in order. A name with no recording in any language is
/// skipped (the dialplan check makes that impossible for direct names; a fragment
/// missing in every language is reported by `ivrpay check`).
pub(super) fn render(engine: &Engine, items: &[Item]) -> Vec<Arc<Prompt>> {
    let lang = engine.language.as_str();
    let say_lang = Language::from_code(lang)
        .or_else(|| Language::from_code(engine.prompts.default_language()))
        .unwrap_or(Language::En);
    let mut out = Vec::new();
    let mut push = |name: &str| match engine.prompts.get(lang, name) {
        Some(p) => out.push(p),
        None => tracing::warn!(prompt = %name, %lang, "prompt missing in every language; skipped"),
    };
    for item in items {
        match item {
            Item::Prompt(name) => push(name),
            Item::Say(how, var) => {
                for name in say_value(engine, say_lang, *how, var) {
                    push(name);
                }
            }
        }
    }
    out
}

fn say_value(engine: &Engine, lang: Language, how: SayAs, var: &str) -> Vec<&'static str> {
    let invoice = engine.invoice.as_ref().map(|b| &b.0);
    match how {
        SayAs::Amount => invoice.map(|i| say::amount(lang, i.amount, i.currency)).unwrap_or_default(),
        SayAs::Date => invoice.map(|i| say::date(lang, i.due_date)).unwrap_or_default(),
        SayAs::Digits => engine.var_value(var).map(|v| say::digits(lang, &v)).unwrap_or_default(),
        SayAs::Number => {
            engine.var_value(var).and_then(|v| v.parse::<u64>().ok()).map(|n| say::number(lang, n)).unwrap_or_default()
        }
    }
}
