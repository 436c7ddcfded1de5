//! Reports for people and scripts: human text, JSON and SARIF.
