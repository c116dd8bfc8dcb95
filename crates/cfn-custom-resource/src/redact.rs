//! Keeping the presigned ResponseURL out of logs and out of the response Reason.
//!
//! The ResponseURL is a presigned S3 URL: anyone holding its query string can overwrite
//! the response of an in-flight stack operation. Only scheme, host and path are safe to show.

/// Placeholder written where a secret-bearing part of a string was removed.
pub(crate) const REDACTED: &str = "[redacted]";

/// Query parameters that carry presigning material. Scrubbed from free text even when the
/// full URL they came from is unknown (for example an error message quoting a redirect).
const SIGNING_PARAMS: &[&str] = &[
    "x-amz-signature=",
    "x-amz-credential=",
    "x-amz-security-token=",
    "signature=",
    "awsaccesskeyid=",
];

/// Returns `url` reduced to scheme, host (and port) and path, suitable for a log line.
///
/// The query string (which holds the presigned signature), the fragment and any
/// `user:password@` part are dropped. Something that does not look like an absolute URL is
/// still cut at its first `?` or `#`.
///
/// ```
/// use cfn_custom_resource::redact_url;
/// assert_eq!(
///     redact_url("https://bucket.s3.amazonaws.com/arn%3Aaws/req?X-Amz-Signature=abc"),
///     "https://bucket.s3.amazonaws.com/arn%3Aaws/req",
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or_default();
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => base.to_owned(),
    }
}

/// Removes every trace of `url` (if given) and of presigning parameters from `text`.
///
/// Used on anything that leaves the process: the Reason sent to CloudFormation and error
/// messages that are logged. Resource handlers often format lower-level errors into their
/// reason, and those can quote the request they failed on.
pub(crate) fn sanitize(text: &str, url: Option<&str>) -> String {
    let mut out = text.to_owned();
    if let Some(url) = url.filter(|u| !u.is_empty()) {
        // The full URL first, so that it becomes its readable redacted form rather than
        // a base followed by a placeholder.
        if out.contains(url) {
            out = out.replace(url, &redact_url(url));
        }
        if let Some((_, query)) = url.split_once('?') {
            let query = query.split('#').next().unwrap_or_default();
            if !query.is_empty() && out.contains(query) {
                out = out.replace(query, REDACTED);
            }
            // A single parameter can also be quoted on its own.
            for pair in query.split('&') {
                if let Some((_, value)) = pair.split_once('=') {
                    if value.len() >= 8 && out.contains(value) {
                        out = out.replace(value, REDACTED);
                    }
                }
            }
        }
    }
    scrub_signing_params(&out)
}

/// Replaces the value of any presigning query parameter with [`REDACTED`].
fn scrub_signing_params(text: &str) -> String {
    // ASCII lowercasing keeps byte offsets identical, so indices found in `lower` are
    // valid char boundaries in `text` too.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while pos < text.len() {
        let next = SIGNING_PARAMS
            .iter()
            .filter_map(|p| lower[pos..].find(p).map(|i| (pos + i, p.len())))
            .min_by_key(|&(i, _)| i);
        let Some((start, len)) = next else { break };
        let value_start = start + len;
        let value_end = text[value_start..]
            .find(|c: char| c == '&' || c == '#' || c == '"' || c == '\'' || c.is_whitespace())
            .map_or(text.len(), |i| value_start + i);
        out.push_str(&text[pos..value_start]);
        if value_end > value_start {
            out.push_str(REDACTED);
        }
        pos = value_end;
    }
    out.push_str(&text[pos.min(text.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://cfn-responses.s3.amazonaws.com/arn%3Aaws%3Acloudformation/abc?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20240101&X-Amz-Signature=deadbeefcafe0123";

    #[test]
    fn redact_url_keeps_scheme_host_path_only() {
        assert_eq!(
            redact_url(URL),
            "https://cfn-responses.s3.amazonaws.com/arn%3Aaws%3Acloudformation/abc"
        );
        assert_eq!(
            redact_url("http://user:pw@127.0.0.1:8080/x/y?sig=1#frag"),
            "http://127.0.0.1:8080/x/y"
        );
        assert_eq!(redact_url("https://host"), "https://host");
        assert_eq!(redact_url("https://host?q=1"), "https://host");
        assert_eq!(redact_url("not a url?secret"), "not a url");
        assert_eq!(redact_url(""), "");
    }

    #[test]
    fn sanitize_removes_url_query_and_single_params() {
        let text = format!("PUT {URL} failed");
        let clean = sanitize(&text, Some(URL));
        assert!(!clean.contains("deadbeefcafe0123"), "{clean}");
        assert!(!clean.contains("X-Amz-Credential=AKIA"), "{clean}");
        assert!(
            clean.contains("https://cfn-responses.s3.amazonaws.com/"),
            "{clean}"
        );

        let quoted = "the signature was deadbeefcafe0123 and then some";
        assert!(!sanitize(quoted, Some(URL)).contains("deadbeefcafe0123"));
    }

    #[test]
    fn sanitize_scrubs_signing_params_of_unknown_urls() {
        let text = "redirected to https://other/p?x-amz-signature=SECRETSIG&a=b, giving up";
        let clean = sanitize(text, None);
        assert!(!clean.contains("SECRETSIG"), "{clean}");
        assert!(
            clean.contains("x-amz-signature=[redacted]&a=b, giving up"),
            "{clean}"
        );
        // Non-ASCII text around a match must not break char boundaries.
        let text = "é Signature=ü€ é";
        assert_eq!(sanitize(text, None), "é Signature=[redacted] é");
    }
}
