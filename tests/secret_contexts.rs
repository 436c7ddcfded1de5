//! End-to-end tests of the secret rules in the files they are found in: credential files by
//! shape (.netrc, .pypirc, .npmrc, .git-credentials, Docker config.json, kubeconfig), keys
//! behind comment prefixes, in YAML blocks, notebook cells and JSON strings, command lines,
//! connection strings, webhooks (one finding, two categories) and long tokens; each file
//! beside a near miss that must stay quiet. Keys are made with openssl at test time.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn airgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_airgate"))
}

/// `airgate scan DIR --format json`: the findings.
fn scan(dir: &Path) -> Vec<Value> {
    let out = airgate()
        .args(["scan", dir.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    v["findings"].as_array().unwrap().clone()
}

/// A fresh RSA private key in PKCS#8 PEM, from openssl.
fn pem_key() -> String {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// The (rule, severity) of the secret findings in one file (its own path or nested in it).
fn secrets_in<'a>(f: &'a [Value], file: &str) -> Vec<(&'a str, &'a str)> {
    f.iter()
        .filter(|x| {
            let p = x["path"].as_str().unwrap();
            (p == file || p.starts_with(&format!("{file}!")))
                && (x["category"] == "secret"
                    || x["also_categories"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|c| c == "secret")))
        })
        .map(|x| (x["rule"].as_str().unwrap(), x["severity"].as_str().unwrap()))
        .collect()
}

fn has(f: &[Value], file: &str, rule: &str) -> bool {
    secrets_in(f, file)
        .iter()
        .any(|(r, s)| *r == rule && *s != "info")
}

/// Near misses: no secret finding above info.
fn quiet(f: &[Value], file: &str) -> bool {
    secrets_in(f, file).iter().all(|(_, s)| *s == "info")
}

#[test]
fn private_keys_in_every_context() {
    let key = pem_key();
    let lines: Vec<&str> = key.lines().collect();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // a notebook cell: one JSON string per source line, each ending in an escaped newline
    let cell: Vec<String> = lines.iter().map(|l| format!("    \"{l}\\n\"")).collect();
    let nb = format!(
        "{{\"cells\": [{{\"cell_type\": \"code\", \"source\": [\n    \"KEY = '''\\n\",\n{},\n    \"'''\\n\"\n   ]}}], \"nbformat\": 4}}\n",
        cell.join(",\n")
    );
    write(dir, "train.ipynb", &nb);
    write(
        dir,
        "near/train.ipynb",
        "{\"cells\": [{\"cell_type\": \"code\", \"source\": [\n    \"KEY = '''\\n\",\n    \"-----BEGIN PRIVATE KEY-----\\n\",\n    \"<paste the key here>\\n\",\n    \"-----END PRIVATE KEY-----\\n\"\n   ]}], \"nbformat\": 4}\n",
    );
    // a YAML block scalar
    let indented: Vec<String> = lines.iter().map(|l| format!("    {l}")).collect();
    write(
        dir,
        "values.yaml",
        &format!("tls:\n  key: |\n{}\n", indented.join("\n")),
    );
    write(
        dir,
        "near/values.yaml",
        "tls:\n  key: |\n    -----BEGIN PRIVATE KEY-----\n    ...\n",
    );
    // behind comment prefixes
    for (name, prefix) in [
        ("a.sh", "# "),
        ("b.c", " * "),
        ("c.ini", "; "),
        ("d.js", "// "),
    ] {
        let body: Vec<String> = lines.iter().map(|l| format!("{prefix}{l}")).collect();
        write(dir, name, &format!("{}\n", body.join("\n")));
    }
    write(
        dir,
        "near/a.sh",
        "# -----BEGIN PRIVATE KEY-----\n# <your key>\n# -----END PRIVATE KEY-----\n",
    );
    // a service-account JSON embedded as a string in another JSON document
    let sa = serde_json::json!({
        "type": "service_account",
        "project_id": "ml-train",
        "private_key_id": "c57513064d6d59291f0cde2e5738713a818d8962",
        "private_key": key,
        "client_email": "trainer@ml-train.iam.gserviceaccount.com",
    })
    .to_string();
    write(
        dir,
        "deploy.json",
        &serde_json::json!({ "env": { "GOOGLE_CREDENTIALS": sa } }).to_string(),
    );
    let f = scan(dir);
    for file in [
        "train.ipynb",
        "values.yaml",
        "a.sh",
        "b.c",
        "c.ini",
        "d.js",
        "deploy.json",
    ] {
        assert!(
            has(&f, file, "secret.private-key"),
            "{file}: {:?}",
            secrets_in(&f, file)
        );
    }
    assert!(
        has(&f, "deploy.json", "secret.gcp-service-account"),
        "{f:?}"
    );
    for file in ["near/train.ipynb", "near/values.yaml", "near/a.sh"] {
        assert!(quiet(&f, file), "{file}: {:?}", secrets_in(&f, file));
    }
}

#[test]
fn credential_files_by_shape() {
    let key = pem_key();
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        ".netrc",
        "machine files.corp.lan\n  login svc-ml\n  password Nq82LpXz0v7\n",
    );
    write(
        dir,
        "near/.netrc",
        "machine files.corp.lan\n  login svc-ml\n  password $NETRC_PW\n",
    );
    write(
        dir,
        ".pypirc",
        "[distutils]\nindex-servers = corp\n\n[corp]\nrepository = https://pypi.corp.lan\nusername = deploy\npassword = Zq81LmXp0v9\n",
    );
    write(
        dir,
        "near/.pypirc",
        "[corp]\nrepository = https://pypi.corp.lan\nusername = deploy\npassword = %(PYPI_PASSWORD)s\n",
    );
    write(
        dir,
        ".npmrc",
        "registry=https://npm.corp.lan/\n//npm.corp.lan/:_authToken=3f5a7c91e2b84d60a9c1f0e7d2b3a4c5\n",
    );
    write(
        dir,
        "near/.npmrc",
        "//npm.corp.lan/:_authToken=${NPM_TOKEN}\n",
    );
    write(
        dir,
        ".git-credentials",
        "https://ci-bot:Zq81LmXp0v9Kd2@git.corp.lan\n",
    );
    write(dir, "near/.git-credentials", "https://git.corp.lan\n");
    write(
        dir,
        "docker/config.json",
        &format!(
            "{{\n  \"auths\": {{\n    \"registry.corp.lan\": {{\n      \"auth\": \"{}\"\n    }}\n  }}\n}}\n",
            b64("robot$ml:Zq81LmXp0v9")
        ),
    );
    write(
        dir,
        "near/docker/config.json",
        "{\n  \"auths\": {\n    \"registry.corp.lan\": {}\n  },\n  \"credsStore\": \"pass\"\n}\n",
    );
    write(
        dir,
        "kube/config",
        &format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: gpu\n  cluster:\n    server: https://k8s.corp.lan:6443\ncontexts:\n- name: gpu\n  context: {{cluster: gpu, user: ci}}\ncurrent-context: gpu\nusers:\n- name: ci\n  user:\n    token: kq8Zr2Lp0Xw7Nk3Vb9Tm4Yc6Ud1Ha5Je\n- name: admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
            b64("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUe\n-----END CERTIFICATE-----\n"),
            b64(&key)
        ),
    );
    write(
        dir,
        "near/kube/config",
        "apiVersion: v1\nkind: Config\ncurrent-context: gpu\nusers:\n- name: ci\n  user:\n    exec:\n      command: kubelogin\n- name: other\n  user:\n    token: ${K8S_TOKEN}\n",
    );
    let f = scan(dir);
    assert!(has(&f, ".netrc", "secret.netrc-password"), "{f:?}");
    assert!(has(&f, ".pypirc", "secret.username-password-pair"), "{f:?}");
    assert!(has(&f, ".npmrc", "secret.npmrc-auth"), "{f:?}");
    assert!(
        has(&f, ".git-credentials", "secret.url-credentials"),
        "{f:?}"
    );
    assert!(
        has(&f, "docker/config.json", "secret.docker-config-auth"),
        "{f:?}"
    );
    assert!(has(&f, "kube/config", "secret.kubeconfig-token"), "{f:?}");
    // the client key is base64 of a PEM key: found in the decoded layer
    assert!(has(&f, "kube/config", "secret.private-key"), "{f:?}");
    for file in [
        "near/.netrc",
        "near/.pypirc",
        "near/.npmrc",
        "near/.git-credentials",
        "near/docker/config.json",
        "near/kube/config",
    ] {
        assert!(quiet(&f, file), "{file}: {:?}", secrets_in(&f, file));
    }
}

#[test]
fn command_lines_and_connection_strings() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "fetch.sh",
        "#!/bin/sh\ncurl -s --user 'deploy:d2LkV78zLx!t' https://files.corp.lan/a\ncurl https://api.corp.lan/v1 \\\n  -H \"Content-Type: application/json\" \\\n  -H \"Authorization: Bearer q8Zr2Lp0Xw7Nk3Vb9Tm4Yc6Ud1Ha5Je\"\nwget --user=svc --password=Nq82LpXz0v7 https://files.corp.lan/b\n",
    );
    write(
        dir,
        "near/fetch.sh",
        "#!/bin/sh\ncurl -s --user \"$USER:$PASS\" https://files.corp.lan/a\ncurl -H \"Authorization: Bearer $TOKEN\" https://api.corp.lan/v1\nwget --user=svc --password=\"$WGET_PW\" https://files.corp.lan/b\ncurl -u username:token https://x\n",
    );
    write(
        dir,
        "appsettings.json",
        "{\"ConnectionStrings\": {\"Runs\": \"Server=tcp:db.corp.lan,1433;Initial Catalog=runs;User ID=ml;Password=Vq82LmXp0z;Encrypt=True\"}}\n",
    );
    write(
        dir,
        "near/appsettings.json",
        "{\"ConnectionStrings\": {\"Runs\": \"Server=tcp:db.corp.lan,1433;Initial Catalog=runs;User ID=ml;Password={0};\"}}\n",
    );
    write(
        dir,
        "odbc.ini",
        "[runs]\nDriver={ODBC Driver 18 for SQL Server};Server=db.corp.lan;UID=ml;PWD=Vq82LmXp0z;\n",
    );
    let f = scan(dir);
    assert!(has(&f, "fetch.sh", "secret.curl-user"), "{f:?}");
    assert!(
        has(&f, "fetch.sh", "secret.curl-auth-header")
            || has(&f, "fetch.sh", "secret.authorization-header"),
        "{f:?}"
    );
    assert!(has(&f, "fetch.sh", "secret.wget-password"), "{f:?}");
    assert!(
        has(&f, "appsettings.json", "secret.connection-string-password"),
        "{f:?}"
    );
    assert!(
        has(&f, "odbc.ini", "secret.connection-string-password"),
        "{f:?}"
    );
    for file in ["near/fetch.sh", "near/appsettings.json"] {
        assert!(quiet(&f, file), "{file}: {:?}", secrets_in(&f, file));
    }
}

#[test]
fn a_webhook_is_one_finding_with_two_categories() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "alerts.yaml",
        "slack: https://hooks.slack.com/services/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\n\
         discord: https://discord.com/api/webhooks/1045080048701250349/4n8PVGXpV9Wv4Esb7yeuCjVr5mXcj5RPD9oUsQChx5s4tI10FtdILQvH_nO69othB9Kp\n\
         teams: https://contoso.webhook.office.com/webhookb2/7aa49aa6-7840-443d-806c-08ebe8f59966@c662313f-14fc-43a2-9a7a-d2e27f4f3478/IncomingWebhook/8592f62b50cf41b9b93ba0c0a00a0b88/eff4cd58-1bb8-4899-94de-795f656b4a18\n",
    );
    write(
        dir,
        "near/alerts.yaml",
        "slack: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n",
    );
    let f = scan(dir);
    for (line, rule) in [
        (1, "secret.slack-webhook"),
        (2, "secret.discord-webhook"),
        (3, "secret.teams-webhook"),
    ] {
        let on_line: Vec<&Value> = f
            .iter()
            .filter(|x| x["path"] == "alerts.yaml" && x["line"] == line)
            .collect();
        assert_eq!(on_line.len(), 1, "line {line}: {on_line:?}");
        assert_eq!(on_line[0]["rule"], rule);
        assert_eq!(on_line[0]["category"], "secret");
        assert_eq!(
            on_line[0]["also_categories"],
            serde_json::json!(["reachback"])
        );
    }
    assert!(quiet(&f, "near/alerts.yaml"), "{f:?}");
}

#[test]
fn long_forms() {
    use base64::Engine as _;
    let b64u = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // a JWT whose claims run past 2 KB (group lists), header naming its algorithm
    let groups: Vec<String> = (0..200).map(|i| format!("\"team-{i:03}\"")).collect();
    let claims = format!(
        "{{\"sub\":\"svc\",\"groups\":[{}],\"exp\":4416239022}}",
        groups.join(",")
    );
    let jwt = format!(
        "{}.{}.{}",
        b64u("{\"alg\":\"RS256\",\"typ\":\"JWT\"}"),
        b64u(&claims),
        b64u("a 256-byte RSA signature would go here, this stands in for it")
    );
    assert!(jwt.len() > 2000);
    write(dir, "token.txt", &format!("Authorization: Bearer {jwt}\n"));
    // the same shape whose header does not name an algorithm
    let fake = format!(
        "{}.{}.{}",
        b64u("{\"typ\":\"JWT\"}"),
        b64u(&claims),
        b64u("signature bytes here")
    );
    write(dir, "near/token.txt", &format!("sample = {fake}\n"));
    // an OpenAI project key of 164 characters: the marker sits 80 bytes in
    let key = format!(
        "sk-proj-{}T3BlbkFJ{}",
        "SevzWEV_NmNnMndQ5gn6PjFcX_9ay5SEKse8AL0EuYAB0cIgFW7Equ3vCbUbYShvii6L3rBw3W",
        "dD9FqO9Z3BoBu9F-KFR6YJtvW6fUfqg2o2Lfel3diT3OCRmBB24hjcd_uLEjgr9tCqnnerVw8A"
    );
    assert!(key.len() >= 160);
    write(dir, ".env", &format!("OPENAI_API_KEY={key}\n"));
    write(dir, "near/.env", "OPENAI_API_KEY=sk-proj-...T3BlbkFJ...\n");
    let f = scan(dir);
    assert!(has(&f, "token.txt", "secret.jwt"), "{f:?}");
    assert!(
        quiet(&f, "near/token.txt"),
        "{:?}",
        secrets_in(&f, "near/token.txt")
    );
    assert!(has(&f, ".env", "secret.openai-project-key"), "{f:?}");
    assert!(quiet(&f, "near/.env"), "{f:?}");
}

#[test]
fn published_examples_masks_and_public_keys() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "docs.md",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\
         AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;\n\
         GRAFANA_TOKEN=glc_111111111111111111111111111111111111111111==\n",
    );
    write(
        dir,
        ".env.example",
        "API_KEY=****************\nDB_PASSWORD=<redacted>\nTOKEN={{ vault_token }}\nSECRET=%(secret)s\nGH_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
    );
    write(
        dir,
        "ids.json",
        "{\"credentialId\": \"B9mTcFSck2LzJO2S3ols63\", \"publicToken\": \"9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit\", \"max_tokens\": \"4096\"}\n",
    );
    write(
        dir,
        "web/firebase.js",
        "const firebaseConfig = {\n  apiKey: \"AIzaT61qtc4xatws8phP9nhFyJfm5di4PzJ59FH\",\n  authDomain: \"ml-demo.firebaseapp.com\",\n  projectId: \"ml-demo\",\n};\n",
    );
    write(
        dir,
        "server.env",
        "GOOGLE_API_KEY=AIzaT61qtc4xatws8phP9nhFyJfm5di4PzJ59FH\n",
    );
    let f = scan(dir);
    // examples are listed, at info, and only at info
    let docs = secrets_in(&f, "docs.md");
    assert!(
        docs.len() >= 4 && docs.iter().all(|(_, s)| *s == "info"),
        "{docs:?}"
    );
    assert!(
        secrets_in(&f, ".env.example").is_empty(),
        "{:?}",
        secrets_in(&f, ".env.example")
    );
    assert!(
        secrets_in(&f, "ids.json").is_empty(),
        "{:?}",
        secrets_in(&f, "ids.json")
    );
    assert_eq!(
        secrets_in(&f, "web/firebase.js"),
        vec![("secret.gcp-api-key", "low")]
    );
    assert_eq!(
        secrets_in(&f, "server.env"),
        vec![("secret.gcp-api-key", "high")]
    );
}
