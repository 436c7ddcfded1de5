//! Maps verification results and findings to a verdict, by policy.
