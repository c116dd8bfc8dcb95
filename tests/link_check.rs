//! The real `link-check` binary behind the Lambda runtime API emulator, AWS played by moto:
//! Verify against a backend that accepts every AssumeRole, Audit with links made by the real
//! trust-link code plus hand-made roles (each finding kind, exactly), Diagnose of a working
//! link broken one way at a time (each cause kind), the CloudTrail sample, refused events.
//! Everything the binary prints at `RUST_LOG=trace` is scanned for every secret.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};
use trust_link::{LinkService, VerifyBounds};
use trustlink_aws::ports::{RoleDefinition, Roles, Secrets, Users, AWSCURRENT, AWSPREVIOUS};
use trustlink_aws::AccountAccess;
use trustlink_domain::policy;
use trustlink_domain::record::{self, tag, ExternalIdSecret};
use trustlink_domain::rotation::DAY;
use trustlink_domain::{ExternalId, LinkSpec, Settings};
use trustlink_tests::function::{assert_json_lines, Function};
use trustlink_tests::lambda_api::{Outcome, RuntimeApi};
use trustlink_tests::links::{
    access, account, create_link, current_external_id, current_key, Link, TRUSTED, TRUSTING,
};
use trustlink_tests::{assert_no_secret_in, function_env, unique, workspace_root};

const INVOCATION: Duration = Duration::from_secs(180);

/// The `link-check` binary of this build profile, built once (the tests crate depends on
/// the library; cargo builds a package's binaries only for its own integration tests).
fn binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("the test binary's path");
            let dir = exe
                .parent()
                .and_then(|d| d.parent())
                .expect("target/<profile>");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            // The whole workspace selected, as `cargo test --workspace` selects it: the same
            // feature set, so the dependencies already built are reused.
            build.current_dir(workspace_root()).args([
                "build",
                "--workspace",
                "--bin",
                "link-check",
            ]);
            if dir.ends_with("release") {
                build.arg("--release");
            }
            let status = build.status().expect("run cargo build");
            assert!(status.success(), "building the link-check binary failed");
            dir.join("link-check")
        })
        .clone()
}

/// A runtime API and one link-check process polling it.
struct Stage {
    api: RuntimeApi,
    function: Function,
    n: u32,
}

impl Stage {
    async fn start(extra: &[(&str, String)]) -> Self {
        let api = RuntimeApi::start().await;
        let mut env = api.env("trustlink-link-check");
        env.extend(function_env());
        env.push(("RUST_LOG".into(), "trace".into()));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let function = Function::spawn(&binary(), env);
        Self {
            api,
            function,
            n: 0,
        }
    }

    async fn invoke(&mut self, event: Value) -> Outcome {
        self.n += 1;
        let outcome = self
            .api
            .invoke(&format!("inv-{}", self.n), event, INVOCATION)
            .await;
        self.function.assert_running();
        outcome
    }

    async fn ok(&mut self, event: Value) -> Value {
        match self.invoke(event.clone()).await {
            // LINK_CHECK_SHOW=1 prints each command and its result (the docs' samples).
            Outcome::Response(v) if std::env::var_os("LINK_CHECK_SHOW").is_some() => {
                eprintln!("=== {event}\n{}", serde_json::to_string_pretty(&v).unwrap());
                v
            }
            Outcome::Response(v) => v,
            Outcome::Error(e) => panic!("{event} failed: {e}\n{}", self.function.text()),
        }
    }

    /// Stops the process; every line it printed is JSON (logs and EMF) and holds no secret.
    fn finish(self, secrets: &[String]) -> String {
        let output = self.function.stop();
        if std::env::var_os("LINK_CHECK_SHOW").is_some() {
            eprintln!("=== the binary printed:\n{output}");
        }
        assert_json_lines(&output);
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        assert_no_secret_in("the link-check binary's output", &output, &refs);
        output
    }
}

/// Creates a link from `props` with the real trust-link code (as `links::create_link`).
async fn create(access: &AccountAccess, props: Value) -> Link {
    let spec = LinkSpec::from_properties(&props).unwrap();
    let service = LinkService::new(
        access.clone(),
        Settings::default(),
        VerifyBounds {
            attempts: 5,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
        },
    );
    let out = service
        .create(&spec)
        .await
        .unwrap_or_else(|e| panic!("create {}: {e}", spec.link_name));
    trustlink_tests::remember_secret(out.external_id.expose());
    Link {
        name: spec.link_name.clone(),
        role: spec.role_name().to_string(),
        role_arn: out.role_arn,
        user: None,
        principal: props["TrustedPrincipal"].as_str().unwrap().to_string(),
    }
}

/// Every secret of `links`: their external IDs (all stages) and access keys.
async fn secrets_of(access: &AccountAccess, links: &[&Link]) -> Vec<String> {
    let mut out = Vec::new();
    for link in links {
        out.push(current_external_id(access, link).await);
        let name = record::external_id_secret_name(&link.name);
        if let Ok(v) = access.secrets().get_secret_value(&name, AWSPREVIOUS).await {
            out.push(
                ExternalIdSecret::parse(&v.text)
                    .unwrap()
                    .external_id
                    .expose()
                    .to_string(),
            );
        }
        if link.user.is_some() {
            out.push(
                current_key(access, link)
                    .await
                    .secret_access_key
                    .expose()
                    .to_string(),
            );
        }
    }
    out
}

fn check<'a>(checks: &'a Value, name: &str) -> &'a Value {
    checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {checks:#}"))
}

fn rotation() -> Value {
    json!({"ExternalIdDays": 90, "AccessKeyDays": 90, "GraceHours": 24})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_probes_live_and_reports_what_moto_does_not_enforce() {
    let access = access().await;
    let keyed = create_link(&access, "lc-ver-key-", true, rotation()).await;
    let partner = create_link(&access, "lc-ver-partner-", false, rotation()).await;
    let gated = create(
        &access,
        json!({
            "LinkName": unique("lc-ver-mfa-"), "TrustingAccount": TRUSTING,
            "TrustedPrincipal": format!("arn:aws:iam::{TRUSTED}:root"),
            "Conditions": {"RequireMfa": true, "SourceIpCidrs": ["203.0.113.0/24"]},
        }),
    )
    .await;
    let mut stage = Stage::start(&[]).await;
    let names = [
        &keyed.name,
        &partner.name,
        &gated.name,
        &"lc-no-such-link".to_string(),
    ];
    let report = stage.ok(json!({"Verify": {"Links": names}})).await;
    let result = |name: &str| {
        report["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["link"] == name)
            .unwrap_or_else(|| panic!("{name}: {report:#}"))
            .clone()
    };

    // moto grants every AssumeRole: the live negative probes succeed, and the truth about
    // such a backend is that the external ID is not enforced.
    let k = result(&keyed.name);
    assert_eq!(k["result"], "fail", "{k:#}");
    assert_eq!(check(&k["checks"], "live-current-id")["ok"], true);
    let me = check(&k["checks"], "live-caller-identity");
    assert_eq!(me["ok"], true, "{me}");
    assert!(me["detail"]
        .as_str()
        .unwrap()
        .contains(&format!(":assumed-role/{}/", keyed.role)));
    for probe in ["live-no-external-id", "live-wrong-external-id"] {
        let c = check(&k["checks"], probe);
        assert_eq!(c["ok"], false, "{c}");
        assert!(
            c["detail"]
                .as_str()
                .unwrap()
                .contains("external ID not enforced"),
            "{c}"
        );
    }
    // The policy trust-link wrote does enforce it: the evaluator says so.
    for offline in [
        "offline-current-id",
        "offline-no-external-id",
        "offline-wrong-external-id",
    ] {
        assert_eq!(check(&k["checks"], offline)["ok"], true, "{offline}: {k:#}");
    }
    let p = result(&partner.name);
    assert_eq!(p["result"], "pass", "{p:#}");
    assert!(check(&p["checks"], "live-probes")["detail"]
        .as_str()
        .unwrap()
        .contains("no managed access key"));
    let g = result(&gated.name);
    assert_eq!(g["result"], "gated", "{g:#}");
    let needs = check(&g["checks"], "gated")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        needs.contains("MFA") && needs.contains("203.0.113.0/24"),
        "{needs}"
    );
    assert_eq!(result("lc-no-such-link")["result"], "fail");
    assert_eq!(
        report["summary"],
        json!({"links": 4, "pass": 1, "fail": 2, "gated": 1})
    );

    let secrets = secrets_of(&access, &[&keyed, &partner, &gated]).await;
    let output = stage.finish(&secrets);
    assert!(
        output.contains("\"FailedVerifies\":2.0"),
        "an EMF line counts failed verifies"
    );
    assert!(output.contains("verify result"), "one log line per result");
}

/// The findings of `report` on `owned` resources, as (kind, resource) pairs.
fn findings_on(report: &Value, owned: &BTreeSet<String>) -> BTreeSet<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| owned.contains(f["resource"].as_str().unwrap()))
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["resource"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn hand_made_role(access: &AccountAccess, name: &str, trust: Value) -> String {
    let role = RoleDefinition {
        name: name.into(),
        path: "/".into(),
        description: None,
        max_session_duration: None,
        trust_policy: trust,
        permissions_boundary: None,
        tags: Default::default(),
    };
    access
        .iam(&account(TRUSTING))
        .await
        .unwrap()
        .create_role(&role)
        .await
        .unwrap()
        .arn
}

fn trusts(principal: Value, condition: Option<Value>) -> Value {
    let mut s = json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"});
    if let Some(c) = condition {
        s["Condition"] = c;
    }
    json!({"Version": "2012-10-17", "Statement": [s]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_gives_exactly_the_expected_findings() {
    let access = access().await;
    let trusting = access.iam(&account(TRUSTING)).await.unwrap();
    let trusted = access.iam(&account(TRUSTED)).await.unwrap();
    let healthy = create_link(&access, "lc-aud-ok-", true, rotation()).await;
    let detached = create_link(&access, "lc-aud-drift-", true, rotation()).await;
    let old_id = create_link(&access, "lc-aud-oldid-", false, rotation()).await;
    let old_key = create_link(&access, "lc-aud-oldkey-", true, rotation()).await;
    let orphaned = create_link(&access, "lc-aud-orphan-", true, rotation()).await;
    let secrets = secrets_of(
        &access,
        &[&healthy, &detached, &old_id, &old_key, &orphaned],
    )
    .await;
    let grant = |l: &Link| {
        format!(
            "arn:aws:iam::{TRUSTED}:policy/trustlink/{}",
            record::grant_policy_name(&l.name)
        )
    };
    let user_arn = |l: &Link| format!("arn:aws:iam::{TRUSTED}:user/{}", l.user.as_deref().unwrap());

    // Break each link one way: detach its grant; age its external ID; age its key; delete
    // its secret (its role, user and grant stay behind).
    trusted
        .detach_user_policy(detached.user.as_deref().unwrap(), &grant(&detached))
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let aged = |t| {
        [(t, (now - 200 * DAY).to_string())]
            .into_iter()
            .map(|(k, v): (&str, String)| (k.to_string(), v))
            .collect()
    };
    access
        .secrets()
        .tag_secret(
            &record::external_id_secret_name(&old_id.name),
            &aged(tag::EXTERNAL_ID_ROTATED_AT),
        )
        .await
        .unwrap();
    access
        .secrets()
        .tag_secret(
            &record::external_id_secret_name(&old_key.name),
            &aged(tag::ACCESS_KEY_ROTATED_AT),
        )
        .await
        .unwrap();
    access
        .secrets()
        .delete_secret(&record::external_id_secret_name(&orphaned.name), None)
        .await
        .unwrap();

    let partner = json!({"AWS": format!("arn:aws:iam::{TRUSTED}:root")});
    let with_id = Some(json!({"StringEquals": {"sts:ExternalId": "HandMadeExternalId1"}}));
    let no_id = hand_made_role(
        &access,
        &unique("lc-aud-noid-"),
        trusts(partner.clone(), None),
    )
    .await;
    let wildcard = hand_made_role(
        &access,
        &unique("lc-aud-star-"),
        trusts(json!("*"), with_id.clone()),
    )
    .await;
    let admin_name = unique("lc-aud-admin-");
    let admin = hand_made_role(
        &access,
        &admin_name,
        trusts(partner.clone(), with_id.clone()),
    )
    .await;
    trusting
        .attach_role_policy(&admin_name, "arn:aws:iam::aws:policy/AdministratorAccess")
        .await
        .unwrap();
    let star_name = unique("lc-aud-inline-");
    let star = hand_made_role(
        &access,
        &star_name,
        trusts(partner.clone(), with_id.clone()),
    )
    .await;
    let everything = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    trusting
        .put_role_policy(&star_name, "Everything", &everything)
        .await
        .unwrap();
    let same_account = hand_made_role(
        &access,
        &unique("lc-aud-local-"),
        trusts(
            json!({"AWS": format!("arn:aws:iam::{TRUSTING}:root")}),
            None,
        ),
    )
    .await;

    let links = [&healthy, &detached, &old_id, &old_key, &orphaned];
    let mut owned: BTreeSet<String> = links.iter().map(|l| l.role_arn.clone()).collect();
    owned.extend([&no_id, &wildcard, &admin, &star, &same_account].map(String::clone));
    owned.extend(
        links
            .iter()
            .filter(|l| l.user.is_some())
            .flat_map(|l| [user_arn(l), grant(l)]),
    );
    let pair = |k: &str, r: &str| (k.to_string(), r.to_string());
    let expected: BTreeSet<(String, String)> = [
        pair("drift", &detached.role_arn),
        pair("old-external-id", &old_id.role_arn),
        pair("old-access-key", &old_key.role_arn),
        pair("orphan", &orphaned.role_arn),
        pair("orphan", &user_arn(&orphaned)),
        pair("orphan", &grant(&orphaned)),
        pair("no-external-id", &no_id),
        pair("wildcard-principal", &wildcard),
        pair("admin-access", &admin),
        pair("admin-access", &star),
    ]
    .into_iter()
    .collect();

    let mut stage = Stage::start(&[]).await;
    let report = stage
        .ok(json!({"Audit": {"Accounts": [TRUSTING, TRUSTED]}}))
        .await;
    assert_eq!(
        findings_on(&report, &owned),
        expected,
        "{:#}",
        report["findings"]
    );
    let entry = report["inventory"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["role_arn"] == healthy.role_arn.as_str())
        .expect("the healthy link is in the inventory")
        .clone();
    assert_eq!(entry["link"], healthy.name.as_str());
    assert_eq!(entry["external_id_required"], true);
    assert_eq!(entry["trusted_principals"], json!([healthy.principal]));
    assert_eq!(
        entry["attached_policies"],
        json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    );
    assert!(
        report["inventory"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["role_arn"] != same_account.as_str()),
        "a same-account role is not cross-account"
    );
    for kind in [
        "no-external-id",
        "wildcard-principal",
        "unused-role",
        "old-external-id",
        "old-access-key",
        "drift",
        "orphan",
        "admin-access",
    ] {
        assert!(
            report["summary"]["findings"][kind].is_u64(),
            "summary counts {kind}"
        );
    }
    let fix = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["resource"] == admin.as_str())
        .unwrap()["fix"]
        .clone();
    assert!(
        fix.as_str().unwrap().starts_with(&format!(
            "aws iam detach-role-policy --role-name {admin_name} "
        )),
        "{fix}"
    );

    // The daily schedule audits the default accounts (the hub, every link's accounts).
    let scheduled: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("events/link-check/scheduled.json"))
            .unwrap(),
    )
    .unwrap();
    let daily = stage.ok(scheduled).await;
    assert_eq!(findings_on(&daily, &owned), expected);
    let output = stage.finish(&secrets);
    assert!(
        output.contains("\"Kind\":\"orphan\""),
        "EMF lines count findings by kind"
    );
    assert!(output.contains("\"HighSeverityFindings\""));

    // 120 days on: nothing was used, and no rotation happened.
    let mut later =
        Stage::start(&[("TRUSTLINK_CLOCK_OFFSET_SECONDS", (120 * DAY).to_string())]).await;
    let report = later
        .ok(json!({"Audit": {"Accounts": [TRUSTING, TRUSTED]}}))
        .await;
    let mut expected = expected;
    let roles = [
        &healthy.role_arn,
        &detached.role_arn,
        &old_id.role_arn,
        &old_key.role_arn,
        &orphaned.role_arn,
        &no_id,
        &wildcard,
        &admin,
        &star,
    ];
    expected.extend(roles.iter().map(|r| pair("unused-role", r)));
    for l in [&healthy, &detached, &old_key] {
        expected.insert(pair("old-external-id", &l.role_arn));
    }
    for l in [&healthy, &detached] {
        expected.insert(pair("old-access-key", &l.role_arn));
    }
    assert_eq!(
        findings_on(&report, &owned),
        expected,
        "{:#}",
        report["findings"]
    );
    later.finish(&secrets);
}

async fn diagnose(stage: &mut Stage, request: Value) -> Value {
    stage.ok(json!({"Diagnose": request})).await
}

fn assert_cause(d: &Value, cause: Option<&str>, what: &str) {
    assert_eq!(d["cause"], json!(cause), "{what}: {d:#}");
    assert_eq!(
        d["verdict"],
        if cause.is_some() { "denied" } else { "allowed" },
        "{what}"
    );
    let not_seen = d["not_seen"].to_string();
    assert!(
        not_seen.contains("SCP")
            && not_seen.contains("RCP")
            && not_seen.contains("session policies"),
        "{what}: {not_seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_names_the_cause_of_each_break() {
    let access = access().await;
    let a = create_link(&access, "lc-diag-", true, rotation()).await;
    let id = current_external_id(&access, &a).await;
    let user = a.user.clone().unwrap();
    let mut stage = Stage::start(&[]).await;
    let working = json!({"Caller": a.principal, "RoleArn": a.role_arn, "ExternalId": id});
    let with = |changes: Value| {
        let mut r = working.clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                r.as_object_mut().unwrap().remove(k);
            } else {
                r[k] = v.clone();
            }
        }
        r
    };
    let d = diagnose(&mut stage, working.clone()).await;
    assert_cause(&d, None, "the working link");
    assert!(check(&d["checks"], "external-id")["detail"]
        .as_str()
        .unwrap()
        .ends_with("matches AWSCURRENT"));
    assert_eq!(d["link"], a.name.as_str());
    let gone = format!("arn:aws:iam::{TRUSTING}:role/trustlink/lc-diag-no-such-role");
    for (changes, cause) in [
        (json!({"RoleArn": gone}), "role-not-found"),
        (
            json!({"Caller": format!("arn:aws:iam::{TRUSTED}:user/SomeoneElse")}),
            "principal-not-trusted",
        ),
        (json!({"ExternalId": null}), "external-id-missing"),
        (
            json!({"ExternalId": "NotTheExternalId12345"}),
            "external-id-wrong",
        ),
        (json!({"DurationSeconds": 7200}), "duration-too-long"),
    ] {
        let d = diagnose(&mut stage, with(changes.clone())).await;
        assert_cause(&d, Some(cause), &changes.to_string());
        assert!(d["fix"].is_string(), "{d:#}");
    }
    let d = diagnose(
        &mut stage,
        with(json!({"ExternalId": "NotTheExternalId12345"})),
    )
    .await;
    assert!(check(&d["checks"], "external-id")["detail"]
        .as_str()
        .unwrap()
        .ends_with("matches none"));

    // The caller's own policies: an explicit deny, then no grant at all.
    let trusted = access.iam(&account(TRUSTED)).await.unwrap();
    let deny = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": a.role_arn}]});
    put_user_policy(&access, &user, &deny).await;
    assert_cause(
        &diagnose(&mut stage, working.clone()).await,
        Some("explicit-deny"),
        "a deny on the caller",
    );
    delete_user_policy(&access, &user).await;
    let grant = format!(
        "arn:aws:iam::{TRUSTED}:policy/trustlink/{}",
        record::grant_policy_name(&a.name)
    );
    trusted.detach_user_policy(&user, &grant).await.unwrap();
    assert_cause(
        &diagnose(&mut stage, working.clone()).await,
        Some("caller-not-granted"),
        "the grant detached",
    );
    trusted.attach_user_policy(&user, &grant).await.unwrap();

    // A finished rotation: the previous ID is retired.
    let b = create_link(&access, "lc-diag-rot-", false, rotation()).await;
    let old = current_external_id(&access, &b).await;
    let new = rotate_by_hand(&access, &b).await;
    let rb = json!({"Caller": b.principal, "RoleArn": b.role_arn, "ExternalId": old});
    let d = diagnose(&mut stage, rb.clone()).await;
    assert_cause(
        &d,
        Some("external-id-retired"),
        "the previous ID after its grace",
    );
    assert!(
        check(&d["checks"], "external-id")["detail"]
            .as_str()
            .unwrap()
            .starts_with("the external ID sent matches the previous ID, retired at "),
        "{d:#}"
    );
    let mut rb_new = rb.clone();
    rb_new["ExternalId"] = json!(new);
    assert_cause(&diagnose(&mut stage, rb_new).await, None, "the new ID");

    // Conditions: MFA with a maximum age, a source range, a time window; each broken alone.
    let c = create(&access, json!({
        "LinkName": unique("lc-diag-cond-"), "TrustingAccount": TRUSTING, "TrustedPrincipal": format!("arn:aws:iam::{TRUSTED}:root"),
        "Conditions": {"RequireMfa": true, "MfaMaxAgeSeconds": 900, "SourceIpCidrs": ["203.0.113.0/24"],
                       "NotBefore": "2020-01-01T00:00:00Z", "NotAfter": "2040-01-01T00:00:00Z"},
    }))
    .await;
    let cid = current_external_id(&access, &c).await;
    let ok = json!({"Caller": c.principal, "RoleArn": c.role_arn, "ExternalId": cid, "MfaPresent": true, "MfaAgeSeconds": 60, "SourceIp": "203.0.113.7", "At": "2030-06-01T00:00:00Z"});
    assert_cause(
        &diagnose(&mut stage, ok.clone()).await,
        None,
        "every condition met",
    );
    for (key, value, cause) in [
        ("MfaPresent", json!(null), "mfa-required"),
        ("MfaAgeSeconds", json!(3600), "mfa-too-old"),
        ("SourceIp", json!("198.51.100.7"), "source-ip"),
        ("At", json!("2041-01-01T00:00:00Z"), "outside-time-window"),
    ] {
        let mut r = ok.clone();
        if value.is_null() {
            r.as_object_mut().unwrap().remove(key);
            r.as_object_mut().unwrap().remove("MfaAgeSeconds");
        } else {
            r[key] = value;
        }
        assert_cause(&diagnose(&mut stage, r).await, Some(cause), key);
    }

    // An organization condition (link-check cannot see the caller's organization).
    let o = create(&access, json!({
        "LinkName": unique("lc-diag-org-"), "TrustingAccount": TRUSTING, "TrustedPrincipal": format!("arn:aws:iam::{TRUSTED}:root"),
        "Conditions": {"PrincipalOrgId": "o-abc123def4"},
    }))
    .await;
    let oid = current_external_id(&access, &o).await;
    let d = diagnose(
        &mut stage,
        json!({"Caller": o.principal, "RoleArn": o.role_arn, "ExternalId": oid}),
    )
    .await;
    assert_cause(&d, Some("org-mismatch"), "an organization condition");

    // Role chaining: a role session asking for more than an hour.
    let caller_role = unique("LcDiagCaller");
    let def = RoleDefinition {
        name: caller_role.clone(),
        path: "/".into(),
        description: None,
        max_session_duration: None,
        trust_policy: trusts(json!({"AWS": format!("arn:aws:iam::{TRUSTED}:root")}), None),
        permissions_boundary: None,
        tags: Default::default(),
    };
    trusted.create_role(&def).await.unwrap();
    let e = create(&access, json!({
        "LinkName": unique("lc-diag-chain-"), "TrustingAccount": TRUSTING, "TrustedPrincipal": format!("arn:aws:iam::{TRUSTED}:role/{caller_role}"),
        "Role": {"MaxSessionDuration": 43200}, "TrustedSide": {"Grant": true},
    }))
    .await;
    let eid = current_external_id(&access, &e).await;
    let chain = json!({"Caller": e.principal, "RoleArn": e.role_arn, "ExternalId": eid, "DurationSeconds": 3600});
    assert_cause(
        &diagnose(&mut stage, chain.clone()).await,
        None,
        "a chained hour",
    );
    let mut long = chain;
    long["DurationSeconds"] = json!(7200);
    assert_cause(
        &diagnose(&mut stage, long).await,
        Some("role-chaining-limit"),
        "a chained two hours",
    );

    let mut secrets = secrets_of(&access, &[&a, &b, &c, &o, &e]).await;
    secrets.push(old);
    let output = stage.finish(&secrets);
    assert!(
        output.contains("\"Cause\":\"role-chaining-limit\""),
        "EMF lines count diagnoses by cause"
    );
}

async fn put_user_policy(access: &AccountAccess, user: &str, doc: &Value) {
    let config = access.config_for(&account(TRUSTED)).await.unwrap();
    aws_sdk_iam::Client::new(&config)
        .put_user_policy()
        .user_name(user)
        .policy_name("DenyAssume")
        .policy_document(doc.to_string())
        .send()
        .await
        .unwrap();
}

async fn delete_user_policy(access: &AccountAccess, user: &str) {
    let config = access.config_for(&account(TRUSTED)).await.unwrap();
    aws_sdk_iam::Client::new(&config)
        .delete_user_policy()
        .user_name(user)
        .policy_name("DenyAssume")
        .send()
        .await
        .unwrap();
}

/// What a finished rotation leaves: a new AWSCURRENT, the old one AWSPREVIOUS, switched two
/// days ago (the 24-hour grace is over), the trust policy accepting only the new one.
async fn rotate_by_hand(access: &AccountAccess, link: &Link) -> String {
    let name = record::external_id_secret_name(&link.name);
    let secrets = access.secrets();
    let current = secrets.get_secret_value(&name, AWSCURRENT).await.unwrap();
    let mut value = ExternalIdSecret::parse(&current.text).unwrap();
    value.external_id = ExternalId::generate();
    let new = value.external_id.expose().to_string();
    trustlink_tests::remember_secret(&new);
    let version = secrets
        .put_secret_value(
            &name,
            &value.to_text(),
            &["AWSPENDING"],
            &unique("lc-rotate-token-00000000000000000000000"),
        )
        .await
        .unwrap();
    secrets
        .move_stage(&name, AWSCURRENT, &version, Some(&current.version_id))
        .await
        .unwrap();
    let _ = secrets
        .move_stage(&name, AWSPREVIOUS, &current.version_id, None)
        .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let tags = [(
        tag::EXTERNAL_ID_ROTATED_AT.to_string(),
        (now - 2 * DAY).to_string(),
    )]
    .into_iter()
    .collect();
    secrets.tag_secret(&name, &tags).await.unwrap();
    let iam = access.iam(&account(TRUSTING)).await.unwrap();
    let mut trust = iam.get_role(&link.role).await.unwrap().trust_policy;
    policy::set_external_ids(&mut trust, &[&new]);
    iam.update_trust_policy(&link.role, &trust).await.unwrap();
    let old = ExternalIdSecret::parse(&current.text).unwrap().external_id;
    assert_eq!(
        trustlink_tests::links::external_id_at(access, link, AWSPREVIOUS)
            .await
            .as_deref(),
        Some(old.expose()),
        "the old ID is AWSPREVIOUS"
    );
    new
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloudtrail_sample_is_diagnosed() {
    let access = access().await;
    let link = create_link(&access, "lc-trail-", true, rotation()).await;
    let text = std::fs::read_to_string(
        workspace_root().join("events/link-check/cloudtrail-assume-role-denied.json"),
    )
    .unwrap();
    let sample_id = "ExampleRetiredExternalId0123456789";
    assert!(
        text.contains(sample_id),
        "the sample carries the external ID the caller sent"
    );
    let mut event: Value = serde_json::from_str(&text).unwrap();
    event["detail"]["userIdentity"]["arn"] = json!(link.principal);
    event["detail"]["requestParameters"]["roleArn"] = json!(link.role_arn);
    let mut stage = Stage::start(&[]).await;
    let d = stage.ok(event).await;
    assert_cause(&d, Some("external-id-wrong"), "the sample's external ID");
    assert!(check(&d["checks"], "external-id")["detail"]
        .as_str()
        .unwrap()
        .ends_with("matches none"));
    assert!(
        d["source"].as_str().unwrap().starts_with("cloudtrail "),
        "{d:#}"
    );
    assert_eq!(d["link"], link.name.as_str());
    let mut secrets = secrets_of(&access, &[&link]).await;
    secrets.push(sample_id.into());
    let output = stage.finish(&secrets);
    assert!(
        output.contains("\"diagnosis\"") || output.contains("diagnosis"),
        "one log line per diagnosis"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_that_are_not_commands_are_refused() {
    let mut stage = Stage::start(&[]).await;
    for event in [
        json!([]),
        json!([{"Verify": {}}]),
        json!(null),
        json!("Verify"),
        json!({}),
        json!({"Verify": []}),
        json!({"Verify": {"Links": "a"}}),
        json!({"Verify": {}, "Audit": {}}),
        json!({"Diagnose": ["arn:aws:iam::444455556666:user/u", "arn:aws:iam::111122223333:role/r"]}),
        json!({"source": "aws.events", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "CreateRole"}}),
    ] {
        let Outcome::Error(error) = stage.invoke(event.clone()).await else {
            panic!("{event} was answered as a command");
        };
        assert_eq!(error["errorType"], "BadCommand", "{event}: {error}");
        let message = error["errorMessage"].as_str().unwrap();
        assert!(
            message.contains(link_check::command::EXPECTED),
            "{event}: {message}"
        );
        for field in [
            "Verify", "Audit", "Diagnose", "Links", "Accounts", "Caller", "RoleArn",
        ] {
            assert!(message.contains(field), "{event}: names {field}: {message}");
        }
    }
    // The process still serves a real command.
    let report = stage
        .ok(json!({"Verify": {"Links": ["lc-nothing-here"]}}))
        .await;
    assert_eq!(report["summary"]["fail"], 1);
    stage.finish(&[]);
}
