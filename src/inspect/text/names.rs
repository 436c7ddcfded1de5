//! Which providers a line names before a match (`names_before`), and those providers' key
//! formats (`name_formats`): a value that fits none of its provider's formats is not that
//! provider's key.

use super::rules::{normal_name, MAX_NAME};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The message note of a catch-all match whose value is not in its provider's key format.
pub const FORMAT_NOTE: &str = "the value does not have the length or characters of the key \
     format of the provider named beside it, so it is not that provider's key (a test value, \
     a truncated or edited copy, or another kind of value; listed for information)";

/// Longest format spec, in bytes.
const MAX_SPEC: usize = 128;
/// Longest key a format may describe.
const MAX_KEY: usize = 1024;

/// One key format: a literal prefix, then `min..=max` characters of one class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFormat {
    prefix: Vec<u8>,
    /// The class, as a bit per ASCII byte.
    class: u128,
    min: usize,
    max: usize,
}

impl KeyFormat {
    /// Parse `PREFIX[CLASS]{N}` or `PREFIX[CLASS]{N,M}`: the prefix is letters, digits,
    /// `_`, `-` and `.` (`access-sandbox-`, `sk.`); the class holds printable ASCII and
    /// ranges such as `a-z` (a `-` first or last is itself); no escapes, no `]` or `\`
    /// inside.
    pub fn parse(spec: &str) -> Result<KeyFormat, String> {
        let bad = |why: &str| Err(format!("key format {spec:?}: {why}"));
        if spec.len() > MAX_SPEC {
            return bad("too long");
        }
        let Some(open) = spec.find('[') else {
            return bad("no character class `[...]`");
        };
        let prefix = &spec.as_bytes()[..open];
        if !prefix
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return bad("the prefix may hold only letters, digits, `_`, `-` and `.`");
        }
        let rest = &spec[open + 1..];
        let Some(close) = rest.find(']') else {
            return bad("the class is not closed");
        };
        let items = &rest.as_bytes()[..close];
        if items.is_empty() || items.iter().any(|b| !b.is_ascii_graphic() || *b == b'\\') {
            return bad("the class must be printable characters without `\\`");
        }
        let mut class = 0u128;
        let mut i = 0;
        while i < items.len() {
            let c = items[i];
            match (items.get(i + 1), items.get(i + 2)) {
                (Some(b'-'), Some(&d)) if c <= d => {
                    for x in c..=d {
                        class |= 1u128 << x;
                    }
                    i += 3;
                }
                (Some(b'-'), Some(_)) => return bad("a range runs backwards"),
                _ => {
                    class |= 1u128 << c;
                    i += 1;
                }
            }
        }
        let len = &rest[close + 1..];
        let Some(len) = len.strip_prefix('{').and_then(|l| l.strip_suffix('}')) else {
            return bad("the length must follow as `{N}` or `{N,M}`");
        };
        let num = |t: &str| t.trim().parse::<usize>().ok().filter(|n| *n <= MAX_KEY);
        let (min, max) = match len.split_once(',') {
            None => (num(len), num(len)),
            Some((a, b)) => (num(a), num(b)),
        };
        match (min, max) {
            (Some(min), Some(max)) if 1 <= min && min <= max => Ok(KeyFormat {
                prefix: prefix.to_vec(),
                class,
                min,
                max,
            }),
            _ => bad("the length must be 1 to 1024, and N no more than M"),
        }
    }

    /// Whether `value` is the prefix followed by `min..=max` characters of the class.
    pub fn fits(&self, value: &[u8]) -> bool {
        let Some(body) = value.strip_prefix(self.prefix.as_slice()) else {
            return false;
        };
        (self.min..=self.max).contains(&body.len())
            && body
                .iter()
                .all(|&b| b < 128 && self.class & (1u128 << b) != 0)
    }
}

/// A rule's `name_formats`, by normalised provider name.
#[derive(Clone, Debug, Default)]
pub struct Formats(HashMap<Vec<u8>, Vec<KeyFormat>>);

impl Formats {
    /// Parse `name_formats`; every name must be one of the rule's `names` (normalised).
    pub fn new(
        table: &BTreeMap<String, Vec<String>>,
        names: &HashSet<Vec<u8>>,
    ) -> Result<Formats, String> {
        let mut map = HashMap::new();
        for (name, specs) in table {
            let k = normal_name(name.as_bytes());
            if !names.contains(&k) {
                return Err(format!("name_formats name {name:?} is not in names_before"));
            }
            if specs.is_empty() {
                return Err(format!("name_formats {name:?} lists no format"));
            }
            let list = specs
                .iter()
                .map(|s| KeyFormat::parse(s))
                .collect::<Result<Vec<_>, _>>()?;
            map.insert(k, list);
        }
        Ok(Formats(map))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `value` can be the key of the providers `named`: false only when every one
    /// of them has formats and the value fits none (a provider without formats, or no
    /// provider, leaves the value as it is).
    pub fn may_fit(&self, named: &[&[u8]], value: &[u8]) -> bool {
        if named.is_empty() {
            return true;
        }
        let mut lists = Vec::with_capacity(named.len());
        for n in named {
            match self.0.get(*n) {
                Some(l) => lists.push(l),
                None => return true,
            }
        }
        lists.iter().flat_map(|l| l.iter()).any(|f| f.fits(value))
    }
}

/// Every name of `names` (normalised) that begins a word, or a run of up to three words, in
/// `before` (the text before a match on its line), in the order found; at most `limit`.
/// Words split at non-alphanumerics and at lower-to-upper case humps.
pub fn names_in<'a>(before: &[u8], names: &'a HashSet<Vec<u8>>, limit: usize) -> Vec<&'a [u8]> {
    let mut found: Vec<&'a [u8]> = Vec::new();
    let mut words: Vec<&[u8]> = Vec::new();
    let mut s = None;
    for i in 0..=before.len() {
        let b = before.get(i).copied();
        let alnum = b.is_some_and(|b| b.is_ascii_alphanumeric());
        let hump = alnum
            && i > 0
            && b.is_some_and(|b| b.is_ascii_uppercase())
            && before[i - 1].is_ascii_lowercase();
        if let Some(st) = s {
            if !alnum || hump {
                words.push(&before[st..i]);
                s = None;
            }
        }
        if alnum && s.is_none() {
            s = Some(i);
        }
    }
    let mut joined = Vec::with_capacity(MAX_NAME);
    for i in 0..words.len() {
        joined.clear();
        for w in words.iter().skip(i).take(3) {
            joined.extend(w.iter().map(u8::to_ascii_lowercase));
            let top = joined.len().min(MAX_NAME);
            for n in 3..=top {
                if let Some(name) = names.get(&joined[..n]) {
                    if !found.contains(&name.as_slice()) {
                        found.push(name);
                        if found.len() >= limit {
                            return found;
                        }
                    }
                }
            }
        }
    }
    found
}

/// Whether a word, or a run of up to three words, in `before` begins with one of `names`
/// (the tests' question; the matcher asks [`names_in`] which names they are).
#[cfg(test)]
pub fn name_before(before: &[u8], names: &HashSet<Vec<u8>>) -> bool {
    !names_in(before, names, 1).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(list: &[&str]) -> HashSet<Vec<u8>> {
        list.iter().map(|n| normal_name(n.as_bytes())).collect()
    }

    #[test]
    fn formats_parse_and_fit() {
        let hex = KeyFormat::parse("[0-9a-f]{32}").unwrap();
        assert!(hex.fits(b"5f0e9d1c2b3a49586776a5b4c3d2e1f0"));
        // one character outside the class, or one too few
        assert!(!hex.fits(b"5f0e9d1c2b3a49586776a5b4c3d2e1fg"));
        assert!(!hex.fits(b"5f0e9d1c2b3a49586776a5b4c3d2e1f"));
        let pre = KeyFormat::parse("sk_[A-Za-z0-9_-]{20,24}").unwrap();
        assert!(pre.fits(b"sk_Q2w-E3r_T4y5U6i7O8p9"));
        assert!(!pre.fits(b"pk_Q2w-E3r_T4y5U6i7O8p9"));
        assert!(!pre.fits(b"sk_Q2w.E3r_T4y5U6i7O8p9"));
        // a prefix with dashes and dots (Plaid's access tokens, Mapbox's)
        let plaid = KeyFormat::parse("access-sandbox-[0-9a-f-]{36}").unwrap();
        assert!(plaid.fits(b"access-sandbox-3f9c2e71-5a0b-4d8e-9c61-0b7e2a4d5f18"));
        assert!(!plaid.fits(b"access-sandbox-3f9c2e71-5a0b-4d8e-9c61-0b7e2a4d5g18"));
        assert!(!plaid.fits(b"access-sandbox3f9c2e71-5a0b-4d8e-9c61-0b7e2a4d5f18a"));
        // a dash first or last is itself
        let dash = KeyFormat::parse("[-a-c]{3}").unwrap();
        assert!(dash.fits(b"a-c") && !dash.fits(b"abd"));
        for bad in [
            "0-9a-f{32}",
            "[0-9a-f{32}",
            "[0-9a-f]",
            "[0-9a-f]{0}",
            "[0-9a-f]{9,3}",
            "[9-0]{3}",
            "x/y[a-z]{3}",
            "x y[a-z]{3}",
            "[a\\]z]{3}",
            "[a-z]{3}x",
        ] {
            assert!(KeyFormat::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_found_before_a_match() {
        let names = set(&["newrelic", "newrelicbrowser", "amplitude", "etsy"]);
        let found = names_in(b"[DEBUG] Using newrelicBrowser", &names, 8);
        assert_eq!(found, vec![&b"newrelic"[..], b"newrelicbrowser"]);
        assert_eq!(names_in(b"NEW_RELIC_BROWSER", &names, 1).len(), 1);
        assert!(names_in(b"using relic", &names, 8).is_empty());
        assert!(name_before(b"  <ETSY", &names) && !name_before(b"betsy", &names));
    }

    #[test]
    fn values_judged_by_their_providers_formats() {
        let names = set(&["amplitude", "loggly", "azure"]);
        let mut table = BTreeMap::new();
        table.insert("amplitude".to_string(), vec!["[0-9a-f]{32}".to_string()]);
        table.insert(
            "loggly".to_string(),
            vec!["[0-9a-f]{8}".to_string(), "[A-Za-z0-9]{40}".to_string()],
        );
        let f = Formats::new(&table, &names).unwrap();
        let amp = [&b"amplitude"[..]];
        assert!(f.may_fit(&amp, b"5f0e9d1c2b3a49586776a5b4c3d2e1f0"));
        // a stray letter outside hex, and a hex value two characters long
        assert!(!f.may_fit(&amp, b"5f0e9d1c2b3a4958q776a5b4c3d2e1f0"));
        assert!(!f.may_fit(&amp, b"5f0e9d1c2b3a49586776a5b4c3d2e1f0a1"));
        // any of a provider's formats will do
        assert!(f.may_fit(
            &[&b"loggly"[..]],
            b"Zx8Kq2Lp0Wm7Nr3Vb9Tc4Yd6Ue1Hf5aJ8kQ2wE3r"
        ));
        // a provider without formats, or none named, leaves the value as it is
        assert!(f.may_fit(
            &[&b"amplitude"[..], b"azure"],
            b"not-hex-at-all-but-random-9x"
        ));
        assert!(f.may_fit(&[], b"anything"));
        // a name outside names_before, or a bad format, is a rule error
        table.insert("nosuch".to_string(), vec!["[a-z]{3}".to_string()]);
        assert!(Formats::new(&table, &names).is_err());
        table.remove("nosuch");
        table.insert("azure".to_string(), vec!["[a-z]{3".to_string()]);
        assert!(Formats::new(&table, &names).is_err());
    }
}
