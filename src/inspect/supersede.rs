//! One fact, one finding: where a parser and a text rule report the same thing about a
//! file (a Hugging Face config's `auto_map`), the parser's finding stands and the text
//! rule's is dropped; the parser's finding takes the text rule's line if it has none.

use super::Finding;

/// (text rule, the findings that report the same fact better). A finding of the first
/// rule is dropped when the same file also has one of the others. Each replacement is at
/// least as severe as what it replaces, so no verdict changes.
const SUPERSEDED: &[(&str, &[&str])] = &[
    (
        "reachback.hf-auto-map",
        &[
            "hf.auto-map",
            "hf.auto-map-remote",
            "reachback.hf-auto-map-remote",
        ],
    ),
    ("reachback.hf-auto-map-remote", &["hf.auto-map-remote"]),
];

/// Drop findings another finding of the same file supersedes (see [`SUPERSEDED`]).
pub fn one_fact_one_finding(findings: &mut Vec<Finding>) {
    if !findings
        .iter()
        .any(|f| SUPERSEDED.iter().any(|(r, _)| f.rule == *r))
    {
        return;
    }
    let mut drop = vec![false; findings.len()];
    for (i, f) in findings.iter().enumerate() {
        let Some((_, by)) = SUPERSEDED.iter().find(|(r, _)| f.rule == *r) else {
            continue;
        };
        drop[i] = findings
            .iter()
            .any(|g| g.path == f.path && by.contains(&g.rule.as_str()));
    }
    // the standing finding learns where the fact is, if it did not know
    for i in 0..findings.len() {
        if !drop[i] {
            continue;
        }
        let (path, line, offset) = (
            findings[i].path.clone(),
            findings[i].line,
            findings[i].offset,
        );
        for g in findings.iter_mut() {
            if g.path == path && g.line.is_none() && g.offset.is_none() {
                let better = SUPERSEDED
                    .iter()
                    .any(|(_, by)| by.contains(&g.rule.as_str()));
                if better {
                    g.line = line;
                    g.offset = offset;
                }
            }
        }
    }
    let mut k = 0;
    findings.retain(|_| {
        k += 1;
        !drop[k - 1]
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{Category, Severity};

    fn f(path: &str, rule: &str, line: Option<u64>) -> Finding {
        let mut x = Finding::new(
            path,
            rule,
            Category::Reachback,
            Severity::Medium,
            "m",
            rule.as_bytes(),
        );
        x.line = line;
        x
    }

    #[test]
    fn the_parsed_finding_stands_alone() {
        let mut v = vec![
            f("config.json", "hf.auto-map", None),
            f("config.json", "reachback.hf-auto-map", Some(3)),
            f("other.json", "reachback.hf-auto-map", Some(2)),
        ];
        one_fact_one_finding(&mut v);
        let rules: Vec<(&str, &str, Option<u64>)> = v
            .iter()
            .map(|x| (x.path.as_str(), x.rule.as_str(), x.line))
            .collect();
        assert_eq!(
            rules,
            vec![
                ("config.json", "hf.auto-map", Some(3)),
                // no parsed finding for this file (say, JSON inside a notebook): kept
                ("other.json", "reachback.hf-auto-map", Some(2)),
            ]
        );
        let mut v = vec![
            f("t.json", "reachback.hf-auto-map", Some(2)),
            f("t.json", "reachback.hf-auto-map-remote", Some(2)),
            f("t.json", "hf.auto-map-remote", None),
        ];
        one_fact_one_finding(&mut v);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].rule, "hf.auto-map-remote");
        assert_eq!(v[0].line, Some(2));
        // text rules alone: the remote one stands for both
        let mut v = vec![
            f("n.txt", "reachback.hf-auto-map", Some(9)),
            f("n.txt", "reachback.hf-auto-map-remote", Some(9)),
        ];
        one_fact_one_finding(&mut v);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, "reachback.hf-auto-map-remote");
    }
}
