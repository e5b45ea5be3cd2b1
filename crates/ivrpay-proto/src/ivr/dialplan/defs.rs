//! The dialplan file as written: serde shapes with spans, so every later check can
//! name the line at fault. One flat step shape serves all kinds (serde's tagged enums
//! lose spans); [`super::parse`] checks which keys each kind may use.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// A whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDef {
    pub dialplan: Spanned<HeaderDef>,
    #[serde(default)]
    pub steps: BTreeMap<Spanned<String>, Spanned<StepDef>>,
}

/// `[dialplan]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HeaderDef {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub numbers: Spanned<Vec<Spanned<String>>>,
    pub language: Spanned<String>,
    pub start: Spanned<String>,
}

/// A prompt list entry: a prompt name, or `{ amount = "var" }` and the like.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum ItemDef {
    Prompt(String),
    Say(SayDef),
}

/// A value to say.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SayDef {
    pub amount: Option<String>,
    pub date: Option<String>,
    pub digits: Option<String>,
    pub number: Option<String>,
}

pub(super) type Items = Spanned<Vec<Spanned<ItemDef>>>;
pub(super) type Ref = Spanned<String>;

/// `[steps.NAME]`: the union of every kind's keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StepDef {
    pub kind: Spanned<String>,
    pub prompts: Option<Items>,
    pub interruptible: Option<Spanned<bool>>,
    pub next: Option<Ref>,
    pub into: Option<Ref>,
    pub min_digits: Option<Spanned<u32>>,
    pub max_digits: Option<Spanned<u32>>,
    pub terminator: Option<Spanned<String>>,
    pub terminator_required: Option<Spanned<bool>>,
    pub first_digit_timeout_ms: Option<Spanned<u64>>,
    pub inter_digit_timeout_ms: Option<Spanned<u64>>,
    pub timeout_ms: Option<Spanned<u64>>,
    pub attempts: Option<Spanned<u32>>,
    pub attempts_per_call: Option<Spanned<bool>>,
    pub validate: Option<Spanned<String>>,
    pub pattern: Option<Spanned<String>>,
    pub flush: Option<Spanned<bool>>,
    pub invalid_prompts: Option<Items>,
    pub reason_prompts: Option<Spanned<BTreeMap<Spanned<String>, Items>>>,
    pub timeout_prompts: Option<Items>,
    pub failure_prompts: Option<Items>,
    pub on_failure: Option<Ref>,
    pub on_timeout: Option<Ref>,
    pub options: Option<Spanned<BTreeMap<Spanned<String>, Ref>>>,
    pub language: Option<Spanned<String>>,
    pub code: Option<Ref>,
    pub on: Option<Spanned<BTreeMap<Spanned<String>, Ref>>>,
    pub var: Option<Ref>,
    pub cases: Option<Spanned<BTreeMap<Spanned<String>, Ref>>>,
    pub default: Option<Ref>,
    pub max_visits: Option<Spanned<u32>>,
    pub on_max_visits: Option<Ref>,
    pub back: Option<Spanned<bool>>,
}

impl StepDef {
    /// The keys present, with their spans, to refuse keys a kind does not use.
    pub fn present_keys(&self) -> Vec<(&'static str, std::ops::Range<usize>)> {
        let mut v = Vec::new();
        macro_rules! key {
            ($($f:ident),*) => {$(
                if let Some(x) = &self.$f {
                    v.push((stringify!($f), x.span()));
                }
            )*};
        }
        key!(
            prompts,
            interruptible,
            next,
            into,
            min_digits,
            max_digits,
            terminator,
            terminator_required,
            first_digit_timeout_ms,
            inter_digit_timeout_ms,
            timeout_ms,
            attempts,
            attempts_per_call,
            validate,
            pattern,
            flush,
            invalid_prompts,
            reason_prompts,
            timeout_prompts,
            failure_prompts,
            on_failure,
            on_timeout,
            options,
            language,
            code,
            on,
            var,
            cases,
            default,
            max_visits,
            on_max_visits,
            back
        );
        v
    }
}
