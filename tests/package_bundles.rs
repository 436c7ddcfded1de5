//! A Debian package and an RPM inside a signed bundle go through the same engine in
//! `verify` and `admit` as in `scan`: the planted packages are rejected and quarantined with
//! findings at their member paths and coverage in the report; the clean twins are staged.

mod formats_support;
mod gate_util;

use formats_support::{deb, rpm};
use gate_util::*;

#[test]
fn packages_in_a_signed_bundle_are_inspected_by_verify_and_admit() {
    let env = Env::new("");
    let work = env.path().join("pkgs");
    let mut bundles = Vec::new();
    for planted in [true, false] {
        let d = deb(&work, planted, "xz");
        let r = rpm(&work, planted, "19.zstdio");
        let files = vec![
            ("pool/app_1.0_all.deb", std::fs::read(&d).expect("deb")),
            ("pool/app-1.0-1.noarch.rpm", std::fs::read(&r).expect("rpm")),
        ];
        let name = if planted { "evil" } else { "good" };
        bundles.push((planted, env.bundle(name, "1.0.0", &files, true)));
    }
    let policy = env.path().join("policy.toml");
    for (planted, b) in &bundles {
        let o = run(&[
            "verify",
            b.to_str().expect("path"),
            "--policy",
            policy.to_str().expect("path"),
            "--format",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        let paths: Vec<(String, String)> = v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap_or("").into(),
                    f["path"].as_str().unwrap_or("").into(),
                )
            })
            .collect();
        let cov = &v["coverage"]["formats"];
        assert_eq!(cov["deb"]["files"], 1, "{cov}");
        assert_eq!(cov["rpm"]["files"], 1, "{cov}");
        if *planted {
            assert_eq!(code(&o), 1, "{}", text(&o));
            for (rule, at) in [
                (
                    "secret.aws-access-key-id",
                    "pool/app_1.0_all.deb!data.tar.xz!data.tar!etc/app/config.ini",
                ),
                (
                    "reachback.shell-pipe-exec",
                    "pool/app_1.0_all.deb!control.tar.xz!control.tar!postinst",
                ),
                (
                    "secret.aws-access-key-id",
                    "pool/app-1.0-1.noarch.rpm!payload.cpio.zst!payload.cpio!etc/app/config.ini",
                ),
                (
                    "reachback.shell-pipe-exec",
                    "pool/app-1.0-1.noarch.rpm!%post",
                ),
            ] {
                assert!(
                    paths.iter().any(|(r, p)| r == rule && p == at),
                    "verify: {rule} at {at}: {paths:#?}"
                );
            }
        } else {
            assert_eq!(code(&o), 0, "{}", text(&o));
        }
        let o = env.admit(&env.drop_in(b));
        assert_eq!(code(&o), if *planted { 1 } else { 0 }, "{}", text(&o));
    }
    assert_eq!(env.quarantined().len(), 1);
    assert_eq!(env.staged().len(), 1);
    let q = &env.quarantined()[0];
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(q.join("report.json")).expect("report"))
            .expect("json");
    assert!(
        report["findings"]
            .to_string()
            .contains("app_1.0_all.deb!control.tar.xz!control.tar!postinst"),
        "{}",
        report["findings"]
    );
    assert_eq!(report["coverage"]["formats"]["deb"]["files"], 1);
}
