//! From TOML text to a checked [`Dialplan`]: every problem is reported with the file
//! and the line it is on, and nothing half-checked is ever returned.

use super::defs::{FileDef, ItemDef, Items, Ref, StepDef};
use super::{
    AuthorizeTargets, CardField, Collect, Dialplan, Item, LookupTargets, Menu, Reason, SayAs, Step, StepId, StepKind,
    Target, Validator,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

pub use super::error::DialplanError;

/// The version a file's text gets once loaded (a short content hash), so the operator
/// pages can tell whether a file on disk is the one serving calls.
pub fn version_of(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..6])
}

/// Variables the engine sets itself, and how they may be said.
const BUILTIN_VARS: [(&str, &[SayAs]); 7] = [
    ("invoice.amount", &[SayAs::Amount]),
    ("invoice.due_date", &[SayAs::Date]),
    ("invoice.reference", &[SayAs::Digits]),
    ("card.last4", &[SayAs::Digits]),
    ("payment.authorisation_id", &[SayAs::Digits]),
    ("payment.reference", &[SayAs::Digits]),
    ("language", &[]),
];

const COMMON_KEYS: [&str; 2] = ["max_visits", "on_max_visits"];

fn allowed_keys(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "play" | "say" => &["prompts", "interruptible", "next"],
        "collect" => &[
            "prompts",
            "interruptible",
            "into",
            "min_digits",
            "max_digits",
            "terminator",
            "terminator_required",
            "first_digit_timeout_ms",
            "inter_digit_timeout_ms",
            "attempts",
            "attempts_per_call",
            "validate",
            "pattern",
            "flush",
            "invalid_prompts",
            "reason_prompts",
            "timeout_prompts",
            "failure_prompts",
            "next",
            "on_failure",
            "back",
        ],
        "menu" => &[
            "prompts",
            "interruptible",
            "options",
            "timeout_ms",
            "on_timeout",
            "attempts",
            "flush",
            "invalid_prompts",
            "timeout_prompts",
            "failure_prompts",
            "on_failure",
            "back",
        ],
        "set_language" => &["language", "next"],
        "lookup_invoice" => &["code", "on"],
        "authorize" => &["prompts", "on"],
        "branch" => &["var", "cases", "default"],
        "hangup" => &["prompts"],
        _ => return None,
    })
}

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
    ids: BTreeMap<String, StepId>,
    vars: BTreeSet<String>,
    prompt_exists: &'a dyn Fn(&str) -> bool,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> DialplanError {
        DialplanError::Invalid {
            path: self.path.to_path_buf(),
            line: line_of(self.text, span.start),
            message: message.into(),
        }
    }

    fn step_ref(&self, r: &Ref) -> Result<StepId, DialplanError> {
        self.ids.get(r.get_ref()).copied().ok_or_else(|| self.err(r.span(), format!("no step named '{}'", r.get_ref())))
    }

    fn required<'d, T>(&self, v: &'d Option<T>, key: &str, step: &Spanned<StepDef>) -> Result<&'d T, DialplanError> {
        v.as_ref()
            .ok_or_else(|| self.err(step.span(), format!("a {} step needs '{key}'", step.get_ref().kind.get_ref())))
    }

    fn items(&self, items: Option<&Items>) -> Result<Vec<Item>, DialplanError> {
        let Some(items) = items else { return Ok(Vec::new()) };
        items.get_ref().iter().map(|i| self.item(i)).collect()
    }

    fn item(&self, item: &Spanned<ItemDef>) -> Result<Item, DialplanError> {
        match item.get_ref() {
            ItemDef::Prompt(name) => {
                if (self.prompt_exists)(name) {
                    Ok(Item::Prompt(name.clone()))
                } else {
                    Err(self.err(item.span(), format!("prompt '{name}' has no recording in the default language")))
                }
            }
            ItemDef::Say(s) => {
                let set: Vec<(SayAs, &String)> = [
                    (SayAs::Amount, &s.amount),
                    (SayAs::Date, &s.date),
                    (SayAs::Digits, &s.digits),
                    (SayAs::Number, &s.number),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
                .collect();
                let [(how, var)] = set[..] else {
                    return Err(self.err(item.span(), "say exactly one of amount, date, digits or number"));
                };
                if let Some((_, ways)) = BUILTIN_VARS.iter().find(|(n, _)| n == var) {
                    if !ways.contains(&how) {
                        return Err(self.err(item.span(), format!("'{var}' cannot be said as {how:?}")));
                    }
                } else if !self.vars.contains(var.as_str()) {
                    return Err(self.err(item.span(), format!("no variable '{var}' (collect into it first)")));
                } else if matches!(how, SayAs::Amount | SayAs::Date) {
                    return Err(self.err(item.span(), format!("'{var}' holds digits: say it as digits or number")));
                }
                Ok(Item::Say(how, var.clone()))
            }
        }
    }

    fn duration(&self, v: &Option<Spanned<u64>>, default_ms: u64) -> Result<Duration, DialplanError> {
        match v {
            Some(ms) if *ms.get_ref() == 0 || *ms.get_ref() > 120_000 => {
                Err(self.err(ms.span(), "timeouts must be between 1 and 120000 ms"))
            }
            Some(ms) => Ok(Duration::from_millis(*ms.get_ref())),
            None => Ok(Duration::from_millis(default_ms)),
        }
    }

    fn attempts(&self, v: &Option<Spanned<u32>>) -> Result<u32, DialplanError> {
        match v {
            Some(a) if !(1..=10).contains(a.get_ref()) => Err(self.err(a.span(), "attempts must be between 1 and 10")),
            Some(a) => Ok(*a.get_ref()),
            None => Ok(3),
        }
    }

    fn targets<const N: usize>(
        &self,
        on: &Spanned<BTreeMap<Spanned<String>, Ref>>,
        names: [&str; N],
    ) -> Result<[StepId; N], DialplanError> {
        for key in on.get_ref().keys() {
            if !names.contains(&key.get_ref().as_str()) {
                return Err(
                    self.err(key.span(), format!("unknown result '{}' (use {})", key.get_ref(), names.join(", ")))
                );
            }
        }
        let mut out = [0; N];
        for (i, name) in names.iter().enumerate() {
            let r = on
                .get_ref()
                .iter()
                .find(|(k, _)| k.get_ref() == name)
                .map(|(_, v)| v)
                .ok_or_else(|| self.err(on.span(), format!("'on' must say where '{name}' leads")))?;
            out[i] = self.step_ref(r)?;
        }
        Ok(out)
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

fn key_char(s: &str) -> Option<char> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => Some(c),
        _ => None,
    }
}

/// Parses and checks one dialplan. `prompt_exists` answers whether a prompt has a
/// recording in the default language (the fallback of every other language).
pub fn parse(path: &Path, text: &str, prompt_exists: &dyn Fn(&str) -> bool) -> Result<Dialplan, DialplanError> {
    let file: FileDef = toml::from_str(text).map_err(|e| DialplanError::Invalid {
        path: path.to_path_buf(),
        line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
        message: e.message().to_string(),
    })?;
    let mut ctx = Ctx { path, text, ids: BTreeMap::new(), vars: BTreeSet::new(), prompt_exists };
    // Every problem of the file is collected, so an operator sees them all at once.
    let mut errors = Vec::new();
    for (i, name) in file.steps.keys().enumerate() {
        let n = name.get_ref();
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            errors.push(ctx.err(name.span(), format!("step name '{n}': use lowercase letters, digits and _")));
        }
        ctx.ids.insert(n.clone(), i);
    }
    for step in file.steps.values() {
        if let Some(Target::Var(v)) = step.get_ref().into.as_ref().map(|r| target(r.get_ref())) {
            ctx.vars.insert(v);
        }
    }
    let header = file.dialplan.get_ref();
    let numbers: Vec<String> = header.numbers.get_ref().iter().map(|n| n.get_ref().trim().to_string()).collect();
    if numbers.is_empty() || numbers.iter().any(String::is_empty) {
        errors.push(ctx.err(header.numbers.span(), "'numbers' must list at least one non-empty service number"));
    }
    for (i, n) in header.numbers.get_ref().iter().enumerate() {
        if numbers[..i].contains(&numbers[i]) {
            errors.push(ctx.err(n.span(), format!("number '{}' is listed twice", numbers[i])));
        }
    }
    let language = header.language.get_ref().clone();
    if !valid_language(&language) {
        errors.push(ctx.err(header.language.span(), format!("language '{language}': use a code such as fr or en")));
    }
    let start = ctx.step_ref(&header.start).map_err(|e| errors.push(e)).unwrap_or_default();
    let mut steps = Vec::with_capacity(file.steps.len());
    for (name, def) in &file.steps {
        match step(&ctx, name.get_ref(), def) {
            Ok(s) => steps.push(s),
            Err(e) => errors.extend(e.into_problems()),
        }
    }
    if let Err(e) = check_card_flow(&ctx, &file) {
        errors.push(e);
    }
    match errors.len() {
        0 => {}
        1 => return Err(errors.remove(0)),
        _ => {
            errors.sort_by_key(DialplanError::line);
            return Err(DialplanError::Several(errors));
        }
    }
    let version = version_of(text);
    Ok(Dialplan {
        name: header.name.get_ref().clone(),
        description: header.description.clone().unwrap_or_default(),
        path: path.to_path_buf(),
        numbers,
        language,
        start,
        steps,
        version,
    })
}

fn valid_language(l: &str) -> bool {
    (2..=8).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

fn target(s: &str) -> Target {
    match s {
        "card.number" => Target::Card(CardField::Number),
        "card.expiry" => Target::Card(CardField::Expiry),
        "card.csc" => Target::Card(CardField::SecurityCode),
        other => Target::Var(other.to_string()),
    }
}

fn step(ctx: &Ctx, name: &str, def: &Spanned<StepDef>) -> Result<Step, DialplanError> {
    let d = def.get_ref();
    let kind_name = d.kind.get_ref().as_str();
    let allowed = allowed_keys(kind_name).ok_or_else(|| {
        ctx.err(
            d.kind.span(),
            format!(
                "unknown step kind '{kind_name}' (use play, say, collect, menu, set_language, lookup_invoice, authorize, branch, hangup)"
            ),
        )
    })?;
    for (key, span) in d.present_keys() {
        if !allowed.contains(&key) && !COMMON_KEYS.contains(&key) {
            return Err(ctx.err(span, format!("'{key}' is not used by a {kind_name} step")));
        }
    }
    let max_visits = match (&d.max_visits, &d.on_max_visits) {
        (Some(m), Some(to)) if *m.get_ref() >= 1 => Some((*m.get_ref(), ctx.step_ref(to)?)),
        (Some(m), Some(_)) => return Err(ctx.err(m.span(), "max_visits must be at least 1")),
        (None, None) => None,
        _ => return Err(ctx.err(def.span(), "max_visits and on_max_visits go together")),
    };
    let flag = |v: &Option<Spanned<bool>>, default: bool| v.as_ref().map(|b| *b.get_ref()).unwrap_or(default);
    let back = flag(&d.back, true);
    let kind = match kind_name {
        "play" | "say" => {
            let items = ctx.items(Some(ctx.required(&d.prompts, "prompts", def)?))?;
            StepKind::Play { items, interruptible: flag(&d.interruptible, false), next: next(ctx, d, def)? }
        }
        "collect" => StepKind::Collect(Box::new(collect(ctx, d, def)?)),
        "menu" => StepKind::Menu(Box::new(menu(ctx, d, def)?)),
        "set_language" => {
            let l = ctx.required(&d.language, "language", def)?;
            if !valid_language(l.get_ref()) {
                return Err(ctx.err(l.span(), format!("language '{}': use a code such as fr or en", l.get_ref())));
            }
            StepKind::SetLanguage { language: l.get_ref().clone(), next: next(ctx, d, def)? }
        }
        "lookup_invoice" => {
            let code = ctx.required(&d.code, "code", def)?;
            if !ctx.vars.contains(code.get_ref()) {
                return Err(ctx.err(code.span(), format!("no variable '{}' (collect into it first)", code.get_ref())));
            }
            let [payable, unknown, paid, cancelled, expired, in_progress, error] = ctx.targets(
                ctx.required(&d.on, "on", def)?,
                ["payable", "unknown", "paid", "cancelled", "expired", "in_progress", "error"],
            )?;
            StepKind::Lookup {
                var: code.get_ref().clone(),
                on: LookupTargets { payable, unknown, paid, cancelled, expired, in_progress, error },
            }
        }
        "authorize" => {
            let [accepted, refused, unavailable, unresolved, card_error, not_payable, in_progress] = ctx.targets(
                ctx.required(&d.on, "on", def)?,
                ["accepted", "refused", "unavailable", "unresolved", "card_error", "not_payable", "in_progress"],
            )?;
            StepKind::Authorize {
                items: ctx.items(d.prompts.as_ref())?,
                on: AuthorizeTargets {
                    accepted,
                    refused,
                    unavailable,
                    unresolved,
                    card_error,
                    not_payable,
                    in_progress,
                },
            }
        }
        "branch" => {
            let var = ctx.required(&d.var, "var", def)?;
            let known = var.get_ref().starts_with("visits.")
                || ctx.vars.contains(var.get_ref())
                || BUILTIN_VARS.iter().any(|(n, _)| n == var.get_ref());
            if !known {
                return Err(ctx.err(var.span(), format!("no variable '{}'", var.get_ref())));
            }
            if let Some(step) = var.get_ref().strip_prefix("visits.") {
                if !ctx.ids.contains_key(step) {
                    return Err(ctx.err(var.span(), format!("'{}': no step named '{step}'", var.get_ref())));
                }
            }
            let cases = ctx.required(&d.cases, "cases", def)?;
            let cases = cases
                .get_ref()
                .iter()
                .map(|(k, v)| Ok((k.get_ref().clone(), ctx.step_ref(v)?)))
                .collect::<Result<Vec<_>, DialplanError>>()?;
            StepKind::Branch {
                var: var.get_ref().clone(),
                cases,
                default: ctx.step_ref(ctx.required(&d.default, "default", def)?)?,
            }
        }
        "hangup" => StepKind::Hangup { items: ctx.items(d.prompts.as_ref())? },
        _ => unreachable!("allowed_keys knows every kind"),
    };
    Ok(Step { name: name.to_string(), kind, max_visits, back })
}

fn next(ctx: &Ctx, d: &StepDef, def: &Spanned<StepDef>) -> Result<StepId, DialplanError> {
    ctx.step_ref(ctx.required(&d.next, "next", def)?)
}

fn collect(ctx: &Ctx, d: &StepDef, def: &Spanned<StepDef>) -> Result<Collect, DialplanError> {
    let into_ref = ctx.required(&d.into, "into", def)?;
    let into = target(into_ref.get_ref());
    if let Target::Var(v) = &into {
        let ok = !v.is_empty()
            && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !v.starts_with(|c: char| c.is_ascii_digit());
        if !ok {
            return Err(ctx.err(
                into_ref.span(),
                format!(
                    "'{v}': collect into a plain name (lowercase, digits, _) or card.number, card.expiry, card.csc"
                ),
            ));
        }
    }
    let validator = match d.validate.as_ref().map(|v| (v.get_ref().as_str(), v.span())) {
        None | Some(("none", _)) => Validator::None,
        Some(("pattern", span)) => {
            let p = d.pattern.as_ref().ok_or_else(|| ctx.err(span, "validate = \"pattern\" needs 'pattern'"))?;
            let re = regex_lite::Regex::new(&format!("^(?:{})$", p.get_ref()))
                .map_err(|e| ctx.err(p.span(), format!("bad pattern: {e}")))?;
            Validator::Pattern(re)
        }
        Some(("luhn", _)) => Validator::Luhn,
        Some(("check_digit", _)) => Validator::CheckDigit,
        Some(("card_number", _)) => Validator::CardNumber,
        Some(("expiry", _)) => Validator::Expiry,
        Some(("security_code", _)) => Validator::SecurityCode,
        Some((other, span)) => {
            return Err(ctx.err(
                span,
                format!(
                    "unknown validator '{other}' (use none, pattern, luhn, check_digit, card_number, expiry, security_code)"
                ),
            ))
        }
    };
    if d.pattern.is_some() && !matches!(validator, Validator::Pattern(_)) {
        let p = d.pattern.as_ref().map(|p| p.span()).unwrap_or_default();
        return Err(ctx.err(p, "'pattern' is only used with validate = \"pattern\""));
    }
    let card_pair = match (&into, &validator) {
        (Target::Card(CardField::Number), Validator::CardNumber)
        | (Target::Card(CardField::Expiry), Validator::Expiry)
        | (Target::Card(CardField::SecurityCode), Validator::SecurityCode) => true,
        (Target::Card(_), _) | (_, Validator::CardNumber | Validator::Expiry | Validator::SecurityCode) => false,
        _ => true,
    };
    if !card_pair {
        return Err(ctx.err(
            into_ref.span(),
            "card data needs its own validator: card.number with card_number, card.expiry with expiry, card.csc with security_code",
        ));
    }
    let (default_min, default_max) = match &into {
        Target::Card(CardField::Number) => (12, 19),
        Target::Card(CardField::Expiry) => (4, 4),
        Target::Card(CardField::SecurityCode) => (3, 4),
        Target::Var(_) => (1, 20),
    };
    let min = d.min_digits.as_ref().map(|v| *v.get_ref() as usize).unwrap_or(default_min);
    let max = d.max_digits.as_ref().map(|v| *v.get_ref() as usize).unwrap_or(default_max);
    if min == 0 || max < min || max > super::MAX_DIGITS {
        let span = d.min_digits.as_ref().or(d.max_digits.as_ref()).map(|s| s.span()).unwrap_or(def.span());
        return Err(ctx.err(span, format!("digits: need 1 <= min_digits <= max_digits <= {}", super::MAX_DIGITS)));
    }
    let terminator = match &d.terminator {
        None => None,
        Some(t) => match key_char(t.get_ref()) {
            Some(c @ ('#' | '*')) => Some(c),
            _ => return Err(ctx.err(t.span(), "terminator must be \"#\" or \"*\"")),
        },
    };
    let back = d.back.as_ref().map(|b| *b.get_ref()).unwrap_or(true);
    if back && terminator == Some('*') {
        return Err(ctx.err(def.span(), "'*' cannot both end the input and go back: set back = false"));
    }
    let terminator_required = d.terminator_required.as_ref().map(|b| *b.get_ref()).unwrap_or(false);
    if terminator_required && terminator.is_none() {
        return Err(ctx.err(def.span(), "terminator_required needs a terminator"));
    }
    let mut reason_items = Vec::new();
    if let Some(rp) = &d.reason_prompts {
        for (k, items) in rp.get_ref() {
            let reason = Reason::ALL.iter().find(|r| r.as_str() == k.get_ref()).ok_or_else(|| {
                let all: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
                ctx.err(k.span(), format!("unknown reason '{}' (use {})", k.get_ref(), all.join(", ")))
            })?;
            reason_items.push((*reason, ctx.items(Some(items))?));
        }
    }
    Ok(Collect {
        items: ctx.items(d.prompts.as_ref())?,
        interruptible: d.interruptible.as_ref().map(|b| *b.get_ref()).unwrap_or(true),
        into,
        min_digits: min,
        max_digits: max,
        terminator,
        terminator_required,
        first_digit_timeout: ctx.duration(&d.first_digit_timeout_ms, 8000)?,
        inter_digit_timeout: ctx.duration(&d.inter_digit_timeout_ms, 4000)?,
        attempts: ctx.attempts(&d.attempts)?,
        attempts_per_call: d.attempts_per_call.as_ref().is_some_and(|b| *b.get_ref()),
        validator,
        flush: d.flush.as_ref().map(|b| *b.get_ref()).unwrap_or(false),
        invalid_items: ctx.items(d.invalid_prompts.as_ref())?,
        reason_items,
        timeout_items: ctx.items(d.timeout_prompts.as_ref())?,
        failure_items: ctx.items(d.failure_prompts.as_ref())?,
        next: next(ctx, d, def)?,
        on_failure: ctx.step_ref(ctx.required(&d.on_failure, "on_failure", def)?)?,
    })
}

fn menu(ctx: &Ctx, d: &StepDef, def: &Spanned<StepDef>) -> Result<Menu, DialplanError> {
    let opts = ctx.required(&d.options, "options", def)?;
    let mut options = Vec::new();
    for (k, v) in opts.get_ref() {
        let key = key_char(k.get_ref())
            .ok_or_else(|| ctx.err(k.span(), format!("option '{}': use one key, 0-9, * or #", k.get_ref())))?;
        options.push((key, ctx.step_ref(v)?));
    }
    if options.is_empty() {
        return Err(ctx.err(opts.span(), "a menu needs at least one option"));
    }
    Ok(Menu {
        items: ctx.items(Some(ctx.required(&d.prompts, "prompts", def)?))?,
        interruptible: d.interruptible.as_ref().map(|b| *b.get_ref()).unwrap_or(true),
        options,
        timeout: ctx.duration(&d.timeout_ms, 5000)?,
        on_timeout: d.on_timeout.as_ref().map(|r| ctx.step_ref(r)).transpose()?,
        attempts: ctx.attempts(&d.attempts)?,
        flush: d.flush.as_ref().map(|b| *b.get_ref()).unwrap_or(false),
        invalid_items: ctx.items(d.invalid_prompts.as_ref())?,
        timeout_items: ctx.items(d.timeout_prompts.as_ref())?,
        failure_items: ctx.items(d.failure_prompts.as_ref())?,
        on_failure: ctx.step_ref(ctx.required(&d.on_failure, "on_failure", def)?)?,
    })
}

/// An authorization needs the invoice and the three card fields collected somewhere
/// in the flow; say so at load rather than on a customer's call.
/// Checked on the file as written, so it is reported together with the steps' own
/// problems.
fn check_card_flow(ctx: &Ctx, file: &FileDef) -> Result<(), DialplanError> {
    let Some((name, _)) = file.steps.iter().find(|(_, d)| d.get_ref().kind.get_ref() == "authorize") else {
        return Ok(());
    };
    let kind = |d: &StepDef| d.kind.get_ref().clone();
    let has = |f: CardField| {
        file.steps.values().any(|d| {
            let d = d.get_ref();
            kind(d) == "collect" && d.into.as_ref().is_some_and(|i| target(i.get_ref()) == Target::Card(f))
        })
    };
    let lookup = file.steps.values().any(|d| kind(d.get_ref()) == "lookup_invoice");
    if !(has(CardField::Number) && has(CardField::Expiry) && has(CardField::SecurityCode) && lookup) {
        return Err(ctx.err(
            name.span(),
            "an authorize step needs a lookup_invoice step and collect steps into card.number, card.expiry and card.csc",
        ));
    }
    Ok(())
}
