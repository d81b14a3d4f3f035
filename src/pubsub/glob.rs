//! Glob-style matching exactly as Redis's `stringmatchlen`: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`
//! (reversed ranges allowed), `\` escapes, binary-safe. Shared by PSUBSCRIBE, KEYS, SCAN MATCH and
//! CONFIG GET.
//!
//! Like Redis, a `*` that failed to match at some position stops the outer `*`s from trying longer
//! matches (`skip_longer`), which keeps patterns such as `a*a*a*a*b` linear instead of exponential.

/// Does `string` match `pattern`? `nocase` folds ASCII case (CONFIG GET uses it).
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, nocase, &mut skip_longer, 0)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

// Recursion is bounded by the number of `*` in the pattern; the nesting cap protects the stack
// from a hostile pattern made of thousands of separated stars.
const MAX_NESTING: usize = 1000;

fn match_impl(
    pattern: &[u8],
    string: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: usize,
) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    let (mut p, mut s) = (0usize, 0usize);
    while p < pattern.len() && s < string.len() {
        match pattern[p] {
            b'*' => {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                while s < string.len() {
                    if match_impl(
                        &pattern[p + 1..],
                        &string[s..],
                        nocase,
                        skip_longer,
                        nesting + 1,
                    ) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                p += 1;
                let not = pattern.get(p) == Some(&b'^');
                if not {
                    p += 1;
                }
                let c = string[s];
                let mut matched = false;
                loop {
                    let rest = pattern.len().saturating_sub(p);
                    if rest >= 2 && pattern[p] == b'\\' {
                        p += 1;
                        if pattern[p] == c {
                            matched = true;
                        }
                    } else if rest == 0 {
                        // Unterminated class: it swallows the rest of the pattern.
                        p -= 1;
                        break;
                    } else if pattern[p] == b']' {
                        break;
                    } else if rest >= 3 && pattern[p + 1] == b'-' {
                        let (mut start, mut end, mut ch) = (pattern[p], pattern[p + 2], c);
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = start.to_ascii_lowercase();
                            end = end.to_ascii_lowercase();
                            ch = ch.to_ascii_lowercase();
                        }
                        p += 2;
                        if ch >= start && ch <= end {
                            matched = true;
                        }
                    } else if eq(pattern[p], c, nocase) {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
            }
            b => {
                let mut lit = b;
                if b == b'\\' && pattern.len() - p >= 2 {
                    p += 1;
                    lit = pattern[p];
                }
                if !eq(lit, string[s], nocase) {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == string.len() {
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            break;
        }
    }
    p >= pattern.len() && s == string.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn basics() {
        // Like Redis: "*" needs at least the loop to run; KEYS special-cases a lone "*".
        assert!(!m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("news.*", "news.sport"));
        assert!(!m("news.*", "new"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(m("[abc", "a"));
        assert!(m("ab\\", "ab\\"));
    }

    #[test]
    fn nocase_and_binary() {
        assert!(glob_match(b"MAXMEMORY*", b"maxmemory-policy", true));
        assert!(!glob_match(b"MAXMEMORY*", b"maxmemory-policy", false));
        assert!(glob_match(b"\x00\xff*", b"\x00\xff\x01", false));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let pat = "a*".repeat(30) + "b";
        let s = "a".repeat(60);
        let t = std::time::Instant::now();
        assert!(!m(&pat, &s));
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }
}
