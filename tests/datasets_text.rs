//! JSON Lines, CSV and TSV datasets are text: inside gzip, zstd, bzip2 and tar layers made
//! by the real tools, the planted key pair is found at its line, the clean twin is quiet.

mod datasets_support;
mod gate_util;

use datasets_support::*;
use gate_util::{code, run, text};
use std::process::Command;

fn rows(special: &str, kind: &str) -> String {
    let mut out = String::new();
    if kind == "csv" {
        out.push_str("id,text\n");
    }
    if kind == "tsv" {
        out.push_str("id\ttext\n");
    }
    for i in 0..2_000 {
        let t = if i == 1_234 {
            special.to_string()
        } else {
            text_row(i, "")
        };
        match kind {
            "jsonl" => out.push_str(&format!("{{\"id\": {i}, \"text\": \"{t}\"}}\n")),
            "csv" => out.push_str(&format!("{i},\"{t}\"\n")),
            _ => out.push_str(&format!("{i}\t{t}\n")),
        }
    }
    out
}

fn tool(dir: &std::path::Path, args: &[&str]) {
    let st = Command::new(args[0])
        .args(&args[1..])
        .current_dir(dir)
        .status()
        .expect(args[0]);
    assert!(st.success(), "{args:?}");
}

#[test]
fn text_datasets_are_scanned_inside_every_layer() {
    for kind in ["jsonl", "csv", "tsv"] {
        for (layer, ext) in [
            ("gzip", "gz"),
            ("zstd", "zst"),
            ("bzip2", "bz2"),
            ("tar", "tar.gz"),
        ] {
            for (special, dirty) in [(KEY_ROW, true), (NEAR_MISS_ROW, false)] {
                let dir = tempfile::tempdir().expect("tmp");
                let name = format!("train.{kind}");
                std::fs::write(dir.path().join(&name), rows(special, kind)).expect("write");
                let packed = format!("{name}.{ext}");
                match layer {
                    "gzip" => tool(dir.path(), &["gzip", "-k", &name]),
                    "zstd" => tool(dir.path(), &["zstd", "-q", &name, "-o", &packed]),
                    "bzip2" => tool(dir.path(), &["bzip2", "-k", &name]),
                    _ => tool(dir.path(), &["tar", "czf", &packed, &name]),
                }
                let p = dir.path().join(&packed);
                let o = run(&["scan", p.to_str().expect("path"), "--format", "json"]);
                let what = format!("{kind} in {layer}, dirty={dirty}");
                if dirty {
                    assert_eq!(code(&o), 1, "{what}: {}", text(&o));
                    // gzip/zstd/bzip2: `train.jsonl.gz!train.jsonl`; tar.gz: `…!train.jsonl.tar!train.jsonl`
                    let (outer, inner) = (packed.clone(), format!("!{name}"));
                    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
                    let hit = v["findings"]
                        .as_array()
                        .expect("findings")
                        .iter()
                        .find(|f| f["rule"] == "secret.aws-secret-access-key")
                        .unwrap_or_else(|| panic!("{what}: {}", text(&o)));
                    let path = hit["path"].as_str().unwrap_or("");
                    assert!(
                        path.contains(&format!("{outer}!")) && path.ends_with(&inner),
                        "{what}: {hit}"
                    );
                    let header = usize::from(kind != "jsonl");
                    assert_eq!(hit["line"], (1_235 + header) as u64, "{what}: {hit}");
                } else {
                    assert_eq!(code(&o), 0, "{what}: {}", text(&o));
                }
            }
        }
    }
}
