//! Page languages: French (the service's home) and English. Every fixed text of the
//! pages is a field of [`Texts`](super::texts::Texts), so a text missing in one
//! language does not compile; messages that come from the payments core (in English)
//! are translated here when the page is French.

use super::texts::{Texts, EN, FR};

/// A page language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Fr,
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
/// import, cash operations); any message not listed is shown as it is.
pub fn message(lang: Lang, en: &str) -> String {
    if lang == Lang::En {
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
    }
}
