"""make demo: the whole story of a trust link on the local AWS stack.

Starts a local AWS (IAM, STS, Secrets Manager), the real functions behind the Lambda runtime API
(`cargo lambda watch`) and a loopback server that plays CloudFormation's ResponseURL; creates the
classic link from events/, runs the runbook check with the AWS CLI, rotates, ends the grace
period, deletes the link, and stops every process it started. Exits non-zero if a step fails.
Secrets are shown masked.

Two backends (BACKEND, or TRUSTLINK_BACKEND):
  moto       (default) accepts every sts:AssumeRole whatever the trust policy says, so the checks
             that only a trust-policy evaluation can make are listed as NOT CHECKED, not passed;
  fakecloud  (`make demo BACKEND=fakecloud`, or `make demo-enforced`) evaluates trust policies:
             the demo shows the denials AWS would give (no external ID, no MFA, the old ID after
             the grace period) and uses a virtual MFA device for the MFA-gated link.
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contract  # noqa: E402  (docs/contract.json: the names of the contract)

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
HUB, TRUSTING, TRUSTED = "123456789012", "111122223333", "444455556666"
LINK = "dev-cross-account"
ROLE_ARN = f"arn:aws:iam::{TRUSTING}:role/cross-account/CrossAccountDeveloperRole"
USER = "DevUser"
BACKEND = os.environ.get("BACKEND") or os.environ.get("TRUSTLINK_BACKEND") or "moto"
FAKECLOUD_VERSION = "0.51.0"  # as tools/setup_fakecloud.sh and tests/src/fakecloud.rs
REGION = "us-east-1"
FUNCTION_ROLES = [f"trustlink-trust-link-{REGION}", f"trustlink-rotator-{REGION}"]
NOT_CHECKED = []


class DemoFailure(Exception):
    pass


def step(n, title):
    print(f"\n\033[1m[{n}] {title}\033[0m", flush=True)


def ok(msg):
    print(f"    ok   {msg}", flush=True)


def info(msg):
    print(f"         {msg}", flush=True)


def check(cond, msg):
    if not cond:
        raise DemoFailure(msg)
    ok(msg)


def not_checked(msg):
    """A check this backend cannot make: said, never counted as passed."""
    NOT_CHECKED.append(msg)
    print(f"    \033[33mNOT CHECKED\033[0m {msg}", flush=True)


def totp(seed_b32, at=None):
    """RFC 6238: the 6-digit code of a base32 seed (what an authenticator app shows)."""
    key = base64.b32decode(seed_b32 + "=" * (-len(seed_b32) % 8), casefold=True)
    mac = hmac.new(key, struct.pack(">Q", int((time.time() if at is None else at) // 30)), hashlib.sha1).digest()
    o = mac[-1] & 15
    return f"{(struct.unpack('>I', mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000:06d}"


def fakecloud_binary():
    cache = Path(os.environ.get("TRUSTLINK_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trustlink")
    root = cache / f"fakecloud-{FAKECLOUD_VERSION}"
    stamp = root / ".installed"
    if not stamp.exists() or stamp.read_text().strip() != FAKECLOUD_VERSION:
        raise DemoFailure(f"fakecloud {FAKECLOUD_VERSION} is not installed in {root}: run `make setup`")
    return root / "bin" / "fakecloud"


def member_admin_trust(hub):
    """TrustLinkAdmin's trust policy as infra/member-account.yaml writes it, plus the session-ARN
    form of the same two hub roles (fakecloud gives aws:PrincipalArn the session's ARN; see
    docs/fakecloud.md)."""
    arns = [f"arn:aws:iam::{hub}:role/trustlink-service/{r}" for r in FUNCTION_ROLES]
    arns += [f"arn:aws:sts::{hub}:assumed-role/{r}/*" for r in FUNCTION_ROLES]
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "TrustLinkHubFunctionsOnly", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{hub}:root"}, "Action": "sts:AssumeRole",
        "Condition": {"ArnEquals": {"aws:PrincipalArn": arns}}}]}


def mask(secret):
    return f"{secret[:4]}…({len(secret)} chars)"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CloudFormation:
    """Serves presigned-style ResponseURLs on loopback and keeps what is PUT to them."""

    def __init__(self):
        self.responses = {}
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.responses[self.path.split("?")[0].rsplit("/", 1)[-1]] = json.loads(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, request_id):
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}/cfn/{request_id}?X-Amz-Signature=0000demo"

    def wait(self, request_id, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            if request_id in self.responses:
                return self.responses[request_id]
            time.sleep(0.2)
        raise DemoFailure(f"CloudFormation got no response to {request_id} within {timeout} s")

    def stop(self):
        self.server.shutdown()


class Demo:
    def __init__(self):
        self.procs = []
        self.mfa = None
        self.fakecloud_port = None
        self.tmp = Path(tempfile.mkdtemp(prefix="trustlink-demo-"))
        self.env = None
        self.invoke_port = None

    # ---- processes -------------------------------------------------------------------

    def base_env(self, endpoint):
        env = dict(os.environ)
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            env.pop(k, None)
        env.update({
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            contract.setting("TRUSTLINK_ROLE_PATHS"): "/trustlink/,/cross-account/",
            contract.setting("TRUSTLINK_MANAGED_POLICY_ALLOWLIST"): "arn:aws:iam::aws:policy/ReadOnlyAccess,arn:aws:iam::aws:policy/SecurityAudit",
            "RUST_LOG": os.environ.get("TRUSTLINK_DEMO_LOG", "info"),
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        })
        return env

    def start_moto(self):
        moto = subprocess.Popen(
            [str(BIN / "python"), str(ROOT / "tools" / "moto_server.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self.procs.append(("moto", moto))
        port = moto.stdout.readline().strip()
        if not port.isdigit():
            raise DemoFailure("moto did not start (run `make setup`)")
        self.env = self.base_env(f"http://127.0.0.1:{port}")
        return port

    def start_fakecloud(self):
        binary = fakecloud_binary()
        port = free_port()
        log = open(self.tmp / "fakecloud.log", "w")
        fc = subprocess.Popen(
            [str(binary), "--addr", f"127.0.0.1:{port}", "--region", REGION, "--account-id", HUB,
             "--verify-sigv4", "--log-level", "warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.procs.append(("fakecloud", fc))
        end = time.time() + 60
        while True:
            if fc.poll() is not None:
                raise DemoFailure(f"fakecloud exited; see {self.tmp / 'fakecloud.log'}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fakecloud/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > end:
                raise DemoFailure("fakecloud did not answer its health check within 60 s")
            time.sleep(0.1)
        self.fakecloud_port = port
        self.env = self.base_env(f"http://127.0.0.1:{port}")
        return port

    def create_admin(self, account, user):
        """fakecloud's bootstrap: a user with an access key in `account` (the way into an account
        before any role exists, as StackSets' execution role is on AWS)."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.fakecloud_port}/_fakecloud/iam/create-admin",
            data=json.dumps({"accountId": account, "userName": user}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            out = json.loads(r.read())
        return {"AccessKeyId": out["accessKeyId"], "SecretAccessKey": out["secretAccessKey"]}

    def start_functions(self):
        self.invoke_port = free_port()
        log = open(self.tmp / "cargo-lambda-watch.log", "w")
        watch = subprocess.Popen(
            [str(BIN / "cargo-lambda"), "lambda", "watch", "--ignore-changes",
             "--invoke-address", "127.0.0.1", "--invoke-port", str(self.invoke_port)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.procs.append(("cargo lambda watch", watch))
        end = time.time() + 300
        while time.time() < end:
            if watch.poll() is not None:
                raise DemoFailure(f"cargo lambda watch exited; see {self.tmp / 'cargo-lambda-watch.log'}")
            try:
                socket.create_connection(("127.0.0.1", self.invoke_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.5)
        raise DemoFailure("the Lambda runtime API did not come up")

    def stop_all(self):
        for name, p in reversed(self.procs):
            if p.poll() is not None:
                continue
            try:
                if name == "moto":
                    p.stdin.close()  # moto stops at end of its stdin
                    p.wait(timeout=10)
                elif name == "fakecloud":
                    p.terminate()
                    p.wait(timeout=10)
                else:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=10)
            except Exception:
                try:
                    os.killpg(p.pid, signal.SIGKILL) if name not in ("moto", "fakecloud") else p.kill()
                except Exception:
                    pass
                p.wait(timeout=5)
        left = [name for name, p in self.procs if p.poll() is None]
        if left:
            raise DemoFailure(f"still running: {left}")

    # ---- AWS -------------------------------------------------------------------------

    def aws(self, *args, creds=None, expect_error=None):
        env = dict(self.env)
        if creds:
            env.update({"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"]})
            if creds.get("SessionToken"):
                env["AWS_SESSION_TOKEN"] = creds["SessionToken"]
        r = subprocess.run([str(BIN / "aws"), *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
        if expect_error:
            if r.returncode == 0 or expect_error not in r.stderr:
                raise DemoFailure(f"aws {' '.join(args[:2])}: expected {expect_error}, got {r.stderr.strip() or 'success'}")
            return r.stderr.strip()
        if r.returncode != 0:
            raise DemoFailure(f"aws {' '.join(args[:3])} failed: {r.stderr.strip()}")
        return json.loads(r.stdout) if r.stdout.strip() else {}

    def admin(self, account):
        """Credentials of an account's TrustLinkAdmin role (what the functions use too)."""
        out = self.aws("sts", "assume-role", "--role-arn", f"arn:aws:iam::{account}:role/{contract.ADMIN_ROLE_NAME}",
                       "--role-session-name", "demo")
        return out["Credentials"]

    def invoke(self, function, event):
        f = self.tmp / f"{function}-{time.time_ns()}.json"
        f.write_text(json.dumps(event))
        r = subprocess.run(
            [str(BIN / "cargo-lambda"), "lambda", "invoke", function, "--invoke-address", "127.0.0.1",
             "--invoke-port", str(self.invoke_port), "--data-file", str(f), "--output-format", "json"],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=600,
        )
        if r.returncode != 0:
            raise DemoFailure(f"invoking {function} failed: {r.stderr.strip()[-600:]}")
        return json.loads(r.stdout) if r.stdout.strip() else None

    def trust_policy_ids(self):
        role = self.aws("iam", "get-role", "--role-name", "CrossAccountDeveloperRole", creds=self.admin(TRUSTING))
        ids = []
        for st in role["Role"]["AssumeRolePolicyDocument"]["Statement"]:
            v = st.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId", [])
            ids += [v] if isinstance(v, str) else v
        return ids

    def secret(self, name, stage="AWSCURRENT"):
        out = self.aws("secretsmanager", "get-secret-value", "--secret-id", name, "--version-stage", stage)
        return json.loads(out["SecretString"])

    # ---- the story -------------------------------------------------------------------

    def run(self):
        step(1, "Build the functions")
        subprocess.run(["cargo", "build", "--locked", "--bins"], cwd=ROOT, check=True)
        ok("trust-link and rotator built")

        if BACKEND == "fakecloud":
            step(2, f"Start the local AWS stack (fakecloud {FAKECLOUD_VERSION}: trust policies evaluated), the hub roles and the member accounts' admin role")
            port = self.start_fakecloud()
            ok(f"fakecloud on 127.0.0.1:{port}: IAM, STS, Secrets Manager; hub account {HUB}")
            boot = self.create_admin(HUB, "trustlink-hub-bootstrap")
            lambda_trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                                       "Principal": {"AWS": f"arn:aws:iam::{HUB}:user/trustlink-hub-bootstrap"},
                                       "Action": "sts:AssumeRole"}]})
            for role in FUNCTION_ROLES:
                self.aws("iam", "create-role", "--role-name", role, "--path", "/trustlink-service/",
                         "--assume-role-policy-document", lambda_trust, creds=boot)
            ok("hub function roles role/trustlink-service/" + ", ".join(FUNCTION_ROLES)
               + " (a bootstrap user stands in for lambda.amazonaws.com)")
            session = self.aws("sts", "assume-role", "--role-arn",
                               f"arn:aws:iam::{HUB}:role/trustlink-service/{FUNCTION_ROLES[0]}",
                               "--role-session-name", "demo", creds=boot)["Credentials"]
            self.env.update({"AWS_ACCESS_KEY_ID": session["AccessKeyId"],
                             "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
                             "AWS_SESSION_TOKEN": session["SessionToken"]})
            ok(f"the functions and this demo act as a session of {FUNCTION_ROLES[0]}")
            trust = json.dumps(member_admin_trust(HUB))
            for account in (TRUSTING, TRUSTED):
                self.aws("iam", "create-role", "--role-name", contract.ADMIN_ROLE_NAME, "--assume-role-policy-document", trust,
                         creds=self.create_admin(account, "stackset-bootstrap"))
                ok(f"TrustLinkAdmin in {account}, trusting only the hub's function roles (infra/member-account.yaml)")
            self.aws("sts", "assume-role", "--role-arn", f"arn:aws:iam::{TRUSTING}:role/{contract.ADMIN_ROLE_NAME}",
                     "--role-session-name", "intruder", creds=boot, expect_error="AccessDenied")
            ok("another hub principal is denied TrustLinkAdmin")
        else:
            step(2, "Start the local AWS stack (moto) and the member accounts' admin role")
            port = self.start_moto()
            ok(f"moto on 127.0.0.1:{port}: IAM, STS, Secrets Manager; hub account {HUB}")
            trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{HUB}:root"}, "Action": "sts:AssumeRole"}]})
            for account in (TRUSTING, TRUSTED):
                self.aws("iam", "create-role", "--role-name", contract.ADMIN_ROLE_NAME, "--assume-role-policy-document", trust,
                         creds=self.admin(account))
                ok(f"TrustLinkAdmin in {account} (what infra/member-account.yaml provisions)")
            not_checked("moto does not evaluate trust policies: every AssumeRole below is granted whatever the "
                        "policy says (no external ID, no MFA, retired IDs). `make demo BACKEND=fakecloud` checks them.")

        step(3, "Run the real functions behind the Lambda runtime API (cargo lambda watch)")
        self.start_functions()
        ok(f"runtime API on 127.0.0.1:{self.invoke_port}")
        cfn = CloudFormation()

        step(4, "Create the classic link: CloudFormation sends events/trust-link/create.json")
        create = json.loads((ROOT / "events/trust-link/create.json").read_text())
        create["ResponseURL"] = cfn.url(create["RequestId"])
        self.invoke("trust-link", create)
        r = cfn.wait(create["RequestId"])
        check(r["Status"] == "SUCCESS", f"CloudFormation got {r['Status']} {r.get('Reason', '')}")
        check(r["PhysicalResourceId"] == ROLE_ARN, f"physical id is the role ARN {ROLE_ARN}")
        check(r.get("NoEcho") is True, "NoEcho is set (the external ID is in the attributes)")
        for k in [k for k in contract.GET_ATT if k != "ExternalId"]:
            info(f"Fn::GetAtt {k:20} {r['Data'][k]}")
        info(f"Fn::GetAtt {'ExternalId':20} {mask(r['Data']['ExternalId'])} (NoEcho)")
        role = self.aws("iam", "get-role", "--role-name", "CrossAccountDeveloperRole", creds=self.admin(TRUSTING))
        info("trust policy: " + json.dumps(role["Role"]["AssumeRolePolicyDocument"]).replace(r["Data"]["ExternalId"], "<external id>"))
        attached = self.aws("iam", "list-attached-role-policies", "--role-name", "CrossAccountDeveloperRole", creds=self.admin(TRUSTING))
        check([p["PolicyArn"] for p in attached["AttachedPolicies"]] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"], "ReadOnlyAccess attached")
        inline = self.aws("iam", "list-role-policies", "--role-name", "CrossAccountDeveloperRole", creds=self.admin(TRUSTING))
        check(inline["PolicyNames"] == ["S3DevAccess"], "inline S3DevAccess on dev-* buckets")
        user_policies = self.aws("iam", "list-attached-user-policies", "--user-name", USER, creds=self.admin(TRUSTED))
        check(any(p["PolicyName"] == f"TrustLink-{LINK}" for p in user_policies["AttachedPolicies"]),
              f"{USER} in {TRUSTED} holds the grant TrustLink-{LINK}")

        step(5, "The runbook check, with the AWS CLI, as the consumer")
        ext = self.secret(contract.secret_name(LINK))
        key = self.secret(contract.key_secret_name(LINK))
        info(f"{contract.secret_name(LINK)}: ExternalId {mask(ext['ExternalId'])}, RoleArn {ext['RoleArn']}")
        info(f"{contract.key_secret_name(LINK)}: AccessKeyId {key['AccessKeyId']}, SecretAccessKey {mask(key['SecretAccessKey'])}")
        runbook_arn = f"arn:aws:sts::{TRUSTING}:assumed-role/CrossAccountDeveloperRole/runbook"
        self.mfa = None
        if BACKEND == "fakecloud":
            info(f"$ aws sts assume-role --role-arn {ext['RoleArn']} --role-session-name runbook   (no external ID)")
            err = self.aws("sts", "assume-role", "--role-arn", ext["RoleArn"], "--role-session-name", "runbook",
                           creds=key, expect_error="AccessDenied")
            ok(f"denied without the external ID: {err.splitlines()[-1]}")
            info(f"$ aws sts assume-role ... --external-id <from the secret>   (no MFA; the link has RequireMfa)")
            err = self.aws("sts", "assume-role", "--role-arn", ext["RoleArn"], "--role-session-name", "runbook",
                           "--external-id", ext["ExternalId"], creds=key, expect_error="AccessDenied")
            ok(f"denied without MFA: {err.splitlines()[-1]}")
            seed_file = self.tmp / "mfa-seed.txt"
            device = self.aws("iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", USER,
                              "--outfile", str(seed_file), "--bootstrap-method", "Base32StringSeed",
                              creds=self.admin(TRUSTED))["VirtualMFADevice"]
            serial, seed = device["SerialNumber"], seed_file.read_text().strip()
            now = time.time()
            self.aws("iam", "enable-mfa-device", "--user-name", USER, "--serial-number", serial,
                     "--authentication-code1", totp(seed, now - 30), "--authentication-code2", totp(seed, now),
                     creds=self.admin(TRUSTED))
            ok(f"virtual MFA device {serial} enabled for {USER} (codes computed as an authenticator app does)")
            self.mfa = (serial, seed)
            info(f"$ aws sts assume-role ... --external-id <from the secret> --serial-number {serial} --token-code <TOTP>")
            assumed = self.aws("sts", "assume-role", "--role-arn", ext["RoleArn"], "--role-session-name", "runbook",
                               "--external-id", ext["ExternalId"], "--serial-number", serial,
                               "--token-code", totp(seed), creds=key)
            me = self.aws("sts", "get-caller-identity", creds=assumed["Credentials"])
            info(f"$ aws sts get-caller-identity  ->  {me['Arn']}")
            check(me["Arn"] == runbook_arn, "with the external ID and a valid MFA code the consumer is the assumed role")
        else:
            info(f"$ aws sts assume-role --role-arn {ext['RoleArn']} --role-session-name runbook --external-id <from the secret>")
            assumed = self.aws("sts", "assume-role", "--role-arn", ext["RoleArn"], "--role-session-name", "runbook",
                               "--external-id", ext["ExternalId"], creds=key)
            me = self.aws("sts", "get-caller-identity", creds=assumed["Credentials"])
            info(f"$ aws sts get-caller-identity  ->  {me['Arn']} (moto granted it)")
            check(me["Arn"] == runbook_arn, "the session is the link's role in the trusting account")
            not_checked("the link requires MFA: AWS refuses this AssumeRole (no --serial-number/--token-code); "
                        "moto granted it without reading the trust policy")
            not_checked("that the role refuses a consumer without the external ID")

        step(6, "Force a rotation: events/rotator/force-one.json")
        old_id, old_key = ext["ExternalId"], key["AccessKeyId"]
        report = self.invoke("rotator", json.loads((ROOT / "events/rotator/force-one.json").read_text()))
        for link in report["links"]:
            info(f"{link['link']}: external ID {link['external_id']['action']}: {link['external_id']['detail']}")
            info(f"{link['link']}: access key  {link['access_key']['action']}: {link['access_key']['detail']}")
        new_id = self.secret(contract.secret_name(LINK))["ExternalId"]
        ids = self.trust_policy_ids()
        info(f"AWSCURRENT {mask(new_id)}, AWSPREVIOUS {mask(self.secret(contract.secret_name(LINK), 'AWSPREVIOUS')['ExternalId'])}")
        info("trust policy accepts: " + ", ".join(mask(i) for i in ids))
        check(new_id != old_id and sorted(ids) == sorted([old_id, new_id]), "old and new external IDs are both accepted")
        new_key = self.secret(contract.key_secret_name(LINK))
        check(new_key["AccessKeyId"] != old_key, f"new access key {new_key['AccessKeyId']} is AWSCURRENT")
        me = self.aws("sts", "get-caller-identity", creds=new_key)
        check(me["Arn"] == f"arn:aws:iam::{TRUSTED}:user/{USER}", "the new key works")

        step(7, "End the grace period: {\"Links\": [\"%s\"], \"EndGrace\": true}" % LINK)
        report = self.invoke("rotator", {"Links": [LINK], "EndGrace": True})
        for link in report["links"]:
            info(f"{link['link']}: external ID {link['external_id']['action']}: {link['external_id']['detail']}")
            info(f"{link['link']}: access key  {link['access_key']['action']}: {link['access_key']['detail']}")
        ids = self.trust_policy_ids()
        info("trust policy accepts: " + ", ".join(mask(i) for i in ids))
        check(ids == [new_id], "only the new external ID is accepted")
        keys = self.aws("iam", "list-access-keys", "--user-name", USER, creds=self.admin(TRUSTED))["AccessKeyMetadata"]
        status = {k["AccessKeyId"]: k["Status"] for k in keys}
        check(status.get(old_key) == "Inactive" and status.get(new_key["AccessKeyId"]) == "Active",
              "the old key is deactivated, the new one active")
        if BACKEND == "fakecloud":
            serial, seed = self.mfa
            mfa = ["--serial-number", serial, "--token-code", totp(seed)]
            err = self.aws("sts", "assume-role", "--role-arn", ROLE_ARN, "--role-session-name", "old",
                           "--external-id", old_id, *mfa, creds=new_key, expect_error="AccessDenied")
            ok(f"the old external ID is denied after the grace period: {err.splitlines()[-1]}")
            err = self.aws("sts", "get-caller-identity", creds=key, expect_error="InvalidClientTokenId")
            ok(f"the old access key is refused: {err.splitlines()[-1]}")
            assumed = self.aws("sts", "assume-role", "--role-arn", ROLE_ARN, "--role-session-name", "runbook",
                               "--external-id", new_id, *mfa, creds=new_key)
            me = self.aws("sts", "get-caller-identity", creds=assumed["Credentials"])
            check(me["Arn"] == f"arn:aws:sts::{TRUSTING}:assumed-role/CrossAccountDeveloperRole/runbook",
                  "the new external ID and key (with MFA) still get in")
        else:
            not_checked("that the old external ID is denied after the grace period (moto grants it)")
            not_checked("that the old access key is refused once inactive")

        step(8, "Delete the link: CloudFormation sends events/trust-link/delete.json")
        if self.mfa:
            # AWS refuses to delete a user with an MFA device (DeleteConflict): the consumer
            # removes theirs first.
            serial, _ = self.mfa
            self.aws("iam", "deactivate-mfa-device", "--user-name", USER, "--serial-number", serial, creds=self.admin(TRUSTED))
            self.aws("iam", "delete-virtual-mfa-device", "--serial-number", serial, creds=self.admin(TRUSTED))
            ok(f"{USER} removed the MFA device (a user with one cannot be deleted)")
        delete = json.loads((ROOT / "events/trust-link/delete.json").read_text())
        delete["ResponseURL"] = cfn.url(delete["RequestId"])
        self.invoke("trust-link", delete)
        r = cfn.wait(delete["RequestId"])
        check(r["Status"] == "SUCCESS", f"CloudFormation got {r['Status']} {r.get('Reason', '')}")
        self.aws("iam", "get-role", "--role-name", "CrossAccountDeveloperRole", creds=self.admin(TRUSTING), expect_error="NoSuchEntity")
        ok(f"role gone from {TRUSTING}")
        self.aws("iam", "get-user", "--user-name", USER, creds=self.admin(TRUSTED), expect_error="NoSuchEntity")
        ok(f"user {USER} (created by the link) and its keys gone from {TRUSTED}")
        self.aws("iam", "get-policy", "--policy-arn", f"arn:aws:iam::{TRUSTED}:policy/trustlink/{contract.grant_policy_name(LINK)}",
                 creds=self.admin(TRUSTED), expect_error="NoSuchEntity")
        ok("grant policy gone")
        for name in (contract.secret_name(LINK), contract.key_secret_name(LINK)):
            d = self.aws("secretsmanager", "describe-secret", "--secret-id", name)
            check("DeletedDate" in d, f"secret {name} scheduled for deletion")
        cfn.stop()


def main():
    demo = Demo()
    code = 0
    try:
        demo.run()
    except (DemoFailure, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        print(f"\n\033[31mFAILED: {e}\033[0m", flush=True)
        log = demo.tmp / "cargo-lambda-watch.log"
        if log.exists():
            print("--- last lines of cargo lambda watch ---")
            lines = [l for l in log.read_text().splitlines() if not l.lstrip().startswith(("DEBUG", "TRACE"))]
            print("\n".join(lines[-30:]))
        code = 1
    except KeyboardInterrupt:
        code = 130
    finally:
        step(9, "Stop every process the demo started")
        try:
            demo.stop_all()
            ok(f"{BACKEND}, cargo lambda watch and the functions are stopped")
        except DemoFailure as e:
            print(f"\033[31mFAILED: {e}\033[0m")
            code = code or 1
    if code == 0:
        if NOT_CHECKED:
            print(f"\n\033[32mDemo passed\033[0m on {BACKEND}, with {len(NOT_CHECKED)} checks it cannot make:")
            for msg in NOT_CHECKED:
                print(f"  - {msg}")
            print("Run `make demo BACKEND=fakecloud` (or `make demo-enforced`) to have them made.")
        else:
            print(f"\n\033[32mDemo passed\033[0m on {BACKEND}: every check made, trust policies evaluated.")
    return code


if __name__ == "__main__":
    sys.exit(main())
