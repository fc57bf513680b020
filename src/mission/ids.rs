//! Identifier grammars (PRODUCT.md §2). Every id that reaches a path, a ref name or a command
//! line passes one of these checks first.

/// `^[a-z0-9][a-z0-9-]{0,47}$`
pub fn is_mission_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 48
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// `^F[0-9]+[a-z]?$`
pub fn is_feature_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('F') else {
        return false;
    };
    let rest = rest
        .strip_suffix(|c: char| c.is_ascii_lowercase())
        .unwrap_or(rest);
    !rest.is_empty() && rest.bytes().all(|c| c.is_ascii_digit())
}

/// `^M[0-9]+$`
pub fn is_milestone_id(s: &str) -> bool {
    prefixed_number(s, 'M')
}

/// `^VC[0-9]+$`
pub fn is_contract_id(s: &str) -> bool {
    s.strip_prefix('V').is_some_and(|r| prefixed_number(r, 'C'))
}

/// A run id: `^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$` without `..`, safe as a file name.
pub fn is_run_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 80
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
        && !s.contains("..")
}

fn prefixed_number(s: &str, prefix: char) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|c| c.is_ascii_digit()))
}

/// The human description of a grammar, for hints.
pub const MISSION_ID_GRAMMAR: &str =
    "lowercase letters, digits and '-', starting with a letter or digit, at most 48 characters";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mission_ids() {
        for ok in ["a", "0", "settings-ui", "a-", &"a".repeat(48)] {
            assert!(is_mission_id(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "A",
            "a_b",
            "a/b",
            "../x",
            "a b",
            "é",
            &"a".repeat(49),
        ] {
            assert!(!is_mission_id(bad), "{bad}");
        }
    }

    #[test]
    fn feature_milestone_contract_ids() {
        assert!(is_feature_id("F1") && is_feature_id("F12b") && is_feature_id("F0"));
        for bad in ["F", "Fa", "F1B", "f1", "F1ab", "F-1", "M1"] {
            assert!(!is_feature_id(bad), "{bad}");
        }
        assert!(is_milestone_id("M1") && is_milestone_id("M10"));
        for bad in ["M", "m1", "M1a", "F1"] {
            assert!(!is_milestone_id(bad), "{bad}");
        }
        assert!(is_contract_id("VC1") && is_contract_id("VC200"));
        for bad in ["VC", "V1", "vc1", "VC1a", "C1"] {
            assert!(!is_contract_id(bad), "{bad}");
        }
    }

    #[test]
    fn run_ids() {
        assert!(is_run_id("20261121T100000-F1-1"));
        for bad in ["", "..", "a/b", ".hidden", "a..b", "a b"] {
            assert!(!is_run_id(bad), "{bad}");
        }
    }
}
