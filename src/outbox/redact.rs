//! URLs and messages as they may be shown: a webhook URL's user info, query, fragment and
//! token-like path segments are secrets, kept out of every message and listing.

/// A URL as it may be shown: scheme, host, port and path. User info, query and fragment (where
/// secrets live), and path segments that look like tokens, are replaced by `…`; an authority that is not a plain `host[:port]` (a password
/// holding an unescaped `/`, `?` or `#` would make one) is shown as `…` whole, and so is a path
/// holding an `@`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "…".to_string();
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return "…".to_string();
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at_checked(end).unwrap_or((rest, ""));
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((_, h)) => ("…@", h),
        None => ("", authority),
    };
    if !is_plain_host_port(host) {
        return format!("{scheme}://…");
    }
    let cut = tail.find(['?', '#']).unwrap_or(tail.len());
    let (path, secret_tail) = tail.split_at_checked(cut).unwrap_or((tail, ""));
    let path = if path.contains('@') {
        "/…".to_string()
    } else {
        path.split('/')
            .map(|seg| if looks_like_token(seg) { "…" } else { seg })
            .collect::<Vec<_>>()
            .join("/")
    };
    let secret_tail = if secret_tail.is_empty() { "" } else { "?…" };
    format!("{scheme}://{userinfo}{host}{path}{secret_tail}")
}

/// A path segment that may be a secret (chat webhooks carry their token in the path): 16
/// characters or more, mixing letters and digits.
fn looks_like_token(segment: &str) -> bool {
    segment.len() >= 16
        && segment.chars().any(|c| c.is_ascii_digit())
        && segment.chars().any(|c| c.is_ascii_alphabetic())
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`, with nothing else in it.
fn is_plain_host_port(s: &str) -> bool {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let Some((inside, after)) = v6.split_once(']') else {
            return false;
        };
        if inside.is_empty()
            || !inside
                .chars()
                .all(|c| c.is_ascii_hexdigit() || ":.".contains(c))
        {
            return false;
        }
        match after.strip_prefix(':') {
            Some(p) => ("v6", Some(p)),
            None if after.is_empty() => ("v6", None),
            None => return false,
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        && port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Removes from a message every secret part of `url` (the URL itself, its user info, query,
/// fragment and token-like path segments), in case a library quoted them.
pub(super) fn scrub(message: &str, url: &str) -> String {
    let mut out = message.replace(url, &redact_url(url));
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut secrets: Vec<&str> = Vec::new();
    if let Some((userinfo, _)) = rest.get(..authority_end).and_then(|a| a.rsplit_once('@')) {
        secrets.push(userinfo);
        secrets.extend(userinfo.split(':'));
    }
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let path = rest.get(authority_end..path_end).unwrap_or("");
    secrets.extend(path.split('/').filter(|seg| looks_like_token(seg)));
    if let Some(i) = rest.find(['?', '#']) {
        let tail = rest.get(i + 1..).unwrap_or("");
        secrets.push(tail);
        secrets.extend(tail.split(['&', '=', '#']));
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets.into_iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "…");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_lose_the_secret_parts_of_the_url() {
        let url = "https://alice:hunter22@h.example/hook?token=s3cret-value&x=1";
        let m = scrub(
            &format!("bad uri: {url} is missing host; token=s3cret-value; alice:hunter22"),
            url,
        );
        assert!(!m.contains("hunter22"), "{m}");
        assert!(!m.contains("s3cret-value"), "{m}");
        assert!(m.contains("https://…@h.example/hook?…"), "{m}");
    }
}
