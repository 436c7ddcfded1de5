//! End-to-end tests of `airgate scan`: the real binary on planted trees, with exit codes,
//! formats, policies (waivers, disabled rules, extra rules, block_at) and large files.

use assert_cmd::Command;
use serde_json::Value;
use std::io::Write;
use std::path::Path;

const GH: &str = "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";
const AWS: &str = "AKIA4WXFOGO6MVN6A6WF";

fn airgate() -> Command {
    Command::cargo_bin("airgate").unwrap()
}

fn json_scan(args: &[&str]) -> (i32, Value) {
    let out = airgate()
        .arg("scan")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (code, v)
}

fn findings(v: &Value) -> Vec<(String, String, Option<u64>, Option<u64>)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64(),
                f["offset"].as_u64(),
            )
        })
        .collect()
}

fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, d) in members {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(d).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn write(p: &Path, d: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, d).unwrap();
}

#[test]
fn planted_tree_rejects_with_exact_locations() {
    let t = tempfile::tempdir().unwrap();
    let cfg = format!("model: x\ntoken: {GH}\n");
    write(
        &t.path().join("data/archive.zip"),
        &zip(&[("inner/config.yaml", cfg.as_bytes())]),
    );
    write(
        &t.path().join("notebooks/train.py"),
        format!("import os\nKEY = '{AWS}'\nrequests.post(u, data=x)\n").as_bytes(),
    );
    std::os::unix::fs::symlink("/etc/hostname", t.path().join("link")).unwrap();
    let (code, v) = json_scan(&[t.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(v["verdict"], "reject");
    let f = findings(&v);
    assert!(
        f.contains(&(
            "secret.github-pat".into(),
            "data/archive.zip!inner/config.yaml".into(),
            Some(2),
            Some(16)
        )),
        "{f:?}"
    );
    assert!(
        f.contains(&(
            "secret.aws-access-key-id".into(),
            "notebooks/train.py".into(),
            Some(2),
            Some(17)
        )),
        "{f:?}"
    );
    assert!(
        f.contains(&(
            "reachback.python-http".into(),
            "notebooks/train.py".into(),
            Some(3),
            Some(39)
        )),
        "{f:?}"
    );
    assert!(
        f.contains(&("scan.symlink".into(), "link".into(), None, None)),
        "{f:?}"
    );
    let text = v.to_string();
    assert!(
        !text.contains(GH) && !text.contains(AWS),
        "report leaks a secret"
    );
}

#[test]
fn clean_near_miss_tree_accepts() {
    let t = tempfile::tempdir().unwrap();
    write(
        &t.path().join("config.yaml"),
        b"id: 123e4567-e89b-12d3-a456-426614174000\n\
commit: 9fceb02d0ae598e95dc970b74767f19372d61af8\n\
digest: sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
aws_access_key_id: AKIAIOSFODNN7EXAMPLE\n\
api_key: YOUR_API_KEY\n\
token: ${HF_TOKEN}\n\
mirror: https://hf.corp.lan/models\n\
logo: data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\n",
    );
    write(&t.path().join("schema.xml"), b"<root xmlns=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"/>\n");
    write(
        &t.path().join("weights.bin"),
        &(0..200_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
            .collect::<Vec<_>>(),
    );
    let (code, v) = json_scan(&[t.path().to_str().unwrap(), "--allow-host", "corp.lan"]);
    // AWS's documentation key is listed for information only; nothing else is found
    let listed: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![("secret.aws-access-key-id".to_string(), "info".to_string())],
        "{v}"
    );
    assert_eq!(code, 0);
    assert_eq!(v["verdict"], "accept");
}

#[test]
fn allow_host_extends_internal_domains() {
    let t = tempfile::tempdir().unwrap();
    write(
        &t.path().join(".env"),
        b"HF_ENDPOINT=https://hf.mirror.acme.io\n",
    );
    let (code, v) = json_scan(&[t.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(findings(&v)[0].0, "reachback.hf-endpoint");
    let (code, v) = json_scan(&[t.path().to_str().unwrap(), "--allow-host", "acme.io"]);
    assert_eq!((code, findings(&v)), (0, vec![]));
}

#[test]
fn policy_waivers_disabled_rules_extra_rules_and_block_at() {
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("tree");
    write(
        &tree.join("a.txt"),
        format!("t = {GH}\nMYCO-{}\n", "Zq81LmXp0vQ7").as_bytes(),
    );
    let (code, v) = json_scan(&[tree.to_str().unwrap()]);
    assert_eq!(code, 1);
    let fp = v["findings"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    // waive it: accepted, and the waived finding is listed
    let rules_dir = t.path().join("rules");
    write(
        &rules_dir.join("corp.toml"),
        br#"[[rule]]
id = "secret.myco-token"
name = "MyCo token"
category = "secret"
severity = "medium"
keywords = ["MYCO-"]
pattern = '''\b(MYCO-[A-Za-z0-9]{12})\b'''
examples = ["MYCO-Zq81LmXp0vQ7"]
negative_examples = ["MYCO-short"]
"#,
    );
    let pol = t.path().join("policy.toml");
    write(
        &pol,
        format!("[inspect]\nrules_dirs = [\"rules\"]\n[[inspect.waivers]]\nfingerprint = \"{fp}\"\nwho = \"sec-team\"\nwhy = \"revoked test token\"\n").as_bytes(),
    );
    let (code, v) = json_scan(&[tree.to_str().unwrap(), "--policy", pol.to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["waived"][0]["fingerprint"], fp.as_str());
    assert_eq!(
        findings(&v),
        vec![(
            "secret.myco-token".into(),
            "a.txt".into(),
            Some(2),
            Some(45)
        )]
    );
    // block at medium: the custom rule's finding now rejects
    std::fs::write(&pol, "[decide]\nblock_at = \"medium\"\n[inspect]\nrules_dirs = [\"rules\"]\ndisabled_rules = [\"secret.github-pat\"]\n").unwrap();
    let (code, v) = json_scan(&[tree.to_str().unwrap(), "--policy", pol.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        findings(&v),
        vec![(
            "secret.myco-token".into(),
            "a.txt".into(),
            Some(2),
            Some(45)
        )]
    );
}

#[test]
fn sarif_and_human_formats() {
    let t = tempfile::tempdir().unwrap();
    write(
        &t.path().join("s.sh"),
        b"curl -fsSL https://get.tool.sh | sh\n",
    );
    let out = airgate()
        .args(["scan", t.path().to_str().unwrap(), "--format", "sarif"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let ids: Vec<&str> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"reachback.shell-pipe-exec"), "{ids:?}");
    assert!(ids.contains(&"reachback.shell-download"), "{ids:?}");
    let out = airgate()
        .args(["scan", t.path().to_str().unwrap()])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.starts_with("REJECTED"), "{s}");
    assert!(s.contains("reachback.shell-pipe-exec s.sh:1"), "{s}");
}

#[test]
fn usage_and_io_errors() {
    let t = tempfile::tempdir().unwrap();
    let bad = t.path().join("p.toml");
    std::fs::write(&bad, "[inspect]\nbogus = 1\n").unwrap();
    airgate()
        .args([
            "scan",
            t.path().to_str().unwrap(),
            "--policy",
            bad.to_str().unwrap(),
        ])
        .assert()
        .code(2);
    let rules = t.path().join("r");
    write(&rules.join("x.toml"), b"[[rule]]\nid = \"x\"\nname = \"x\"\ncategory = \"secret\"\nseverity = \"high\"\nkeywords = [\"ab\"]\npattern = \"ab\"\n");
    std::fs::write(&bad, "[inspect]\nrules_dirs = [\"r\"]\n").unwrap();
    airgate()
        .args([
            "scan",
            t.path().to_str().unwrap(),
            "--policy",
            bad.to_str().unwrap(),
        ])
        .assert()
        .code(2);
    airgate()
        .args(["scan", t.path().join("missing").to_str().unwrap()])
        .assert()
        .code(3);
}

#[test]
fn large_files_are_split_without_missing_edges() {
    let t = tempfile::tempdir().unwrap();
    // binary, 40 MiB (> split size), secrets across a range edge (ranges are 1 MiB) and in the
    // last bytes
    let mut d: Vec<u8> = (0..40u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 | 0x80)
        .collect();
    let edge = (8 << 20) - 7;
    d[edge..edge + AWS.len()].copy_from_slice(AWS.as_bytes());
    let end = d.len() - GH.len();
    d[end..].copy_from_slice(GH.as_bytes());
    write(&t.path().join("w.bin"), &d);
    // text, 40 MiB, a token on a known line just after the 16 MiB edge
    let mut text = Vec::new();
    let mut line = 1u64;
    let mut want = (0, 0);
    while text.len() < 40 << 20 {
        if want.0 == 0 && text.len() >= (16 << 20) - 20 {
            want = (line, text.len() as u64 + 6);
            text.extend_from_slice(format!("token {GH}\n").as_bytes());
        } else {
            text.extend_from_slice(b"a perfectly ordinary line of some source text\n");
        }
        line += 1;
    }
    write(&t.path().join("big.txt"), &text);
    // binary, 33 MiB, with a zip appended: the sequential pass jumps to the tail for it
    let mut z: Vec<u8> = d[..33 << 20].to_vec();
    z.extend_from_slice(&zip(&[("a.txt", b"hello")]));
    let end_record = (z.len() - 22) as u64; // the zip's end record (no comment)
    write(&t.path().join("z.bin"), &z);
    let (code, v) = json_scan(&[t.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    let mut f = findings(&v);
    f.sort();
    // the secret planted in w.bin's first 33 MiB is in z.bin too
    assert_eq!(
        f,
        vec![
            (
                "secret.aws-access-key-id".into(),
                "w.bin".into(),
                None,
                Some(edge as u64)
            ),
            (
                "secret.aws-access-key-id".into(),
                "z.bin".into(),
                None,
                Some(edge as u64)
            ),
            (
                "secret.github-pat".into(),
                "big.txt".into(),
                Some(want.0),
                Some(want.1)
            ),
            (
                "secret.github-pat".into(),
                "w.bin".into(),
                None,
                Some(end as u64)
            ),
            (
                "zip.leading-bytes".into(),
                "z.bin".into(),
                None,
                Some(end_record)
            ),
        ]
    );
}

#[test]
fn bundle_tar_zst_is_read_as_an_archive() {
    let t = tempfile::tempdir().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let data = b"{\"trust_remote_code\": true}\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "payload/config.json", &data[..])
        .unwrap();
    let tarb = b.into_inner().unwrap();
    let p = t.path().join("m.tar.zst");
    std::fs::write(&p, zstd::encode_all(&tarb[..], 3).unwrap()).unwrap();
    let (code, v) = json_scan(&[p.to_str().unwrap()]);
    assert_eq!(code, 1);
    let shown = format!("{}!m.tar!payload/config.json", p.display());
    assert_eq!(
        findings(&v),
        vec![(
            "reachback.trust-remote-code".into(),
            shown,
            Some(1),
            Some(1)
        )]
    );
}

#[test]
fn real_bundle_is_scanned_by_payload_path_and_verify_rejects_it() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write(
        &src.join("model/config.json"),
        b"{\"model_type\": \"llama\"}\n",
    );
    write(
        &src.join("model/.env"),
        b"# creds\nWANDB_API_KEY=c57513064d6d59291f0cde2e5738713a818d8962\n",
    );
    let keys = t.path().join("keys");
    airgate()
        .args(["keygen", "--out", keys.to_str().unwrap(), "--name", "pub"])
        .assert()
        .success();
    let b = t.path().join("m.tar.zst");
    airgate()
        .args([
            "pack",
            "--kind",
            "weights",
            "--name",
            "m",
            "--version",
            "1.0.0",
            "--out",
        ])
        .args([b.to_str().unwrap(), src.to_str().unwrap()])
        .assert()
        .success();
    airgate()
        .args([
            "sign",
            "--key",
            keys.join("pub.key").to_str().unwrap(),
            b.to_str().unwrap(),
        ])
        .assert()
        .success();
    let (code, v) = json_scan(&[b.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        findings(&v),
        vec![(
            "secret.wandb-api-key".into(),
            "model/.env".into(),
            Some(2),
            Some(8)
        )]
    );
    assert_eq!(v["timings"]["files"], 2);
    let out = airgate()
        .args([
            "verify",
            b.to_str().unwrap(),
            "--key",
            keys.join("pub.pub").to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "reject");
    assert_eq!(
        findings(&v),
        vec![(
            "secret.wandb-api-key".into(),
            "model/.env".into(),
            Some(2),
            Some(8)
        )]
    );
}

#[test]
fn large_container_is_read_through_once() {
    let t = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..36u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 | 0x80)
        .collect();
    let env = format!("# x\nTOKEN={GH}\n");
    let mut b = tar::Builder::new(Vec::new());
    for (name, d) in [("weights.bin", &big[..]), ("inner/x.env", env.as_bytes())] {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, d).unwrap();
    }
    write(&t.path().join("big.tar"), &b.into_inner().unwrap());
    let (code, v) = json_scan(&[t.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        findings(&v),
        vec![(
            "secret.github-pat".into(),
            "big.tar!inner/x.env".into(),
            Some(2),
            Some(10)
        )]
    );
}

#[test]
fn folder_walk_reports_links_fifos_and_depth() {
    let t = tempfile::tempdir().unwrap();
    // a FIFO must be reported, not opened (opening it for reading would hang the scan)
    let fifo = t.path().join("b/pipe");
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    write(
        &t.path().join("a/key.txt"),
        format!("k = {AWS}\n").as_bytes(),
    );
    write(
        &t.path().join("c/key.txt"),
        format!("k = {AWS}\n").as_bytes(),
    );
    std::os::unix::fs::symlink("a", t.path().join("b/to-a")).unwrap();
    let mut deep = t.path().join("d");
    for i in 0..70 {
        deep = deep.join(format!("{i}"));
    }
    write(&deep.join("key.txt"), format!("k = {AWS}\n").as_bytes());
    let (code, v) = json_scan(&[t.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    let f: Vec<(String, String)> = findings(&v)
        .into_iter()
        .map(|(rule, path, _, _)| (rule, path))
        .collect();
    for want in [
        ("secret.aws-access-key-id", "a/key.txt"),
        ("scan.special-file", "b/pipe"),
        ("scan.symlink", "b/to-a"),
        ("secret.aws-access-key-id", "c/key.txt"),
    ] {
        assert!(
            f.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {f:?}"
        );
    }
    assert!(
        f.iter()
            .any(|(r, p)| r == "scan.too-deep" && p.starts_with("d/0/1/")),
        "{f:?}"
    );
    // the link was not followed (a/key.txt once) and nothing deeper than the limit was read
    assert_eq!(f.len(), 5, "{f:?}");
}

/// A flood of one rule's matches must not hide another rule's: 600 medium URL findings,
/// then an AWS key pair. The file listing is capped, but every rule's first match is listed,
/// so the critical secret still rejects, at its exact line. The near-miss: without the key,
/// the same flood stays below the blocking severity.
#[test]
fn a_flood_of_one_rule_cannot_hide_a_secret_after_the_cap() {
    let t = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..600 {
        text.push_str(&format!("u = \"https://telemetry-collector.net/p{i}\"\n"));
    }
    let flood_only = t.path().join("flood-only/a.py");
    write(&flood_only, text.as_bytes());
    text.push_str("aws_secret_access_key = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLQQQ\"\n");
    let flood = t.path().join("flood/a.py");
    write(&flood, text.as_bytes());

    let (code, v) = json_scan(&[flood.to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    let f = findings(&v);
    assert!(
        f.iter()
            .any(|(r, _, line, _)| r == "secret.aws-secret-access-key" && *line == Some(601)),
        "{f:?}"
    );
    let urls = f.iter().filter(|(r, ..)| r == "reachback.url").count();
    assert_eq!(urls, 500);
    let capped = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["rule"] == "scan.too-many-findings")
        .expect("the cap is reported");
    assert!(
        capped["message"]
            .as_str()
            .unwrap()
            .contains("reachback.url: 100"),
        "{capped}"
    );

    let (code, v) = json_scan(&[flood_only.to_str().unwrap()]);
    assert_eq!(code, 0, "{v:#}");
    assert!(!findings(&v).iter().any(|(r, ..)| r.starts_with("secret.")));
}

/// A waived first secret must not cover a second one that a flood pushes past the listing
/// limit: each distinct severe value is still listed. The near-miss: the waived value
/// itself repeated after the flood stays covered by its waiver.
#[test]
fn a_waived_first_secret_does_not_cover_a_second_one_past_the_cap() {
    let t = tempfile::tempdir().unwrap();
    let waived = "AKIAZ7Q4K2M6XW3HN5PD";
    let flood: String = (0..600)
        .map(|i| format!("u = \"https://telemetry-collector.net/p{i}\"\n"))
        .collect();
    let write_case = |name: &str, last: &str| {
        let p = t.path().join(name).join("a.py");
        write(
            &p,
            format!("k = \"{waived}\"\n{flood}k2 = \"{last}\"\n").as_bytes(),
        );
        p
    };
    let second = write_case("second", "AKIAQ3M5N2B7V4C6X2ZL");
    let repeat = write_case("repeat", waived);
    // the waivers, by each file's first key's fingerprint (the path is part of it)
    let first_fp = |p: &std::path::Path| {
        let (_, v) = json_scan(&[p.to_str().unwrap()]);
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "secret.aws-access-key-id" && f["line"] == 1)
            .expect("first key found")["fingerprint"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let pol = t.path().join("policy.toml");
    let mut waivers = String::new();
    for p in [&second, &repeat] {
        waivers.push_str(&format!(
            "[[inspect.waivers]]\nfingerprint = \"{}\"\nwho = \"sec\"\nwhy = \"test key\"\n",
            first_fp(p)
        ));
    }
    write(&pol, waivers.as_bytes());
    let (code, v) = json_scan(&[second.to_str().unwrap(), "--policy", pol.to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    assert!(
        findings(&v)
            .iter()
            .any(|(r, _, line, _)| r == "secret.aws-access-key-id" && *line == Some(602)),
        "{v:#}"
    );
    let (code, v) = json_scan(&[repeat.to_str().unwrap(), "--policy", pol.to_str().unwrap()]);
    assert_eq!(code, 0, "{v:#}");
}

/// Past the extra allowance for severe values, a severe value that is not listed makes the
/// summary itself severe: the file is refused, never passed with it unseen.
#[test]
fn severe_values_beyond_every_listing_limit_refuse_the_file() {
    let t = tempfile::tempdir().unwrap();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut text = String::new();
    for i in 0..1200u32 {
        // distinct, well-formed access key ids
        let mut id = String::from("AKIA");
        let mut x = i.wrapping_mul(2_654_435_761) ^ 0x5bd1_e995;
        for k in 0..16 {
            if k % 6 == 0 {
                x = x.rotate_left(7) ^ (i + k);
            }
            id.push(alphabet[(x % 32) as usize] as char);
            x /= 32;
            if x == 0 {
                x = i.wrapping_add(k).wrapping_mul(40_503) | 1;
            }
        }
        text.push_str(&format!("k{i} = \"{id}\"\n"));
    }
    let p = t.path().join("keys.py");
    write(&p, text.as_bytes());
    let (code, v) = json_scan(&[p.to_str().unwrap()]);
    assert_eq!(code, 1);
    let summary = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "scan.too-many-findings")
        .expect("summary");
    assert_eq!(summary["severity"], "high", "{summary}");
}

/// A folder scan splits large files into 1 MiB ranges read in parallel: a base64 run that
/// crosses range edges is still decoded whole (the range where it starts reads it on).
#[test]
fn a_base64_run_across_parallel_ranges_is_decoded_whole() {
    use base64::Engine as _;
    let t = tempfile::tempdir().unwrap();
    let filler = "lorem ipsum dolor sit amet, consectetur adipiscing\n".repeat(700_000);
    let text = format!("{filler}aws_key = {AWS}\n");
    let enc = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    // > 32 MiB: the split path
    let doc = format!("data: {enc}\nend\n");
    assert!(doc.len() > 32 << 20);
    write(&t.path().join("big.yaml"), doc.as_bytes());
    let (code, v) = json_scan(&[t.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    let f = findings(&v);
    assert!(
        f.iter()
            .any(|(r, p, _, off)| r == "secret.aws-access-key-id"
                && p.starts_with("big.yaml!base64@")
                && *off == text.find(AWS).map(|x| x as u64)),
        "{f:?}"
    );
}
