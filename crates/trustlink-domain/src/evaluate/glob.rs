//! IAM's two wildcards: `*` (any run of characters, also none) and `?` (exactly one).
//! Used by Action, Resource, StringLike and ArnLike; there is no escape for either.

/// Whether `text` matches `pattern`, character by character (not byte by byte, so `?`
/// stands for one character of a non-ASCII name too).
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    matches_chars(&p, &t)
}

/// `matches` ignoring case, for action names (IAM compares them case-insensitively).
pub(crate) fn matches_ignore_case(pattern: &str, text: &str) -> bool {
    matches(&pattern.to_lowercase(), &text.to_lowercase())
}

/// Whether the pattern has a wildcard at all.
pub(crate) fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// The classic linear matcher: on a mismatch, go back to just after the last `*` and let it
/// swallow one more character. No recursion, so no stack to exhaust on hostile patterns.
fn matches_chars(p: &[char], t: &[char]) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_table() {
        // (pattern, text, matches)
        let rows = [
            ("*", "", true),
            ("*", "anything at all", true),
            ("", "", true),
            ("", "x", false),
            ("sts:AssumeRole", "sts:AssumeRole", true),
            ("sts:AssumeRole", "sts:assumerole", false),
            ("sts:*", "sts:AssumeRole", true),
            ("sts:*", "iam:GetRole", false),
            ("sts:Assume*", "sts:AssumeRoleWithSAML", true),
            ("*Role", "sts:AssumeRole", true),
            ("s?s:*", "sts:TagSession", true),
            ("s?s:*", "ss:TagSession", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("a**", "a", true),
            ("?", "é", true),
            ("??", "é", false),
            ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b", true),
            ("*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
        ];
        for (pattern, text, expected) in rows {
            assert_eq!(matches(pattern, text), expected, "{pattern} ~ {text}");
        }
        assert!(matches_ignore_case("STS:assume*", "sts:AssumeRole"));
        assert!(has_wildcard("a?") && has_wildcard("*") && !has_wildcard("abc"));
    }
}
