//! Building the full inspection engine from a policy: the text rules (built-in plus the
//! policy's rule folders and inline rules, minus disabled ids), every model inspector, and
//! nested containers within the policy's limits.

use super::text::{rules, TextInspector, TextScanner};
use super::{models, Engine, Inspector, ScanContext};
use crate::policy::Policy;
use std::sync::Arc;

/// Why the engine could not be built: a configuration error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(transparent)]
    Rules(#[from] rules::RuleError),
    #[error("cannot build the keyword matcher: {0}")]
    Matcher(#[from] super::text::keywords::KeywordError),
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
    let rules = rules::load(&dirs, &policy.inspect.rules, &policy.inspect.disabled_rules)?;
    Ok(Arc::new(TextScanner::new(
        rules,
        policy.inspect.internal_domains.clone(),
    )?))
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
