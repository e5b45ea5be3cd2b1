//! Page languages: French (the service's home) and English. Every fixed text of the
//! pages is a field of `texts::Texts`, so a text missing in one
//! language does not compile; messages that come from the payments core (in English)
//! are translated here when the page is French.

use super::texts::{Texts, EN, FR};

/// A page language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// French: the service's home language, and the fallback when the browser asks for neither.
    Fr,
    /// English, for users whose browser or stored preference asks for it.
    En,
}

impl Lang {
    /// Both, in the order the switch shows them.
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    /// ISO 639-1 code (`<html lang>`, cookie, stored preference).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// Parses a code.
    pub fn parse(s: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code().eq_ignore_ascii_case(s.trim()))
    }

    /// The texts of this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Fr => &FR,
            Lang::En => &EN,
        }
    }

    /// The best of our languages for an `Accept-Language` header (RFC 9110: ranges
    /// with q-values); French when nothing matches.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or("").trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.trim().parse::<f32>().ok()))
                .unwrap_or(1.0);
            let primary = range.split('-').next().unwrap_or("");
            if let Some(l) = Lang::parse(primary) {
                if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, l));
                }
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::Fr)
    }
}

/// French for the English messages of the payments core (invoice validation, CSV
/// import, cash operations); any message not listed is shown as it is. A few are
/// reworded in English too: the CSV reader's errors (byte offsets mean nothing to a
/// person), amounts "in minor units" (pages take decimals) and the payment platform's
/// errors (how it was reached stays in the log).
pub fn message(lang: Lang, en: &str) -> String {
    let fr = lang == Lang::Fr;
    if en.starts_with("CSV ") {
        return if fr {
            "cette ligne n'a pas pu être lue comme du CSV (vérifiez ses guillemets)"
        } else {
            "this line could not be read as CSV (check its quotes)"
        }
        .into();
    }
    if en.starts_with("is required (in minor units") {
        return if fr { "est obligatoire" } else { "is required" }.into();
    }
    if let Some(rest) = en.strip_prefix("the payment platform refused the ") {
        let code = rest.split("responseCode ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap_or("");
        return if fr {
            format!("la plateforme de paiement a refusé l'opération (code réponse {code})")
        } else {
            format!("the payment platform refused the operation (response code {code})")
        };
    }
    if en.starts_with("the payment platform could not be reached") {
        return if fr {
            "la plateforme de paiement n'a pas pu être jointe ; réessayez plus tard"
        } else {
            "the payment platform could not be reached; try again later"
        }
        .into();
    }
    if !fr {
        return en.to_string();
    }
    const FIXED: [(&str, &str); 16] = [
        ("is required", "est obligatoire"),
        ("is required (in minor units, e.g. 12345 for 123.45)", "est obligatoire"),
        ("use up to 35 letters, digits, '-' or '_'", "jusqu'à 35 lettres, chiffres, « - » ou « _ »"),
        ("unsupported; use EUR, USD, GBP, CHF or JPY", "non prise en charge ; utilisez EUR, USD, GBP, CHF ou JPY"),
        ("use the format YYYY-MM-DD", "utilisez le format AAAA-MM-JJ"),
        ("must not be before the due date", "ne doit pas précéder la date d'échéance"),
        ("is already past", "est déjà passée"),
        ("at most 100 characters", "100 caractères au plus"),
        ("at most 200 characters", "200 caractères au plus"),
        ("at most 500 characters", "500 caractères au plus"),
        ("already used for a different invoice", "déjà utilisée pour une autre facture"),
        ("required column missing", "colonne obligatoire absente"),
        ("must be on or before 'to'", "doit précéder ou égaler la date de fin"),
        ("the transaction changed meanwhile; retry", "la transaction a changé entre-temps ; recommencez"),
        ("use YYYY-MM-DD or RFC 3339", "utilisez le format AAAA-MM-JJ"),
        (
            "use paid, refused, abandoned, invalid_invoice, platform_error or completed",
            "choisissez une issue de la liste",
        ),
    ];
    if let Some((_, fr)) = FIXED.iter().find(|(e, _)| *e == en) {
        return fr.to_string();
    }
    if let Some(rest) = en.strip_prefix("must be between 1 and ") {
        return format!("doit être compris entre 1 et {}", rest.replace(" minor units", " unités"));
    }
    if let Some(rest) = en.strip_prefix("amount must be between 1 and ") {
        return format!("le montant doit être compris entre 1 et {rest}");
    }
    if let Some(line) = en.strip_prefix("already used on line ").and_then(|r| r.strip_suffix(" of this file")) {
        return format!("déjà utilisée à la ligne {line} de ce fichier");
    }
    if let Some((n, m)) = en.split_once(" fields, the header has ") {
        if n.parse::<u32>().is_ok() && m.parse::<u32>().is_ok() {
            return format!("{n} champ(s), l'en-tête en a {m}");
        }
    }
    if let Some(rest) = en.strip_prefix("unknown column; use ") {
        return format!("colonne inconnue ; utilisez {rest}");
    }
    if let Some((op_status, _)) = en.split_once(" transaction").filter(|_| en.contains(" is not allowed on a ")) {
        if let Some((op, status)) = op_status.split_once(" is not allowed on a ") {
            return format!("l'opération « {op} » n'est pas permise sur une transaction {status}");
        }
    }
    if let Some(rest) = en.strip_prefix('\'') {
        if let Some((value, tail)) = rest.split_once("' is not an amount in ") {
            let cur = tail.split(' ').next().unwrap_or("");
            return format!("« {value} » n'est pas un montant en {cur} (par ex. 123,45)");
        }
    }
    en.to_string()
}

/// A CSV report's field column: a column name as the file has it, or the whole row or
/// header in the page's language.
pub fn field(lang: Lang, name: &str) -> String {
    match (lang, name) {
        (Lang::Fr, "row") => "ligne".into(),
        (Lang::Fr, "header") => "en-tête".into(),
        _ => name.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        assert_eq!(Lang::from_accept_language("en-GB,en;q=0.9,fr;q=0.8"), Lang::En);
        assert_eq!(Lang::from_accept_language("de-DE,fr;q=0.5,en;q=0.4"), Lang::Fr);
        assert_eq!(Lang::from_accept_language("de, es"), Lang::Fr);
        assert_eq!(Lang::from_accept_language("fr;q=0, en;q=0.1"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::Fr);
    }

    #[test]
    fn core_messages_are_translated_for_french_pages() {
        assert_eq!(message(Lang::Fr, "is required"), "est obligatoire");
        assert_eq!(message(Lang::En, "is required"), "is required");
        assert_eq!(
            message(Lang::Fr, "refund is not allowed on a TO_CAPTURE transaction"),
            "l'opération « refund » n'est pas permise sur une transaction TO_CAPTURE"
        );
        assert_eq!(
            message(Lang::Fr, "'abc' is not an amount in EUR (e.g. 123.45)"),
            "« abc » n'est pas un montant en EUR (par ex. 123,45)"
        );
        assert_eq!(message(Lang::Fr, "something new"), "something new");
        assert_eq!(message(Lang::Fr, "3 fields, the header has 4"), "3 champ(s), l'en-tête en a 4");
        assert_eq!(message(Lang::En, "3 fields, the header has 4"), "3 fields, the header has 4");
        let csv =
            "CSV error: record 2 (line: 3, byte: 57): found record with 3 fields, but the previous record has 4 fields";
        assert_eq!(message(Lang::Fr, csv), "cette ligne n'a pas pu être lue comme du CSV (vérifiez ses guillemets)");
        assert_eq!(message(Lang::En, csv), "this line could not be read as CSV (check its quotes)");
        let refused = "the payment platform refused the refund: responseCode 05 (refused by the card issuer)";
        assert_eq!(message(Lang::Fr, refused), "la plateforme de paiement a refusé l'opération (code réponse 05)");
        let down = "the payment platform could not be reached for the refund (connection refused by 10.0.0.7:443); nothing was changed; retry later";
        for lang in Lang::ALL {
            assert!(!message(lang, down).contains("10.0.0.7"), "no internals");
        }
        assert_eq!(field(Lang::Fr, "row"), "ligne");
        assert_eq!(field(Lang::En, "row"), "row");
        assert_eq!(field(Lang::Fr, "amount"), "amount");
    }
}
