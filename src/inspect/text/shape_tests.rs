//! Unit tests for the shapes of secret values: each check beside its near-miss.

use super::*;

fn kw(k: &[&str]) -> Vec<String> {
    k.iter().map(|s| s.to_string()).collect()
}

#[test]
fn published_examples_and_fillers() {
    let k = kw(&["AKIA", "glc_", "ghp_"]);
    for v in [
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        "glc_1111111111111111111111111111111111111111",
        "ghp_0123456789012345678901234567890123456789",
        "ghp_1111222211112222111122221111222211112222",
    ] {
        assert!(published_example(v.as_bytes(), &k), "{v}");
    }
    // the near misses: real-looking values, and masks (dropped, not examples)
    for v in [
        "AKIA4WXFOGO6MVN6A6WF",
        "glc_nCt1RTrzJm8Iq0na0p/Yt1JoW56KTLTYXPa/W4Mx==",
        "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",
        "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "EXAMPLEKEYabc1234567",
        // no vendor prefix: a plain placeholder, not an example
        "1111111111111111111111111111",
    ] {
        assert!(!published_example(v.as_bytes(), &k), "{v}");
    }
}

#[test]
fn masks() {
    for v in [
        "sk_live_****************",
        "xxxxxxxxxxxxxxxx",
        "<redacted>",
        "[REDACTED]",
        "${DB_PASSWORD}",
        "{{ vault_token }}",
        "%(password)s",
        "#{secret}",
        "%API_KEY%",
        "@TOKEN@",
        "{password}",
        "ab\u{2022}\u{2022}\u{2022}\u{2022}cd",
        "sk-proj-...abc",
    ] {
        assert!(masked(v.as_bytes()), "{v}");
    }
    for v in [
        "q8Zr2Lp0Xw7Nk3Vb9Tm4Yc6Ud1Ha5Je",
        "Jx8pQ2vL0mZr7Nk3Wb9Tc4Yd6Ue1Hf5a",
        "a{b}c",
    ] {
        assert!(!masked(v.as_bytes()), "{v}");
    }
}

#[test]
fn expiry_fields() {
    // {"alg":"HS256","typ":"JWT"} . {"sub":"1","exp":1416239122} (2014)
    let old = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwiZXhwIjoxNDE2MjM5MTIyfQ.sig";
    // {"sub":"1","exp":4416239022} (2109)
    let live = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwiZXhwIjo0NDE2MjM5MDIyfQ.sig";
    let now = 1_780_000_000; // 2026
    assert!(jwt_expired(old, now));
    assert!(!jwt_expired(live, now));
    // no exp at all: not known to be expired
    assert!(!jwt_expired(
        b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
        now
    ));
    assert!(sas_expired(
        b"?sv=2022-11-02&se=2025-04-04T15:24:52Z&sig=x",
        now
    ));
    assert!(!sas_expired(
        b"?sv=2022-11-02&se=2099-01-01T00:00:00Z&sig=x",
        now
    ));
    assert!(!sas_expired(b"?sv=2022-11-02&sig=x", now));
    assert!(!sas_expired(b"?sv=2022-11-02&use=2020-01-01&sig=x", now));
}

#[test]
fn repeated_runs() {
    assert!(repetitive(b"sgp_5555555dAAAAA7777777CcccCFaaaaaaaaaaaaaa"));
    assert!(repetitive(
        b"5Aep861eN26Sp9j0R5QPjh0AAAABBBBCCCCjcNqfo5kVBplkpP5tzyWXyVGAivx26AAAABBBBjYE133BBBBEEEE"
    ));
    assert!(!repetitive(b"q8Zr2Lp0Xw7Nk3Vb9Tm4Yc6Ud1Ha5Je"));
    assert!(!repetitive(b"AKIA4WXFOGO6MVN6A6WF"));
    // the first line of an OpenSSH key: zero bytes, runs of one character only
    assert!(!repetitive(
        b"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
    ));
}

#[test]
fn counting_runs_are_not_random() {
    for v in [
        "abc123xyz-456def789ghij-klmnopqrstuvwx",
        "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6",
        "1a2b3c4d5e6f7890abcdef1234567890",
        "0123456789abcdef",
    ] {
        assert!(counting(v.as_bytes()), "{v}");
    }
    for v in [
        "f505aef9ebdd25b001a3ff416d4a3baf",
        "q8Zr2Lp0Xw7Nk3Vb9Tm4Yc6Ud1Ha5Je",
        "c57513064d6d59291f0cde2e5738713a818d8962",
        "abc12",
    ] {
        assert!(!counting(v.as_bytes()), "{v}");
    }
}

#[test]
fn credentials_on_command_lines() {
    for v in [
        "elastic:P@ssw0rd$1",
        ":d2LkV78zLx!t",
        "api:d2LkV78zLx!t",
        "Zq81LmXp0v",
    ] {
        assert!(credential_ok(v.as_bytes()), "{v}");
    }
    for v in [
        "test:test",
        "$1:$2",
        "username:token",
        "${_username}:${_password}",
        "SRVC_JENKINS:${APPID}",
        "xxx:yyy",
        "user:pass",
        "neo4j:[PASSWORD]",
        "$(cat ./login.txt):$(cat ./password.txt)",
        "<user:password>",
        "u:",
        "MY-USER:MY-PASSWORD",
        "db_secret",
        // a variable escaped for a here-document is still a variable
        "\\$_POST[\"password\"]",
    ] {
        assert!(!credential_ok(v.as_bytes()), "{v}");
    }
}

#[test]
fn jwt_header_must_name_its_algorithm() {
    let ok = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.sig";
    assert!(jwt_ok(ok));
    // {"typ":"JWT"}: JSON, but no algorithm
    assert!(!jwt_ok(b"eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.sig"));
    // not JSON at all
    assert!(!jwt_ok(b"eyJub3QganNvbg.eyJ4In0.sig"));
    // a header that names its algorithm, claims that are not JSON
    assert!(!jwt_ok(
        b"eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJhcGkubGl2ZXN0b3JtLmNvIiwianRpIjoiOaFI2p8Vo2dnHiy5Ox.sig"
    ));
    // {"alg":1}: not a name
    assert!(!jwt_ok(b"eyJhbGciOjF9.eyJ4In0.sig"));
}

#[test]
fn generic_names() {
    // each line starts with its name, as a generic match does
    let ok = |line: &str| {
        let at = line.find(['=', ':']).unwrap_or(0);
        let v = line[at + 1..].trim().trim_matches(['"', '\'']);
        secret_name_ok(line.as_bytes(), 0, line.len(), v.as_bytes())
    };
    assert!(ok("client_secret = \"q8Zr2Lp0Xw7Nk3Vb9Tm4Yc6Ud1Ha5Je\""));
    assert!(ok("DB_PASSWORD: \"q8Zr2Lp0Xw7Nk3Vb9Tm4Yc6Ud1Ha5Je\""));
    assert!(ok("apiKey = \"Jx8pQ2vL0mZr7Nk3Wb9Tc4Yd6Ue1Hf5a\""));
    for l in [
        "credentialId = \"q8Zr2Lp0Xw7Nk3Vb9Tm4Yc6Ud1Ha5Je\"",
        "publicToken = \"q8Zr2Lp0Xw7Nk3Vb9Tm4Yc6Ud1Ha5Je\"",
        "secret_name = \"q8Zr2Lp0Xw7Nk3Vb9Tm4Yc6Ud1Ha5Je\"",
        "max_tokens = \"q8Zr2Lp0Xw7Nk3Vb9Tm4Yc6Ud1Ha5Je\"",
        "next_page_token = \"q8Zr2Lp0Xw7Nk3Vb9Tm4Yc6Ud1Ha5Je\"",
        "token_endpoint = \"q8Zr2Lp0Xw7Nk3Vb9Tm4Yc6Ud1Ha5Je\"",
        "secretKeyRef: \"q8Zr2Lp0Xw7Nk3Vb9Tm4Yc6Ud1Ha5Je\"",
        "secret = \"projects/ml-train/secrets/db-password\"",
        "token = \"com.example.Authentication.Service\"",
        "password = \"correct-horse-battery-staple\"",
        // a key, token or secret with characters no issued token has (a printf directive,
        // `&`, `$`): typed or templated, not issued
        "appSecret = \"Hq7vW2zK9pLx4Rt8&Nc1Bd5Fg0Jm3Ys6$\"",
        "apiToken = \"Hq7vW2zK9pLx4Rt8Nc1Bd5Fg0%c^Jm3Ys6\"",
    ] {
        assert!(!ok(l), "{l}");
    }
    // the same characters in a password are a password; a percent-escape is a token's
    assert!(ok("db_password = \"Hq7vW2zK9pLx4Rt8&Nc1Bd5Fg0Jm3Ys6$\""));
    assert!(ok("apiToken = \"Hq7vW2zK9pLx4Rt8Nc1Bd5Fg0%2BJm3Ys6\""));
}

#[test]
fn published_by_their_vendors() {
    let k = kw(&["AIza", "eyJ"]);
    // a Firebase SDK test key, a JWT signed with the jwt.io debugger's default key
    assert!(published_example(
        b"AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs",
        &k
    ));
    let doc = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJnYXRlLXRlc3QtNyIsIm5hbWUiOiJBZGEgR2F0ZSIsImlhdCI6MTc2NzIyNTYwMH0.4ZgpxRqVQ3puZ-lLoWbVqy1HZ74rscuHwkdlrvFN3do";
    assert!(published_example(doc, &k));
    // the near misses: a key of the same shape, the same claims under another key
    assert!(!published_example(
        b"AIzaSyQ7m2Kx9Lp4Vt8Rb3Nc6Wd1Hf5Jg0Ys2Eu",
        &k
    ));
    let own = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJnYXRlLXRlc3QtNyIsIm5hbWUiOiJBZGEgR2F0ZSIsImlhdCI6MTc2NzIyNTYwMH0.ON612nurKi6Ze2ehLvEvCkJYppoTjaei8UznDHy38f8";
    assert!(!published_example(own, &k));
}

#[test]
fn docker_auth() {
    let enc = base64::engine::general_purpose::STANDARD.encode("robot:Zq81LmXp0v9");
    assert!(basic_auth_b64(enc.as_bytes()));
    let enc = base64::engine::general_purpose::STANDARD.encode("no colon here at all");
    assert!(!basic_auth_b64(enc.as_bytes()));
    let enc = base64::engine::general_purpose::STANDARD.encode("user:");
    assert!(!basic_auth_b64(enc.as_bytes()));
    assert!(!basic_auth_b64(b"not base64 !!"));
}

#[test]
fn hex_with_a_stray_letter_is_edited() {
    for v in [
        "9d4e1c7b2a8f3e6d5c4b3a291807f6eq",
        "K7c1e0a9b8d7f6e5d4c3b2a1908f7e6d5c4b3a2Z",
        "0f1e2d3c4b5a6978g7e6d5c4b3a29180",
        "Q0f1e2d3c4b5a69788e6d5c4b3a29180",
    ] {
        assert!(edited_hex(v.as_bytes()), "{v}");
    }
    for v in [
        // hex, hex after a vendor's capital prefix, random base36, short, separators
        "9d4e1c7b2a8f3e6d5c4b3a291807f6e0",
        "SK9d4e1c7b2a8f3e6d5c4b3a291807f6e0",
        "q7m2x9k4v8p1z6r3t5w0y2b4n6c8d1f3",
        "9d4e1c7b2a8fq",
        "9d4e1c7b-2a8f-3e6d-5c4b-3a291807f6eq",
    ] {
        assert!(!edited_hex(v.as_bytes()), "{v}");
    }
}
