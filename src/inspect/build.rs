//! Building the full inspection engine from a policy: the text rules (built-in plus the
//! policy's rule folders and inline rules, minus disabled ids), every model inspector, and
//! nested containers within the policy's limits.

use super::text::gitleaks::{self, PathRule};
use super::text::rules::{Rule, RuleError, MAX_RULES};
use super::text::{rules, ScannerError, TextInspector, TextScanner};
use super::{models, Engine, Inspector, ScanContext};
use crate::policy::Policy;
use std::sync::Arc;

/// Why the engine could not be built: a configuration error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// A rule file or the policy's `[[rule]]` entries could not be loaded.
    #[error(transparent)]
    Rules(#[from] rules::RuleError),
    /// The text scanner could not be built from the loaded rules.
    #[error("cannot build the text scanner: {0}")]
    Scanner(#[from] ScannerError),
    /// The keyword prefilter could not be built.
    #[error("cannot build the keyword matcher: {0}")]
    Matcher(#[from] super::text::keywords::KeywordError),
    /// `[inspect.uninspectable]` names a format that is not refused; the name, then the known
    /// names.
    #[error("[inspect.uninspectable] names {0:?}, which is not a refused format; known: {1}")]
    UnknownFormat(String, String),
}

/// The text scanner for `policy` (also what model inspectors get as `ScanContext::text`).
pub fn build_text_scanner(policy: &Policy) -> Result<Arc<TextScanner>, InspectError> {
    let dirs: Vec<_> = policy
        .inspect
        .rules_dirs
        .iter()
        .map(|d| policy.resolve(d))
        .collect();
    let mut rules = rules::load(&dirs, &policy.inspect.rules, &policy.inspect.disabled_rules)?;
    let files: Vec<_> = policy
        .inspect
        .rule_files
        .iter()
        .map(|f| policy.resolve(f))
        .collect();
    let path_rules = add_rule_files(&mut rules, &files, &policy.inspect.disabled_rules)?;
    let scanner = TextScanner::new(rules, &policy.inspect.internal_domains)?;
    Ok(Arc::new(scanner.with_path_rules(path_rules)))
}

/// Add the rules of `files` (gitleaks or airgate format; see `--rules`) beside `rules`,
/// less the `disabled` ids. A file cannot replace a rule already loaded: its ids must be
/// new. Returns the files' path-only rules.
pub fn add_rule_files(
    rules: &mut Vec<Rule>,
    files: &[std::path::PathBuf],
    disabled: &[String],
) -> Result<Vec<PathRule>, RuleError> {
    let mut path_rules: Vec<PathRule> = Vec::new();
    for f in files {
        let loaded = gitleaks::load_file(f)?;
        let name = f.display().to_string();
        let taken = |id: &str, rules: &[Rule], path_rules: &[PathRule]| -> Result<(), RuleError> {
            let by = rules
                .iter()
                .find(|r| r.def.id == id)
                .map(|r| r.source.clone())
                .or_else(|| {
                    path_rules
                        .iter()
                        .find(|r| r.id == id)
                        .map(|r| r.source.clone())
                });
            match by {
                Some(by) => Err(RuleError::Invalid {
                    file: name.clone(),
                    id: id.to_string(),
                    message: format!(
                        "the id is already used by a rule from {by}; a rule file cannot \
                         replace a rule: rename it (or list the other in disabled_rules)"
                    ),
                }),
                None => Ok(()),
            }
        };
        for r in loaded.rules {
            if disabled.contains(&r.def.id) {
                continue;
            }
            taken(&r.def.id, rules, &path_rules)?;
            rules.push(r);
        }
        for r in loaded.path_rules {
            if disabled.contains(&r.id) {
                continue;
            }
            taken(&r.id, rules, &path_rules)?;
            path_rules.push(r);
        }
        if rules.len() + path_rules.len() > MAX_RULES {
            return Err(RuleError::TooMany);
        }
    }
    Ok(path_rules)
}

/// The full engine (text rules + model inspectors + nesting) and its text scanner.
pub fn build_engine_parts(policy: &Policy) -> Result<(Engine, Arc<TextScanner>), InspectError> {
    let text = build_text_scanner(policy)?;
    let ctx = ScanContext { text: text.clone() };
    let levels = policy.inspect.uninspectable.clone();
    let known = super::formats::refuse::names();
    if let Some(bad) = levels.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(InspectError::UnknownFormat(bad.clone(), known.join(", ")));
    }
    let mut inspectors: Vec<Box<dyn Inspector>> = vec![Box::new(TextInspector::new(text.clone()))];
    inspectors.extend(models::inspectors());
    inspectors.extend(super::packages::inspectors());
    inspectors.push(Box::new(super::nested::refused::RefusedInspector::new(
        levels.clone(),
    )));
    let engine = Engine::new(inspectors, ctx)
        .with_nesting(policy.inspect.limits.clone())
        .with_refusals(levels);
    Ok((engine, text))
}

/// The full inspection engine for `policy`: what `verify`, `admit` and `scan` run.
pub fn build_engine(policy: &Policy) -> Result<Engine, InspectError> {
    Ok(build_engine_parts(policy)?.0)
}

impl crate::Classified for InspectError {
    /// Rules or inspection settings that cannot be used are a configuration error.
    fn class(&self) -> crate::ErrorClass {
        crate::ErrorClass::Config
    }
}
