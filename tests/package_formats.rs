//! End to end: packages and compressed files built by the real tools (dpkg-deb, ar,
//! rpmbuild, xz, lz4, zstd, bzip2, tar) are opened by `airgate scan`; each planted positive
//! (an AWS key pair in a config file, a download piped to a shell in a maintainer script or
//! scriptlet) is caught at its member path, and each clean twin has no finding of medium or
//! above. The report's coverage names the formats read.

mod formats_support;

use formats_support::*;
use std::path::Path;
use std::process::Command as Proc;

#[test]
fn debian_packages_in_every_compression_dpkg_deb_writes() {
    let dir = tempfile::tempdir().expect("tmp");
    for (comp, suffix) in [
        ("xz", ".xz"),
        ("zstd", ".zst"),
        ("gzip", ".gz"),
        ("none", ""),
    ] {
        let planted = deb(dir.path(), true, comp);
        let (code, v) = scan(&planted, &[]);
        assert_eq!(code, 1, "{comp}: rejected");
        assert_caught(
            comp,
            &v,
            &format!(".deb!data.tar{suffix}!data.tar!etc/app/config.ini")
                .replace("!data.tar!data.tar!", "!data.tar!"),
            "postinst",
        );
        let f = findings(&v);
        assert!(
            f.iter().any(|(r, p, _)| r == "reachback.shell-pipe-exec"
                && p.contains(&format!(".deb!control.tar{suffix}!"))
                && p.ends_with("postinst")),
            "{comp}: postinst path: {f:#?}"
        );
        let cov = &v["coverage"]["formats"];
        assert!(cov["deb"]["files"].as_u64() == Some(1), "{comp}: {cov}");
        assert!(cov["tar"]["members"].as_u64() >= Some(2), "{comp}: {cov}");
        let (code, v) = scan(&deb(dir.path(), false, comp), &[]);
        assert_quiet(comp, &v);
        assert_eq!(code, 0, "{comp}: clean twin accepted");
    }
}

/// dpkg reads data.tar.bz2 and data.tar.lzma though dpkg-deb no longer writes them: the
/// package is put together with `ar` from tars compressed by `bzip2` and `xz --format=lzma`.
#[test]
fn debian_packages_with_bzip2_and_lzma_data() {
    let dir = tempfile::tempdir().expect("tmp");
    for (tool, args, suffix) in [
        ("bzip2", &["-9"][..], "bz2"),
        ("xz", &["--format=lzma"][..], "lzma"),
    ] {
        for planted in [true, false] {
            let work = dir.path().join(format!("{suffix}-{planted}"));
            let root = tree(&work, planted);
            write(&work.join("debian-binary"), "2.0\n");
            let ctl = work.join("ctl");
            write(&ctl.join("control"), "Package: app\nVersion: 1.0\n");
            write(&ctl.join("postinst"), script(planted));
            run(Proc::new("tar")
                .arg("-czf")
                .arg(work.join("control.tar.gz"))
                .arg("-C")
                .arg(&ctl)
                .arg("."));
            run(Proc::new("tar")
                .arg("-cf")
                .arg(work.join("data.tar"))
                .arg("-C")
                .arg(&root)
                .arg("."));
            run(Proc::new(tool).args(args).arg(work.join("data.tar")));
            let pkg = work.join("app.udeb");
            run(Proc::new("ar")
                .arg("rc")
                .arg(&pkg)
                .arg(work.join("debian-binary"))
                .arg(work.join("control.tar.gz"))
                .arg(work.join(format!("data.tar.{suffix}"))));
            let (code, v) = scan(&pkg, &[]);
            if planted {
                assert_eq!(code, 1);
                assert_caught(
                    suffix,
                    &v,
                    &format!(".udeb!data.tar.{suffix}!data.tar!etc/app/config.ini"),
                    "control.tar.gz!control.tar!postinst",
                );
            } else {
                assert_quiet(suffix, &v);
            }
        }
    }
}

#[test]
fn rpm_packages_in_every_payload_compression() {
    let dir = tempfile::tempdir().expect("tmp");
    for (payload, suffix) in [
        ("6.xzdio", "xz"),
        ("19.zstdio", "zst"),
        ("9.gzdio", "gz"),
        ("9.bzdio", "bz2"),
    ] {
        let planted = rpm(dir.path(), true, payload);
        let (code, v) = scan(&planted, &[]);
        assert_eq!(code, 1, "{payload}");
        assert_caught(
            payload,
            &v,
            &format!(".rpm!payload.cpio.{suffix}!payload.cpio!etc/app/config.ini"),
            ".rpm!%post",
        );
        let f = findings(&v);
        assert!(
            f.iter()
                .any(|(r, p, _)| r.starts_with("reachback.") && p.ends_with("!%trigger-1")),
            "{payload}: trigger scriptlet: {f:#?}"
        );
        assert_eq!(v["coverage"]["formats"]["rpm"]["files"], 1, "{payload}");
        assert!(v["coverage"]["formats"]["cpio"]["members"].as_u64() == Some(1));
        let (code, v) = scan(&rpm(dir.path(), false, payload), &[]);
        assert_quiet(payload, &v);
        assert_eq!(code, 0, "{payload}");
    }
}

/// Single compressed files and compressed tars, found by magic bytes whatever their name.
#[test]
fn xz_lzma_and_lz4_layers() {
    let dir = tempfile::tempdir().expect("tmp");
    for planted in [true, false] {
        let d = dir.path().join(format!("{planted}"));
        let cfg = d.join("config.ini");
        write(&cfg, config(planted));
        let sh = d.join("install.sh");
        write(&sh, script(planted));
        run(Proc::new("tar")
            .arg("-cf")
            .arg(d.join("bundle.tar"))
            .arg("-C")
            .arg(&d)
            .args(["config.ini", "install.sh"]));
        let cases: &[(&str, &[&str], &str, &str)] = &[
            ("xz", &["-k", "-6"], "config.ini", ".xz"),
            ("xz", &["-k", "--format=lzma"], "config.ini", ".lzma"),
            ("lz4", &["-q"], "config.ini", ".lz4"),
            (
                "lz4",
                &["-q", "-BD", "--content-size", "-BX"],
                "install.sh",
                ".lz4",
            ),
            ("lz4", &["-q", "-l"], "config.ini", ".lz4"),
            ("xz", &["-k", "-T2"], "bundle.tar", ".xz"),
            ("lz4", &["-q"], "bundle.tar", ".lz4"),
        ];
        for (tool, args, input, ext) in cases {
            let out = d.join(format!("{input}{ext}"));
            let _ = std::fs::remove_file(&out);
            let mut cmd = Proc::new(tool);
            cmd.args(*args).arg(d.join(input));
            if *tool == "lz4" {
                cmd.arg(&out);
            }
            run(&mut cmd);
            // the name says nothing: detection is by magic bytes
            let blob = d.join("blob.bin");
            std::fs::copy(&out, &blob).expect("copy");
            let what = format!("{tool} {args:?} {input}");
            for p in [&out, &blob] {
                let (code, v) = scan(p, &[]);
                if !planted {
                    assert_quiet(&what, &v);
                    assert_eq!(code, 0, "{what}");
                    continue;
                }
                assert_eq!(code, 1, "{what}: {}", v["findings"]);
                let f = findings(&v);
                let hit = |rule: &str| f.iter().any(|(r, _, _)| r == rule);
                match *input {
                    "install.sh" => assert!(hit("reachback.shell-pipe-exec"), "{what}: {f:#?}"),
                    "config.ini" => assert!(hit("secret.aws-access-key-id"), "{what}: {f:#?}"),
                    _ => assert_caught(&what, &v, "!config.ini", "!install.sh"),
                }
            }
        }
    }
}

/// conda packages: `.conda` is a zip holding `info-*.tar.zst` and `pkg-*.tar.zst`, built
/// here with `zstd`, `tar` and `zip`; the older `.tar.bz2` form with `tar -j`.
#[test]
fn conda_packages_in_both_forms() {
    let dir = tempfile::tempdir().expect("tmp");
    for planted in [true, false] {
        let d = dir.path().join(format!("conda-{planted}"));
        let root = tree(&d, planted);
        // conda runs bin/.<name>-post-link.sh after linking a package
        write(&root.join("bin/.app-post-link.sh"), script(planted));
        write(
            &root.join("info/index.json"),
            "{\"name\": \"app\", \"version\": \"1.0\"}\n",
        );
        run(Proc::new("tar")
            .arg("-cf")
            .arg(d.join("pkg-app-1.0-0.tar"))
            .arg("-C")
            .arg(&root)
            .args(["etc", "usr", "bin"]));
        run(Proc::new("tar")
            .arg("-cf")
            .arg(d.join("info-app-1.0-0.tar"))
            .arg("-C")
            .arg(&root)
            .arg("info"));
        for t in ["pkg-app-1.0-0.tar", "info-app-1.0-0.tar"] {
            run(Proc::new("zstd").args(["-q", "-19"]).arg(d.join(t)));
        }
        write(
            &d.join("metadata.json"),
            "{\"conda_pkg_format_version\": 2}\n",
        );
        let conda = d.join("app-1.0-0.conda");
        run(Proc::new("zip")
            .args(["-q", "-0", "-j"])
            .arg(&conda)
            .arg(d.join("metadata.json"))
            .arg(d.join("info-app-1.0-0.tar.zst"))
            .arg(d.join("pkg-app-1.0-0.tar.zst")));
        let bz2 = d.join("app-1.0-0.tar.bz2");
        run(Proc::new("tar")
            .arg("-cjf")
            .arg(&bz2)
            .arg("-C")
            .arg(&root)
            .arg("."));
        for (p, cfg) in [
            (
                &conda,
                ".conda!pkg-app-1.0-0.tar.zst!pkg-app-1.0-0.tar!etc/app/config.ini",
            ),
            (&bz2, ".tar.bz2!app-1.0-0.tar!etc/app/config.ini"),
        ] {
            let (code, v) = scan(p, &[]);
            if planted {
                assert_eq!(code, 1);
                assert_caught(&p.display().to_string(), &v, cfg, "bin/.app-post-link.sh");
            } else {
                assert_quiet(&p.display().to_string(), &v);
            }
        }
    }
}

/// A truncated xz package and an xz stream whose dictionary is over the cap are refused,
/// never passed; the report lists them as not inspected.
#[test]
fn broken_and_over_cap_layers_are_refused_and_listed() {
    let dir = tempfile::tempdir().expect("tmp");
    let pkg = deb(dir.path(), false, "xz");
    let bytes = std::fs::read(&pkg).expect("read");
    let cut = dir.path().join("cut.deb");
    write(&cut, &bytes[..bytes.len() - 200]);
    let (code, v) = scan(&cut, &[]);
    assert_eq!(code, 1, "{}", v["findings"]);
    assert!(
        v["coverage"]["not_inspected_total"].as_u64() >= Some(1),
        "{}",
        v["coverage"]
    );

    let big = dir.path().join("big.txt");
    write(&big, config(false).repeat(10));
    // a 96 MiB dictionary (valid for xz, over airgate's 64 MiB cap)
    run(Proc::new("xz")
        .args(["-k", "--lzma2=preset=6,dict=96MiB"])
        .arg(&big));
    let (code, v) = scan(Path::new(&format!("{}.xz", big.display())), &[]);
    assert_eq!(code, 1);
    let f = findings(&v);
    assert!(
        f.iter()
            .any(|(r, _, s)| r == "archive.uninspectable" && s == "high"),
        "{f:#?}"
    );
    let listed = v["coverage"]["not_inspected"].to_string();
    assert!(listed.contains("dictionary"), "{listed}");
}
