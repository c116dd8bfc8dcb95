#!/usr/bin/env python3
"""Checks of the trustlink CloudFormation/SAM templates (infra/**/*.yaml).

Run from the repository root, with the Python that has cfn-lint and aws-sam-cli installed
(their executables are looked up next to that interpreter):

    python -m unittest tools.check_templates      (or: python tools/check_templates.py)

What is checked:
  * cfn-lint on every template under infra/ (examples included) and
    `sam validate --lint --region us-east-1 -t infra/template.yaml` exit with 0;
  * the least-privilege rules below, on every IAM policy document of every template
    (intrinsic functions resolved with the parameter defaults, and again with the
    parameter_overrides of samconfig.toml for the hub template);
  * the contract between the templates, the Rust code (docs/design.md) and samconfig.toml;
  * the checker itself: small bad templates must be reported.

Least-privilege rules (Allow statements; Deny statements only restrict):
  wildcard-action    no Action "*" or "<service>:*", and no Allow with NotAction.
                     Every policy document: identity, trust, KMS key and other resource policies.
  resource-star      Resource "*" only for actions that support no resource-level
                     permissions (RESOURCELESS_ACTIONS); no Allow with NotResource.
                     Identity policies only (a key policy's Resource is always "*").
  iam-write-scope    an IAM write (anything but Get*/List*/Generate*/Simulate*) only on roles
                     under a RolePaths entry or policies under PolicyPath; except
                     attach/detach constrained by an iam:PolicyARN condition, and user and
                     access-key actions constrained by a trustlink:link tag condition
                     (iam:ResourceTag/trustlink:link or aws:RequestTag/trustlink:link).
  attach-condition   iam:AttachRolePolicy (also through a wildcard) only with an
                     iam:PolicyARN condition that is narrower than "any policy".
  broad-managed      no AdministratorAccess / IAMFullAccess / PowerUserAccess on a role.
  public-principal   a resource policy statement with Principal "*" must have a Condition.
  read-only-role     the roles of READ_ONLY_ROLES (link-check's in the hub, its audit role in
                     member accounts), through their inline policies and the managed policies
                     naming them: only IAM Get*/List*, reading secrets under trustlink/*
                     (plus ListSecrets), kms:Decrypt/DescribeKey through Secrets Manager,
                     sts:GetCallerIdentity, sts:AssumeRole on named roles (no wildcard in the
                     name), and writing their own logs; no managed policy ARNs attached.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import subprocess
import sys
import tomllib
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contract  # noqa: E402  (docs/contract.json: the names of the contract)

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
HUB_TEMPLATE = INFRA / "template.yaml"
MEMBER_TEMPLATE = INFRA / "member-account.yaml"
SAMCONFIG = ROOT / "samconfig.toml"
BIN = Path(sys.executable).parent

# Values of the pseudo parameters when resolving templates textually.
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
    "AWS::Region": "us-east-1",
    "AWS::StackName": "trustlink",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/trustlink/id",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": [],
}

# Actions allowed on Resource "*" because they support no resource-level permissions.
RESOURCELESS_ACTIONS = {
    "sts:getcalleridentity",
    "secretsmanager:listsecrets",
    "secretsmanager:getrandompassword",
    "xray:puttracesegments",
    "xray:puttelemetryrecords",
    "cloudwatch:putmetricdata",
    "iam:listroles",
    "iam:listusers",
    "iam:listpolicies",
    "iam:getaccountsummary",
    "kms:listkeys",
    "kms:listaliases",
    "logs:describeloggroups",
}

READ_PREFIXES = ("get", "list", "generate", "simulate")
BROAD_MANAGED_POLICIES = ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")
LINK_TAG = contract.TAGS["link"]
# Condition keys compared lowercased, as IAM does.
TRUSTLINK_TAG_KEYS = {f"iam:resourcetag/{LINK_TAG}".lower(), f"aws:requesttag/{LINK_TAG}".lower()}
DEFAULT_PATH = contract.DEFAULTS["Role.Path"]
SECRETS = f"{contract.SECRET_PREFIX}*"
QUEUE_URL = contract.setting("TRUSTLINK_ROTATION_QUEUE_URL")

# Roles that must stay read-only, by logical id, in any template.
READ_ONLY_ROLES = ("LinkCheckRole", "AuditRole")
READ_ONLY_ACTIONS = (
    "iam:get*",
    "iam:list*",
    "secretsmanager:getsecretvalue",
    "secretsmanager:describesecret",
    "secretsmanager:listsecretversionids",
    "secretsmanager:listsecrets",
    "kms:decrypt",
    "kms:describekey",
    "sts:getcalleridentity",
    "sts:assumerole",
    "logs:createlogstream",
    "logs:putlogevents",
)


class TemplateError(Exception):
    pass


# --------------------------------------------------------------------------- loading


def load_template(path: Path) -> dict:
    return _decoded(*_cfnlint_decode().decode(str(path)), str(path))


def load_template_str(text: str) -> dict:
    return _decoded(*_cfnlint_decode().decode_str(text), "<inline>")


def _cfnlint_decode():
    try:
        from cfnlint import decode
    except ImportError as e:  # pragma: no cover - environment problem
        raise TemplateError(
            f"cfn-lint is not importable from {sys.executable}: run with the Python that has "
            "cfn-lint and aws-sam-cli (pip install -r tools/requirements.txt)"
        ) from e
    return decode


def _decoded(template, matches, name) -> dict:
    if matches or not isinstance(template, dict):
        raise TemplateError(f"{name}: cannot decode: {[str(m) for m in matches or []]}")
    return template


# --------------------------------------------------------------------------- resolving

_NOVALUE = object()


class Resolver:
    """Resolves intrinsic functions textually: parameters take their default (or an override),
    resources become placeholders like "<GetAtt Role.Arn>", conditions are evaluated."""

    def __init__(self, template: dict, overrides: dict | None = None):
        self.template = template
        self.resources = template.get("Resources") or {}
        self.params: dict = {}
        overrides = overrides or {}
        for name, spec in (template.get("Parameters") or {}).items():
            value = overrides.get(name, spec.get("Default"))
            typ = str(spec.get("Type", "String"))
            if value is None:
                value = f"<{name}>"
            if typ == "CommaDelimitedList" or typ.startswith("List<"):
                value = value if isinstance(value, list) else [s.strip() for s in str(value).split(",")]
            else:
                value = str(value)
            self.params[name] = value
        self._conditions: dict = {}

    def ref(self, name: str):
        if name in self.params:
            return self.params[name]
        if name == "AWS::NoValue":
            return _NOVALUE
        if name in PSEUDO:
            return PSEUDO[name]
        return f"<Ref {name}>"

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = self._cond(conditions[name])
        return self._conditions[name]

    def _cond(self, node) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if fn == "Fn::Not":
                return not self._cond(arg[0])
            if fn == "Fn::And":
                return all(self._cond(a) for a in arg)
            if fn == "Fn::Or":
                return any(self._cond(a) for a in arg)
            if fn == "Condition":
                return self.condition(arg)
        if isinstance(node, bool):
            return node
        raise TemplateError(f"cannot evaluate condition {node!r}")

    def resolve(self, node):
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref":
                    return self.ref(arg)
                if key.startswith("Fn::"):
                    return self._fn(key, arg)
            out = {}
            for k, v in node.items():
                r = self.resolve(v)
                if r is not _NOVALUE:
                    out[str(k)] = r
            return out
        if isinstance(node, list):
            return [r for r in (self.resolve(v) for v in node) if r is not _NOVALUE]
        if isinstance(node, str):
            return str(node)
        return node

    def _fn(self, fn: str, arg):
        if fn == "Fn::Sub":
            return self._sub(arg)
        if fn == "Fn::Join":
            delim, items = arg[0], self.resolve(arg[1])
            if not isinstance(items, list):
                raise TemplateError(f"Fn::Join of a non-list {items!r}")
            return str(delim).join(self._scalar(i, "Fn::Join item") for i in _flatten(items))
        if fn == "Fn::Split":
            return self._scalar(self.resolve(arg[1]), "Fn::Split source").split(str(arg[0]))
        if fn == "Fn::Select":
            return self.resolve(arg[1])[int(self.resolve(arg[0]))]
        if fn == "Fn::If":
            return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        if fn == "Fn::GetAtt":
            target = ".".join(arg) if isinstance(arg, list) else str(arg)
            return f"<GetAtt {target}>"
        if fn == "Fn::ImportValue":
            return f"<ImportValue {self.resolve(arg)}>"
        if fn == "Fn::FindInMap":
            m, k1, k2 = (self.resolve(a) for a in arg[:3])
            return self.resolve(self.template["Mappings"][m][k1][k2])
        return f"<{fn}>"

    def _sub(self, arg) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in (arg[1] or {}).items()}
        else:
            text, variables = arg, {}

        def replace(m: re.Match) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif "." in name and name.split(".")[0] in self.resources:
                return f"<GetAtt {name}>"
            else:
                value = self.ref(name)
            return self._scalar(value, f"Fn::Sub variable {name}")

        return re.sub(r"\$\{([^}]*)\}", replace, str(text))

    @staticmethod
    def _scalar(value, what: str) -> str:
        if isinstance(value, (list, dict)) or value is _NOVALUE:
            raise TemplateError(f"{what} is not a string: {value!r}")
        return str(value)


def _flatten(items):
    for i in items:
        if isinstance(i, list):
            yield from _flatten(i)
        else:
            yield i


def _as_list(value) -> list:
    if value is None:
        return []
    return list(_flatten(value)) if isinstance(value, list) else [value]


# --------------------------------------------------------------------------- policies


class PolicyDoc:
    """One policy document: kind is "identity", "trust" or "resource"."""

    def __init__(self, where: str, kind: str, document):
        self.where, self.kind, self.document = where, kind, document

    def statements(self):
        stmts = self.document.get("Statement", []) if isinstance(self.document, dict) else []
        return stmts if isinstance(stmts, list) else [stmts]


def policy_documents(template: dict, resolver: Resolver) -> list[PolicyDoc]:
    docs: list[PolicyDoc] = []

    def add(where, kind, document):
        if document is not None:
            docs.append(PolicyDoc(where, kind, resolver.resolve(document)))

    def sam_policies(where, policies):
        for i, item in enumerate(_as_list(policies)):
            if isinstance(item, dict) and "Statement" in item:
                add(f"{where}.Policies[{i}]", "identity", item)

    globals_fn = ((template.get("Globals") or {}).get("Function") or {})
    sam_policies("Globals.Function", globals_fn.get("Policies"))
    for name, res in (template.get("Resources") or {}).items():
        typ = str(res.get("Type", ""))
        props = res.get("Properties") or {}
        if typ in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            if typ == "AWS::IAM::Role":
                add(f"{name}.AssumeRolePolicyDocument", "trust", props.get("AssumeRolePolicyDocument"))
            for i, p in enumerate(_as_list(props.get("Policies"))):
                add(f"{name}.Policies[{i}]", "identity", p.get("PolicyDocument"))
        elif typ in (
            "AWS::IAM::ManagedPolicy",
            "AWS::IAM::Policy",
            "AWS::IAM::RolePolicy",
            "AWS::IAM::UserPolicy",
            "AWS::IAM::GroupPolicy",
        ):
            add(f"{name}.PolicyDocument", "identity", props.get("PolicyDocument"))
        elif typ in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            sam_policies(name, props.get("Policies"))
        elif typ == "AWS::KMS::Key":
            add(f"{name}.KeyPolicy", "resource", props.get("KeyPolicy"))
        elif typ in ("AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::S3::BucketPolicy"):
            add(f"{name}.PolicyDocument", "resource", props.get("PolicyDocument"))
        elif typ == "AWS::SecretsManager::ResourcePolicy":
            add(f"{name}.ResourcePolicy", "resource", props.get("ResourcePolicy"))
        elif typ.startswith("Custom::") or typ == "AWS::CloudFormation::CustomResource":
            # Custom::TrustLink: the link role's inline policies are identity policies too.
            role = props.get("Role") if isinstance(props.get("Role"), dict) else {}
            for pname, p in (role.get("InlinePolicies") or {}).items():
                add(f"{name}.Role.InlinePolicies.{pname}", "identity", p)
    return docs


def allowed_paths(resolver: Resolver) -> tuple[list[str], str]:
    role_paths = resolver.params.get("RolePaths", resolver.params.get("RolePath", [DEFAULT_PATH]))
    policy_path = resolver.params.get("PolicyPath", DEFAULT_PATH)
    return _as_list(role_paths), str(policy_path)


def _is_path(p: str) -> bool:
    # A real sub-path: "/x/"...; "/" alone would cover every role or policy.
    return len(p) > 2 and p.startswith("/") and p.endswith("/") and "*" not in p and "?" not in p


def _under(resource: str, role_paths: list[str], policy_path: str) -> bool:
    m = re.fullmatch(r"arn:[^:]+:iam::[^:]*:(role|policy)(/.*)", resource)
    if not m:
        return False
    kind, path = m.groups()
    prefixes = role_paths if kind == "role" else [policy_path]
    return any(_is_path(p) and path.startswith(p) for p in prefixes)


def _action_name(action: str) -> tuple[str, str]:
    service, _, name = action.partition(":")
    return service.lower(), name


def _is_write(name: str) -> bool:
    static = re.split(r"[*?]", name, maxsplit=1)[0].lower()
    return not static.startswith(READ_PREFIXES)


def _matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def _conditions(stmt: dict):
    """(operator without set/IfExists decoration, if_exists, key lowercased, values)."""
    for op, kv in (stmt.get("Condition") or {}).items():
        if not isinstance(kv, dict):
            continue
        base = op.split(":", 1)[1] if op.startswith(("ForAnyValue:", "ForAllValues:")) else op
        if_exists = base.endswith("IfExists")
        base = base[: -len("IfExists")] if if_exists else base
        for key, values in kv.items():
            yield base, if_exists, key.lower(), [str(v).lower() for v in _as_list(values)]


def _has_policy_arn_condition(stmt: dict) -> bool:
    for op, if_exists, key, values in _conditions(stmt):
        if key != "iam:policyarn" or if_exists or not values:
            continue
        if op not in ("ArnEquals", "ArnLike", "StringEquals", "StringLike"):
            continue
        any_policy = [v for v in values if v == "*" or re.fullmatch(r"arn:[^:]*:iam::[^:]*:policy/\*", v)]
        if not any_policy:
            return True
    return False


def _has_trustlink_tag_condition(stmt: dict) -> bool:
    for op, if_exists, key, values in _conditions(stmt):
        if key not in TRUSTLINK_TAG_KEYS or if_exists or not values:
            continue
        if op == "Null" and values == ["false"]:
            return True
        if op in ("StringEquals", "StringLike") and "*" not in values:
            return True
    return False


def _is_user_action(name: str) -> bool:
    lowered = name.lower()
    if "policy" in lowered:  # attach/detach/put user policies: not exempted by a tag
        return False
    return bool(re.search(r"user|accesskey|loginprofile|sshpublickey|signingcertificate|servicespecificcredential", lowered))


def check_template(template: dict, name: str = "<template>", overrides: dict | None = None) -> list[str]:
    """Every violation of the least-privilege rules in one template, as readable lines."""
    resolver = Resolver(template, overrides)
    role_paths, policy_path = allowed_paths(resolver)
    problems: list[str] = []

    for doc in policy_documents(template, resolver):
        for index, stmt in enumerate(doc.statements()):
            if not isinstance(stmt, dict):
                continue
            label = f"{name}: {doc.where} statement {stmt.get('Sid', index)}"

            def report(rule: str, message: str):
                problems.append(f"{label}: [{rule}] {message}")

            if str(stmt.get("Effect", "")) != "Allow":
                continue
            actions = [str(a) for a in _as_list(stmt.get("Action"))]
            not_actions = [str(a) for a in _as_list(stmt.get("NotAction"))]
            resources = [str(r) for r in _as_list(stmt.get("Resource"))]

            # wildcard-action
            for a in actions + not_actions:
                if a == "*" or re.fullmatch(r"[A-Za-z0-9-]+:\*", a):
                    report("wildcard-action", f"action {a!r} grants a whole service (or everything)")
            if not_actions:
                report("wildcard-action", f"Allow with NotAction {not_actions} grants everything else")

            if doc.kind == "resource":
                principal = stmt.get("Principal")
                aws = principal.get("AWS") if isinstance(principal, dict) else principal
                if "*" in [str(p) for p in _as_list(aws)] and not stmt.get("Condition"):
                    report("public-principal", "Principal '*' without a Condition")
            if doc.kind != "identity":
                continue

            # resource-star
            if "NotResource" in stmt:
                report("resource-star", "Allow with NotResource")
            if "*" in resources:
                for a in actions:
                    if a.lower() not in RESOURCELESS_ACTIONS:
                        report("resource-star", f"{a} on Resource '*' (it supports resource-level permissions)")

            # attach-condition
            for a in actions:
                if _matches(a, "iam:AttachRolePolicy") and not _has_policy_arn_condition(stmt):
                    report("attach-condition", f"{a} without an iam:PolicyARN condition narrower than any policy")

            # iam-write-scope
            for a in actions:
                service, action_name = _action_name(a)
                if service != "iam" or not _is_write(action_name):
                    continue
                lowered = action_name.lower()
                if re.match(r"(attach|detach)", lowered) and _has_policy_arn_condition(stmt):
                    continue
                if (
                    _is_user_action(action_name)
                    and _has_trustlink_tag_condition(stmt)
                    and resources
                    and all(re.fullmatch(r"arn:[^:]+:iam::[^:]*:user/.*", r) for r in resources)
                ):
                    continue
                for r in resources or ["<no Resource>"]:
                    if not _under(r, role_paths, policy_path):
                        report(
                            "iam-write-scope",
                            f"IAM write {a} on {r}: not a role under {role_paths} nor a policy under "
                            f"{policy_path!r}, and not constrained by iam:PolicyARN or a trustlink:link tag",
                        )

    problems.extend(read_only_problems(template, resolver, name))

    # broad-managed
    for rname, res in (template.get("Resources") or {}).items():
        props = res.get("Properties") or {}
        arns = []
        if res.get("Type") == "AWS::IAM::Role":
            arns = _as_list(resolver.resolve(props.get("ManagedPolicyArns")))
        elif res.get("Type") == "AWS::Serverless::Function":
            arns = [p for p in _as_list(resolver.resolve(props.get("Policies"))) if isinstance(p, str)]
        for arn in arns:
            if str(arn).rsplit("/", 1)[-1] in BROAD_MANAGED_POLICIES:
                problems.append(f"{name}: {rname}: [broad-managed] managed policy {arn}")
    return problems


def read_only_documents(template: dict, resolver: Resolver, role: str) -> list[PolicyDoc]:
    """The identity policies that give `role` its permissions: its own and those naming it."""
    owners = {f"{role}.Policies["}
    for rname, res in (template.get("Resources") or {}).items():
        if res.get("Type") in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            roles = _as_list((res.get("Properties") or {}).get("Roles"))
            if {"Ref": role} in roles or role in roles:
                owners.add(f"{rname}.PolicyDocument")
    return [
        d for d in policy_documents(template, resolver)
        if d.kind == "identity" and any(d.where.startswith(o) for o in owners)
    ]


def read_only_problems(template: dict, resolver: Resolver, name: str) -> list[str]:
    problems: list[str] = []
    resources = template.get("Resources") or {}
    for role in READ_ONLY_ROLES:
        if role not in resources:
            continue
        props = resources[role].get("Properties") or {}
        if props.get("ManagedPolicyArns"):
            problems.append(f"{name}: {role}: [read-only-role] managed policy ARNs attached (unchecked permissions)")
        for doc in read_only_documents(template, resolver, role):
            for index, stmt in enumerate(doc.statements()):
                if not isinstance(stmt, dict) or str(stmt.get("Effect", "")) != "Allow":
                    continue
                label = f"{name}: {role} via {doc.where} statement {stmt.get('Sid', index)}: [read-only-role]"
                problems.extend(f"{label} {p}" for p in _read_only_statement(stmt))
    return problems


def _read_only_statement(stmt: dict) -> list[str]:
    out = []
    resources = [str(r) for r in _as_list(stmt.get("Resource"))]
    if stmt.get("NotAction") or stmt.get("NotResource"):
        out.append("NotAction/NotResource on a read-only role")
    for a in (str(a).lower() for a in _as_list(stmt.get("Action"))):
        if not any(fnmatch.fnmatchcase(a, p) for p in READ_ONLY_ACTIONS):
            out.append(f"{a} is not a read")
        elif a.startswith("secretsmanager:") and a != "secretsmanager:listsecrets":
            secret = re.escape(contract.SECRET_PREFIX)
            outside = [r for r in resources if not re.fullmatch(rf"arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:{secret}.*", r)]
            if outside:
                out.append(f"{a} on {outside}: secrets outside {SECRETS}")
        elif a == "sts:assumerole":
            loose = [r for r in resources if not re.fullmatch(r"arn:[^:]+:iam::[^:]*:role/[^*?]+", r)]
            if loose:
                out.append(f"sts:AssumeRole on {loose}: only named roles (no wildcard in the role name)")
        elif a.startswith("kms:") and not any(k == "kms:viaservice" for _, _, k, _ in _conditions(stmt)):
            out.append(f"{a} without a kms:ViaService condition")
    return out


# --------------------------------------------------------------------------- rotation queue

ROTATION_QUEUE = "RotationQueue"
# What the SQS event source mapping does with the function's role, and the planner's send.
QUEUE_CONSUMER_ACTIONS = {"sqs:receivemessage", "sqs:deletemessage", "sqs:changemessagevisibility", "sqs:getqueueattributes"}


def rotation_queue_problems(template: dict) -> list[str]:
    """The rotator's fan-out (docs/design.md): a FIFO queue with a dead-letter queue, the
    rotator's SQS event reporting batch item failures with a MaximumConcurrency parameter, the
    queue URL in its environment, and sqs: actions only on that queue (plus the on-failure
    destination's SendMessage)."""
    resources = template.get("Resources") or {}
    r = Resolver(template)
    out: list[str] = []
    queue = resources.get(ROTATION_QUEUE) or {}
    qp = queue.get("Properties") or {}
    if queue.get("Type") != "AWS::SQS::Queue" or qp.get("FifoQueue") is not True:
        out.append(f"{ROTATION_QUEUE}: not a FIFO queue (FifoQueue: true)")
    redrive = qp.get("RedrivePolicy") or {}
    dlq_ref = redrive.get("deadLetterTargetArn")
    dlq = dlq_ref.get("Fn::GetAtt") if isinstance(dlq_ref, dict) else None
    dlq_name = (dlq if isinstance(dlq, list) else str(dlq or "").split("."))[0]
    if not dlq_name or (resources.get(dlq_name) or {}).get("Type") != "AWS::SQS::Queue":
        out.append(f"{ROTATION_QUEUE}: no dead-letter queue in its RedrivePolicy")
    elif ((resources[dlq_name].get("Properties") or {}).get("FifoQueue")) is not True:
        out.append(f"{dlq_name}: a FIFO queue's dead-letter queue must be FIFO")
    if not str(redrive.get("maxReceiveCount", "")).isdigit():
        out.append(f"{ROTATION_QUEUE}: RedrivePolicy without a maxReceiveCount")
    fn = (resources.get("RotatorFunction") or {}).get("Properties") or {}
    events = [e.get("Properties") or {} for e in (fn.get("Events") or {}).values() if e.get("Type") == "SQS"]
    if [e.get("Queue") for e in events] != [{"Fn::GetAtt": [ROTATION_QUEUE, "Arn"]}]:
        out.append(f"RotatorFunction: not exactly one SQS event on {ROTATION_QUEUE}")
    for e in events:
        if e.get("FunctionResponseTypes") != ["ReportBatchItemFailures"]:
            out.append("RotatorFunction: the SQS event does not report batch item failures")
        concurrency = (e.get("ScalingConfig") or {}).get("MaximumConcurrency")
        param = (template.get("Parameters") or {}).get("RotationMaximumConcurrency") or {}
        if concurrency != {"Ref": "RotationMaximumConcurrency"} or int(param.get("MinValue", 0)) < 2:
            out.append("RotatorFunction: ScalingConfig.MaximumConcurrency is not the parameter RotationMaximumConcurrency (MinValue 2)")
    reserved = fn.get("ReservedConcurrentExecutions")
    if reserved is not None:
        out.append(f"RotatorFunction: ReservedConcurrentExecutions {reserved} would throttle the queue's workers")
    env = ((fn.get("Environment") or {}).get("Variables") or {}).get(QUEUE_URL)
    if env != {"Ref": ROTATION_QUEUE}:
        out.append(f"RotatorFunction: {QUEUE_URL} is not the URL of {ROTATION_QUEUE}")
    timeout = int(r.resolve(fn.get("Timeout", 3)))
    if int(qp.get("VisibilityTimeout", 30)) < 6 * timeout:
        out.append(f"{ROTATION_QUEUE}: VisibilityTimeout under six times the function's {timeout} s")
    out.extend(_sqs_grant_problems(template, r))
    return out


def _sqs_grant_problems(template: dict, r: Resolver) -> list[str]:
    queue_arn = f"<GetAtt {ROTATION_QUEUE}.Arn>"
    granted: set[str] = set()
    out: list[str] = []
    for doc in policy_documents(template, r):
        for stmt in doc.statements():
            if not isinstance(stmt, dict) or stmt.get("Effect") != "Allow":
                continue
            actions = {str(a).lower() for a in _as_list(stmt.get("Action")) if str(a).lower().startswith("sqs:")}
            resources = [str(x) for x in _as_list(stmt.get("Resource"))]
            if not actions:
                continue
            on_failure_queue = actions == {"sqs:sendmessage"} and resources == ["<GetAtt RotatorFailureQueue.Arn>"]
            if resources != [queue_arn] and not on_failure_queue:
                out.append(f"{doc.where} {stmt.get('Sid', '')}: sqs actions {sorted(actions)} on {resources}, not only {ROTATION_QUEUE}")
            if resources == [queue_arn] and doc.where.startswith("RotatorRole."):
                granted |= actions
    for need in sorted((QUEUE_CONSUMER_ACTIONS | {"sqs:sendmessage"}) - granted):
        out.append(f"RotatorRole: {need} on {ROTATION_QUEUE} is not granted")
    return out


# --------------------------------------------------------------------------- helpers for tests


def template_files() -> list[Path]:
    return sorted(p for p in INFRA.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))


def samconfig() -> dict:
    with open(SAMCONFIG, "rb") as f:
        return tomllib.load(f)


def samconfig_overrides(env: str = "default") -> dict:
    """parameter_overrides of `sam deploy` in samconfig.toml, as {name: value}."""
    raw = samconfig()[env]["deploy"]["parameters"].get("parameter_overrides", [])
    items = raw if isinstance(raw, list) else shlex.split(raw)
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key] = value
    return out


def run_tool(*args: str) -> subprocess.CompletedProcess:
    exe = BIN / args[0]
    if not exe.exists():
        raise AssertionError(f"{exe} not found: run with the Python that has cfn-lint and aws-sam-cli")
    env = dict(os.environ, SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION="us-east-1")
    return subprocess.run(
        [str(exe), *args[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


# --------------------------------------------------------------------------- tests


class TestLinters(unittest.TestCase):
    def test_cfn_lint_every_template(self):
        files = [_rel(p) for p in template_files()]
        self.assertIn("infra/template.yaml", files)
        self.assertIn("infra/member-account.yaml", files)
        self.assertTrue(any(f.startswith("infra/examples/") for f in files), files)
        proc = run_tool("cfn-lint", "--regions", "us-east-1", "--", *files)
        self.assertEqual(proc.returncode, 0, f"cfn-lint failed:\n{proc.stdout}\n{proc.stderr}")

    def test_sam_validate_lint(self):
        proc = run_tool("sam", "validate", "--lint", "--region", "us-east-1", "-t", "infra/template.yaml")
        self.assertEqual(proc.returncode, 0, f"sam validate failed:\n{proc.stdout}\n{proc.stderr}")


class TestLeastPrivilege(unittest.TestCase):
    def test_every_template_with_defaults(self):
        for path in template_files():
            with self.subTest(template=_rel(path)):
                problems = check_template(load_template(path), _rel(path))
                self.assertEqual(problems, [], "\n".join(problems))

    def test_templates_with_samconfig_overrides(self):
        overrides = samconfig_overrides()
        for path in (HUB_TEMPLATE, MEMBER_TEMPLATE):
            with self.subTest(template=_rel(path)):
                problems = check_template(load_template(path), _rel(path), overrides)
                self.assertEqual(problems, [], "\n".join(problems))

    def test_policies_found(self):
        # The walk must see the policies, or the rules above prove nothing.
        hub = load_template(HUB_TEMPLATE)
        where = {d.where for d in policy_documents(hub, Resolver(hub))}
        for expected in (
            "TrustLinkAccessPolicy.PolicyDocument",
            "TrustLinkRole.Policies[0]",
            "RotatorRole.Policies[0]",
            "SecretsKey.KeyPolicy",
        ):
            self.assertIn(expected, where)
        member = load_template(MEMBER_TEMPLATE)
        where = {d.where for d in policy_documents(member, Resolver(member))}
        self.assertIn("AdminRole.Policies[0]", where)
        # The read-only rule sees link-check's permissions, wherever they are written.
        hub_ro = {d.where for d in read_only_documents(hub, Resolver(hub), "LinkCheckRole")}
        self.assertEqual(hub_ro, {"LinkCheckRole.Policies[0]", "LinkCheckReadOnlyPolicy.PolicyDocument"})
        member_ro = {d.where for d in read_only_documents(member, Resolver(member), "AuditRole")}
        self.assertEqual(member_ro, {"AuditRole.Policies[0]"})

    def test_role_arn_lists_cover_every_role_path(self):
        hub = load_template(HUB_TEMPLATE)
        resolver = Resolver(hub, {"RolePaths": f"{DEFAULT_PATH},/cross-account/"})
        doc = next(d for d in policy_documents(hub, resolver) if d.where == "TrustLinkAccessPolicy.PolicyDocument")
        stmt = next(s for s in doc.statements() if s.get("Sid") == "ManageLinkRoles")
        self.assertEqual(
            stmt["Resource"], [f"arn:aws:iam::*:role{DEFAULT_PATH}*", "arn:aws:iam::*:role/cross-account/*"]
        )

    def test_member_iam_statements_equal_the_hub_ones(self):
        hub, member = load_template(HUB_TEMPLATE), load_template(MEMBER_TEMPLATE)
        hub_doc = next(
            d for d in policy_documents(hub, Resolver(hub)) if d.where == "TrustLinkAccessPolicy.PolicyDocument"
        )
        member_doc = next(
            d for d in policy_documents(member, Resolver(member)) if d.where == "AdminRole.Policies[0]"
        )
        hub_stmts = {s["Sid"]: s for s in hub_doc.statements()}
        member_stmts = {s["Sid"]: s for s in member_doc.statements()}
        hub_iam = {sid for sid, s in hub_stmts.items() if all(a.startswith("iam:") for a in _as_list(s["Action"]))}
        self.assertEqual(set(member_stmts), hub_iam)
        for sid, stmt in member_stmts.items():
            self.assertEqual(stmt, hub_stmts[sid], sid)


class TestContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = load_template(HUB_TEMPLATE)
        cls.r = Resolver(cls.hub)
        cls.res = cls.hub["Resources"]

    def fn(self, name):
        glob = (self.hub.get("Globals") or {}).get("Function") or {}
        props = dict(glob)
        props.update(self.res[name]["Properties"])
        # SAM merges a function's environment variables into the Globals' ones.
        own = (self.res[name]["Properties"].get("Environment") or {}).get("Variables") or {}
        shared = (glob.get("Environment") or {}).get("Variables") or {}
        props["Environment"] = {"Variables": {**shared, **own}}
        return self.r.resolve(props)

    def test_functions_build_and_runtime(self):
        for logical, binary, timeout in (("TrustLinkFunction", "trust-link", 300), ("RotatorFunction", "rotator", 900)):
            with self.subTest(function=logical):
                self.assertEqual(self.res[logical]["Type"], "AWS::Serverless::Function")
                self.assertEqual(
                    dict(self.res[logical]["Metadata"]),
                    # SAM 1.170 reads the binary only from BuildProperties.
                    {"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": binary}},
                )
                p = self.fn(logical)
                self.assertEqual(p["Runtime"], "provided.al2023")
                self.assertEqual(p["Architectures"], ["arm64"])
                self.assertEqual(p["Handler"], "bootstrap")
                self.assertTrue((HUB_TEMPLATE.parent / p["CodeUri"] / "Cargo.toml").is_file(), p["CodeUri"])
                self.assertEqual((HUB_TEMPLATE.parent / p["CodeUri"]).resolve(), ROOT)
                self.assertEqual(p["Timeout"], timeout)
                self.assertTrue(128 <= int(p["MemorySize"]) <= 256)
                self.assertEqual(p["LoggingConfig"]["LogFormat"], "JSON")
                group = self.res[p["LoggingConfig"]["LogGroup"].removeprefix("<Ref ").rstrip(">")]
                self.assertEqual(group["Properties"]["RetentionInDays"], {"Ref": "LogRetentionDays"})
                env = p["Environment"]["Variables"]
                for var in contract.settings("shared") + ["RUST_LOG"]:
                    self.assertIn(var, env)
                admin, policy_path = contract.setting("TRUSTLINK_ADMIN_ROLE_NAME"), contract.setting("TRUSTLINK_POLICY_PATH")
                self.assertEqual(env[admin], contract.setting_default(admin))
                self.assertEqual(env[contract.setting("TRUSTLINK_ROLE_PATHS")], DEFAULT_PATH)
                self.assertEqual(env[policy_path], contract.setting_default(policy_path))
        self.assertEqual(self.r.params["LogRetentionDays"], "90")

    def test_rotator_schedule_concurrency_and_failures(self):
        p = self.fn("RotatorFunction")
        # No reserved concurrency: it would throttle the queue's workers (test_rotation_queue).
        self.assertNotIn("ReservedConcurrentExecutions", p)
        schedules = [e for e in p["Events"].values() if e["Type"] in ("Schedule", "ScheduleV2")]
        self.assertEqual(len(schedules), 1)
        self.assertEqual(self.res["RotatorFunction"]["Properties"]["Events"]["Schedule"]["Properties"]["Schedule"],
                         {"Ref": "RotationSchedule"})
        self.assertEqual(self.r.params["RotationSchedule"], "rate(1 day)")
        on_failure = p["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
        self.assertEqual(on_failure["Type"], "SQS")
        self.assertEqual(self.res["RotatorFailureQueue"]["Type"], "AWS::SQS::Queue")
        alarm = self.r.resolve(self.res["RotatorErrorsAlarm"]["Properties"])
        self.assertEqual((alarm["Namespace"], alarm["MetricName"]), ("AWS/Lambda", "Errors"))
        self.assertEqual(alarm["Dimensions"], [{"Name": "FunctionName", "Value": "<Ref RotatorFunction>"}])
        self.assertEqual((alarm["Threshold"], alarm["EvaluationPeriods"]), (1, 1))
        self.assertEqual(alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold")
        self.assertNotIn("AlarmActions", alarm)  # AlarmTopicArn empty by default
        with_topic = Resolver(self.hub, {"AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:ops"})
        alarm = with_topic.resolve(self.res["RotatorErrorsAlarm"]["Properties"])
        self.assertEqual(alarm["AlarmActions"], ["arn:aws:sns:us-east-1:123456789012:ops"])
        # The failures alarm watches the metric the rotator writes (crates/rotator/src/metrics.rs).
        failures = self.r.resolve(self.res["RotatorFailuresAlarm"]["Properties"])
        self.assertEqual((failures["Namespace"], failures["MetricName"]), ("TrustLink/Rotator", "Failures"))
        self.assertEqual((failures["Threshold"], failures["ComparisonOperator"]), (1, "GreaterThanOrEqualToThreshold"))
        self.assertNotIn("Dimensions", failures)  # the rotator's metrics have none
        metrics_rs = (ROOT / "crates/rotator/src/metrics.rs").read_text()
        self.assertIn('pub const NAMESPACE: &str = "TrustLink/Rotator";', metrics_rs)
        self.assertIn('"Failures"', metrics_rs)

    def test_rotation_queue(self):
        self.assertEqual(rotation_queue_problems(self.hub), [])
        queue = self.r.resolve(self.res[ROTATION_QUEUE]["Properties"])
        self.assertEqual(queue["RedrivePolicy"]["deadLetterTargetArn"], "<GetAtt RotationDeadLetterQueue.Arn>")
        self.assertEqual(self.r.params["RotationMaximumConcurrency"], "5")

    def test_rotation_queue_checks_catch_mistakes(self):
        import copy

        def broken(edit) -> list[str]:
            t = copy.deepcopy(self.hub)
            edit(t["Resources"])
            return rotation_queue_problems(t)

        def fn(res):
            return res["RotatorFunction"]["Properties"]

        def sqs_event(res):
            return fn(res)["Events"]["RotationQueue"]["Properties"]

        def role_statements(res):
            return res["RotatorRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]

        cases = [
            (lambda res: res[ROTATION_QUEUE]["Properties"].pop("FifoQueue"), "not a FIFO queue"),
            (lambda res: res[ROTATION_QUEUE]["Properties"].pop("RedrivePolicy"), "no dead-letter queue"),
            (lambda res: res["RotationDeadLetterQueue"]["Properties"].pop("FifoQueue"), "must be FIFO"),
            (lambda res: sqs_event(res).pop("FunctionResponseTypes"), "batch item failures"),
            (lambda res: sqs_event(res)["ScalingConfig"].update(MaximumConcurrency=2), "MaximumConcurrency"),
            (lambda res: fn(res).update(ReservedConcurrentExecutions=1), "would throttle"),
            (lambda res: fn(res)["Environment"]["Variables"].pop(QUEUE_URL), QUEUE_URL),
            (lambda res: res[ROTATION_QUEUE]["Properties"].update(VisibilityTimeout=900), "VisibilityTimeout"),
            (lambda res: role_statements(res).append({"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}), "not only RotationQueue"),
            (lambda res: [s for s in role_statements(res) if s.get("Sid") == "ConsumeRotationQueue"][0]["Action"].remove("sqs:DeleteMessage"), "sqs:deletemessage"),
        ]
        for edit, fragment in cases:
            with self.subTest(fragment=fragment):
                problems = broken(edit)
                self.assertTrue(any(fragment in p for p in problems), problems)

    def test_service_token_export(self):
        out = self.hub["Outputs"]["TrustLinkServiceToken"]
        self.assertEqual(out["Export"]["Name"], "TrustLinkServiceToken")
        self.assertEqual(self.r.resolve(out["Value"]), "<GetAtt TrustLinkFunction.Arn>")

    def test_secrets_key(self):
        key = self.r.resolve(self.res["SecretsKey"]["Properties"])
        self.assertIs(key["EnableKeyRotation"], True)
        stmts = {s["Sid"]: s for s in key["KeyPolicy"]["Statement"]}
        consumers = stmts["ConsumersDecryptLinkSecretsThroughSecretsManager"]
        self.assertEqual(consumers["Action"], "kms:Decrypt")
        self.assertEqual(consumers["Condition"]["StringEquals"]["kms:ViaService"], "secretsmanager.us-east-1.amazonaws.com")
        self.assertEqual(
            consumers["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"],
            f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{SECRETS}",
        )
        org = Resolver(self.hub, {"SecretReaderOrgId": "o-abcdefghij"}).resolve(self.res["SecretsKey"]["Properties"])
        org_stmt = next(s for s in org["KeyPolicy"]["Statement"] if s["Sid"] == consumers["Sid"])
        self.assertEqual(org_stmt["Condition"]["StringEquals"]["aws:PrincipalOrgID"], "o-abcdefghij")
        functions = stmts["TrustLinkFunctionsUseKeyThroughSecretsManager"]
        self.assertEqual(
            sorted(functions["Principal"]["AWS"]), ["<GetAtt RotatorRole.Arn>", "<GetAtt TrustLinkRole.Arn>"]
        )

    def test_function_roles_are_predictable_and_outside_role_paths(self):
        for logical, name in (("TrustLinkRole", "trustlink-trust-link-us-east-1"), ("RotatorRole", "trustlink-rotator-us-east-1")):
            props = self.r.resolve(self.res[logical]["Properties"])
            self.assertEqual((props["Path"], props["RoleName"]), ("/trustlink-service/", name))
            arn = f"arn:aws:iam::123456789012:role{props['Path']}{props['RoleName']}"
            for paths in ([DEFAULT_PATH], samconfig_overrides()["RolePaths"].split(",")):
                self.assertFalse(_under(arn, paths, DEFAULT_PATH), (arn, paths))

    def test_member_role_trusts_only_the_hub_function_roles(self):
        member = load_template(MEMBER_TEMPLATE)
        r = Resolver(member, {"HubAccountId": PSEUDO["AWS::AccountId"], "HubRegion": PSEUDO["AWS::Region"]})
        role = r.resolve(member["Resources"]["AdminRole"]["Properties"])
        self.assertEqual(role["RoleName"], contract.ADMIN_ROLE_NAME)
        self.assertEqual(role["Path"], "/")
        (stmt,) = role["AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual(stmt["Principal"], {"AWS": "arn:aws:iam::123456789012:root"})
        self.assertEqual(stmt["Action"], "sts:AssumeRole")
        hub_role_arns = set()
        for logical in ("TrustLinkRole", "RotatorRole"):
            p = self.r.resolve(self.res[logical]["Properties"])
            hub_role_arns.add(f"arn:aws:iam::123456789012:role{p['Path']}{p['RoleName']}")
        self.assertEqual(set(stmt["Condition"]["ArnEquals"]["aws:PrincipalArn"]), hub_role_arns)
        self.assertIn("AdminRoleArn", member["Outputs"])
        # The hub assumes exactly this role name.
        hub_doc = next(
            d for d in policy_documents(self.hub, self.r) if d.where == "TrustLinkAccessPolicy.PolicyDocument"
        )
        assume = next(s for s in hub_doc.statements() if s.get("Sid") == "AssumeMemberAdminRole")
        self.assertEqual(assume["Resource"], f"arn:aws:iam::*:role/{contract.ADMIN_ROLE_NAME}")

    def test_link_check_function(self):
        self.assertEqual(
            dict(self.res["LinkCheckFunction"]["Metadata"]),
            {"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": "link-check"}},
        )
        p = self.fn("LinkCheckFunction")
        self.assertEqual((p["Runtime"], p["Architectures"], p["Timeout"]), ("provided.al2023", ["arm64"], 900))
        self.assertEqual(p["Role"], "<GetAtt LinkCheckRole.Arn>")
        self.assertEqual(p["LoggingConfig"], {"LogFormat": "JSON", "LogGroup": "<Ref LinkCheckLogGroup>"})
        env = p["Environment"]["Variables"]
        self.assertEqual(env[contract.setting("TRUSTLINK_READ_ROLE_NAME")], contract.AUDIT_ROLE_NAME)
        # A drill's setting only: never in a deployed function's environment.
        self.assertNotIn(contract.setting("TRUSTLINK_CLOCK_OFFSET_SECONDS"), env)
        unused = contract.setting("TRUSTLINK_UNUSED_DAYS")
        self.assertEqual(env[unused], str(contract.setting_default(unused)))
        self.assertIn(contract.setting("TRUSTLINK_AUDIT_ACCOUNTS"), env)
        schedules = {k: e["Properties"] for k, e in p["Events"].items() if e["Type"] == "Schedule"}
        # The plain scheduled event is the audit; the verify schedule sends the Verify command.
        self.assertEqual(set(schedules), {"Audit", "Verify"})
        self.assertNotIn("Input", schedules["Audit"])
        self.assertEqual(schedules["Verify"]["Input"], '{"Verify": {}}')
        rule = self.r.resolve(self.res["FailedAssumeRoleRule"]["Properties"])
        self.assertEqual(rule["State"], "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
        self.assertEqual(rule["EventPattern"]["detail"]["eventName"], ["AssumeRole"])
        self.assertEqual(rule["Targets"][0]["Arn"], "<GetAtt LinkCheckFunction.Arn>")
        perm = self.r.resolve(self.res["FailedAssumeRoleInvokePermission"]["Properties"])
        self.assertEqual((perm["Principal"], perm["SourceArn"]), ("events.amazonaws.com", "<GetAtt FailedAssumeRoleRule.Arn>"))
        # The alarms watch the metrics the Rust code writes (crates/link-check/src/metrics.rs).
        metrics_rs = (ROOT / "crates/link-check/src/metrics.rs").read_text()
        for alarm, metric in (("LinkCheckHighSeverityFindingsAlarm", "HighSeverityFindings"), ("LinkCheckFailedVerifiesAlarm", "FailedVerifies")):
            a = self.r.resolve(self.res[alarm]["Properties"])
            self.assertEqual((a["Namespace"], a["MetricName"]), ("TrustLink/LinkCheck", metric))
            self.assertEqual((a["Threshold"], a["ComparisonOperator"]), (1, "GreaterThanOrEqualToThreshold"))
            self.assertIn(f'"{metric}"', metrics_rs)
        self.assertIn('pub const NAMESPACE: &str = "TrustLink/LinkCheck";', metrics_rs)
        role = self.r.resolve(self.res["LinkCheckRole"]["Properties"])
        self.assertEqual((role["Path"], role["RoleName"]), ("/trustlink-service/", "trustlink-link-check-us-east-1"))
        self.assertFalse(_under("arn:aws:iam::123456789012:role/trustlink-service/x", [DEFAULT_PATH], DEFAULT_PATH))
        for events in ("aws.events", "Scheduled Event"):
            self.assertIn(events, (ROOT / "events/link-check/scheduled.json").read_text())

    def test_member_audit_role_and_forwarding(self):
        member = load_template(MEMBER_TEMPLATE)
        r = Resolver(member, {"HubAccountId": PSEUDO["AWS::AccountId"], "HubRegion": PSEUDO["AWS::Region"], "RolePaths": f"{DEFAULT_PATH},/cross-account/"})
        role = r.resolve(member["Resources"]["AuditRole"]["Properties"])
        self.assertEqual((role["RoleName"], role["Path"]), (contract.AUDIT_ROLE_NAME, "/"))
        (stmt,) = role["AssumeRolePolicyDocument"]["Statement"]
        p = self.r.resolve(self.res["LinkCheckRole"]["Properties"])
        self.assertEqual(
            stmt["Condition"]["ArnEquals"]["aws:PrincipalArn"], f"arn:aws:iam::123456789012:role{p['Path']}{p['RoleName']}"
        )
        hub_doc = next(d for d in read_only_documents(self.hub, self.r, "LinkCheckRole") if d.where.startswith("LinkCheckReadOnlyPolicy"))
        assume = next(s for s in hub_doc.statements() if s.get("Sid") == "AssumeMemberAuditRole")
        self.assertEqual(assume["Resource"], f"arn:aws:iam::*:role/{contract.AUDIT_ROLE_NAME}")
        rule = r.resolve(member["Resources"]["FailedAssumeRoleRule"]["Properties"])
        self.assertEqual(rule["State"], "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
        import json
        pattern = json.loads(rule["EventPattern"])
        self.assertEqual(pattern["detail"]["eventName"], ["AssumeRole"])
        self.assertEqual(pattern["detail"]["errorCode"], [{"exists": True}])
        self.assertEqual(
            pattern["detail"]["requestParameters"]["roleArn"],
            [{"wildcard": f"arn:aws:iam::*:role{DEFAULT_PATH}*"}, {"wildcard": "arn:aws:iam::*:role/cross-account/*"}],
        )
        (target,) = rule["Targets"]
        self.assertEqual(target["Arn"], "arn:aws:events:us-east-1:123456789012:event-bus/default")
        self.assertEqual(target["RoleArn"], "<GetAtt FailedAssumeRoleForwardRole.Arn>")

    def test_example_link(self):
        example = load_template(INFRA / "examples" / "classic-link.yaml")
        r = Resolver(example)
        (link,) = [v for v in example["Resources"].values() if v["Type"] == "Custom::TrustLink"]
        p = r.resolve(link["Properties"])
        self.assertEqual(p["ServiceToken"], "<ImportValue TrustLinkServiceToken>")
        self.assertEqual(p["LinkName"], "dev-cross-account")
        self.assertEqual(p["TrustingAccount"], "111122223333")
        self.assertEqual(p["Role"]["Name"], "CrossAccountDeveloperRole")
        self.assertEqual(p["Role"]["Path"], "/cross-account/")
        self.assertEqual(p["TrustedPrincipal"], "arn:aws:iam::444455556666:user/DevUser")
        self.assertEqual(p["TrustedSide"], {"Grant": True, "CreateUser": True, "AccessKey": True})
        rotation_defaults = {k.removeprefix("Rotation."): v for k, v in contract.DEFAULTS.items() if k.startswith("Rotation.")}
        self.assertEqual(p["Rotation"], rotation_defaults)
        self.assertEqual(set(p["Rotation"]), set(contract.CONTRACT["properties"]["Rotation"]))
        # Every output reads a GetAtt key of the contract, under its own name.
        self.assertEqual(set(example["Outputs"]), {"RoleArn", "ExternalIdSecretArn", "AccessKeySecretArn"})
        for out, spec in example["Outputs"].items():
            attribute = spec["Value"]["Fn::GetAtt"][1]
            self.assertEqual(attribute, out)
            self.assertIn(attribute, contract.GET_ATT)
        # The deployed hub may create the role: its path is one of samconfig's RolePaths.
        self.assertIn(p["Role"]["Path"], samconfig_overrides()["RolePaths"].split(","))
        for arn in p["Role"]["ManagedPolicyArns"]:
            allow = samconfig_overrides()["ManagedPolicyAllowList"].split(",")
            self.assertTrue(any(fnmatch.fnmatchcase(arn, a) for a in allow), arn)

    def test_samconfig(self):
        cfg = samconfig()["default"]
        self.assertEqual(cfg["global"]["parameters"]["stack_name"], "trustlink")
        self.assertEqual(cfg["global"]["parameters"]["region"], "us-east-1")
        self.assertEqual(cfg["build"]["parameters"]["template_file"], "infra/template.yaml")
        deploy = cfg["deploy"]["parameters"]
        self.assertEqual(deploy["capabilities"], "CAPABILITY_NAMED_IAM")
        self.assertIs(deploy["resolve_s3"], True)
        self.assertNotIn("template_file", deploy)  # deploy uses the built template
        params = set((self.hub.get("Parameters") or {}))
        self.assertLessEqual(set(samconfig_overrides()), params)
        self.assertEqual(samconfig_overrides()["RotationSchedule"], "rate(1 day)")


BAD_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  RolePath:
    Type: String
    Default: {role_path}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{ Service: lambda.amazonaws.com }}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: p
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
{statements}
"""

READ_ONLY_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  LinkCheckRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{ Service: lambda.amazonaws.com }}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: p
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
{statements}
{managed}
"""


def bad(statement_yaml: str, role_path: str = DEFAULT_PATH) -> list[str]:
    body = "\n".join("              " + line for line in statement_yaml.strip("\n").splitlines())
    return check_template(load_template_str(BAD_TEMPLATE.format(statements=body, role_path=role_path)), "bad")


class TestCheckerCatchesBadTemplates(unittest.TestCase):
    def assertReported(self, problems: list[str], rule: str, *fragments: str):
        hits = [p for p in problems if f"[{rule}]" in p and all(f in p for f in fragments)]
        self.assertTrue(hits, f"expected [{rule}] {fragments} in:\n" + "\n".join(problems))

    def test_star_action(self):
        self.assertReported(bad("- {Effect: Allow, Action: '*', Resource: '*'}"), "wildcard-action", "'*'")

    def test_service_wildcard(self):
        problems = bad("- {Effect: Allow, Action: 'iam:*', Resource: 'arn:aws:iam::*:role/trustlink/*'}")
        self.assertReported(problems, "wildcard-action", "iam:*")

    def test_service_wildcard_in_a_list_and_in_a_key_policy(self):
        self.assertReported(
            bad("- {Effect: Allow, Action: [s3:GetObject, 'secretsmanager:*'], Resource: 'arn:aws:s3:::b/*'}"),
            "wildcard-action",
            "secretsmanager:*",
        )
        key = load_template_str(
            """
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}, Action: "kms:*", Resource: "*"}
          - {Effect: Allow, Principal: {AWS: "*"}, Action: kms:Decrypt, Resource: "*"}
"""
        )
        problems = check_template(key, "key")
        self.assertReported(problems, "wildcard-action", "kms:*")
        self.assertReported(problems, "public-principal")
        self.assertFalse([p for p in problems if "[resource-star]" in p], problems)

    def test_not_action(self):
        self.assertReported(bad("- {Effect: Allow, NotAction: iam:CreateUser, Resource: '*'}"), "wildcard-action", "NotAction")

    def test_attach_role_policy_without_condition(self):
        problems = bad("- {Effect: Allow, Action: iam:AttachRolePolicy, Resource: 'arn:aws:iam::*:role/trustlink/*'}")
        self.assertReported(problems, "attach-condition", "iam:AttachRolePolicy")

    def test_attach_through_a_wildcard_or_with_an_any_policy_condition(self):
        self.assertReported(
            bad("- {Effect: Allow, Action: 'iam:Attach*', Resource: 'arn:aws:iam::*:role/trustlink/*'}"),
            "attach-condition",
            "iam:Attach*",
        )
        problems = bad(
            """
- Effect: Allow
  Action: iam:AttachRolePolicy
  Resource: arn:aws:iam::*:role/*
  Condition: {ArnLike: {iam:PolicyARN: "arn:aws:iam::*:policy/*"}}
"""
        )
        self.assertReported(problems, "attach-condition")
        self.assertReported(problems, "iam-write-scope", "arn:aws:iam::*:role/*")

    def test_create_role_on_every_role(self):
        problems = bad("- {Effect: Allow, Action: iam:CreateRole, Resource: 'arn:aws:iam::*:role/*'}")
        self.assertReported(problems, "iam-write-scope", "iam:CreateRole", "role/*")

    def test_paths_resolved_through_sub_and_join(self):
        # RolePath "/" resolves to role/* : every role.
        problems = bad(
            "- {Effect: Allow, Action: iam:PutRolePolicy, Resource: !Sub 'arn:${AWS::Partition}:iam::*:role${RolePath}*'}",
            role_path="/",
        )
        self.assertReported(problems, "iam-write-scope", "iam:PutRolePolicy", "arn:aws:iam::*:role/*")
        problems = bad(
            "- {Effect: Allow, Action: iam:DeleteRole, Resource: !Join ['', ['arn:aws:iam::*:role', '/trustlink', '*']]}"
        )
        self.assertReported(problems, "iam-write-scope", "iam:DeleteRole", "role/trustlink*")
        # ... and the same statements pass under a real path.
        self.assertEqual(
            bad("- {Effect: Allow, Action: iam:PutRolePolicy, Resource: !Sub 'arn:aws:iam::*:role${RolePath}*'}"), []
        )

    def test_user_writes_need_the_trustlink_tag(self):
        problems = bad("- {Effect: Allow, Action: iam:CreateAccessKey, Resource: 'arn:aws:iam::*:user/*'}")
        self.assertReported(problems, "iam-write-scope", "iam:CreateAccessKey")
        problems = bad(
            """
- Effect: Allow
  Action: iam:DeleteUser
  Resource: arn:aws:iam::*:user/*
  Condition: {StringLikeIfExists: {iam:ResourceTag/trustlink:link: "*"}}
"""
        )
        self.assertReported(problems, "iam-write-scope", "iam:DeleteUser")
        problems = bad(
            """
- Effect: Allow
  Action: iam:AttachUserPolicy
  Resource: arn:aws:iam::*:user/*
  Condition: {"Null": {iam:ResourceTag/trustlink:link: "false"}}
"""
        )
        self.assertReported(problems, "iam-write-scope", "iam:AttachUserPolicy")

    def test_resource_star_for_an_action_with_resource_level_permissions(self):
        self.assertReported(bad("- {Effect: Allow, Action: s3:GetObject, Resource: '*'}"), "resource-star", "s3:GetObject")

    def test_broad_managed_policy(self):
        template = load_template_str(
            """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
      ManagedPolicyArns: [!Sub "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess"]
"""
        )
        self.assertReported(check_template(template, "t"), "broad-managed", "AdministratorAccess")

    def test_sam_function_inline_policies_and_if(self):
        template = load_template_str(
            """
Transform: AWS::Serverless-2016-10-31
Conditions:
  Never: !Equals [a, b]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      CodeUri: .
      Policies:
        - AWSLambdaBasicExecutionRole
        - Statement:
            - Effect: Allow
              Action: !If [Never, sts:GetCallerIdentity, "iam:*"]
              Resource: "*"
"""
        )
        self.assertReported(check_template(template, "t"), "wildcard-action", "iam:*")

    def test_read_only_role(self):
        def template(statements: str, managed: str = "") -> list[str]:
            body = "\n".join("              " + line for line in statements.strip("\n").splitlines())
            text = READ_ONLY_TEMPLATE.format(statements=body, managed=managed)
            return [p for p in check_template(load_template_str(text), "ro") if "[read-only-role]" in p]

        good = """
- {Effect: Allow, Action: [iam:GetRole, iam:ListRoles], Resource: "arn:aws:iam::*:role/*"}
- {Effect: Allow, Action: secretsmanager:GetSecretValue, Resource: "arn:aws:secretsmanager:us-east-1:123456789012:secret:trustlink/*"}
- {Effect: Allow, Action: sts:AssumeRole, Resource: "arn:aws:iam::*:role/TrustLinkAudit"}
- {Effect: Allow, Action: kms:Decrypt, Resource: "arn:aws:kms:us-east-1:123456789012:key/k", Condition: {StringEquals: {kms:ViaService: secretsmanager.us-east-1.amazonaws.com}}}
"""
        self.assertEqual(template(good), [])
        for statement, fragment in (
            ("- {Effect: Allow, Action: iam:UpdateAssumeRolePolicy, Resource: 'arn:aws:iam::*:role/trustlink/*'}", "iam:updateassumerolepolicy is not a read"),
            ("- {Effect: Allow, Action: secretsmanager:GetSecretValue, Resource: '*'}", f"secrets outside {SECRETS}"),
            ("- {Effect: Allow, Action: sts:AssumeRole, Resource: 'arn:aws:iam::*:role/*'}", "only named roles"),
            ("- {Effect: Allow, Action: kms:Decrypt, Resource: 'arn:aws:kms:us-east-1:123456789012:key/k'}", "kms:ViaService"),
            ("- {Effect: Allow, Action: 'iam:*', Resource: 'arn:aws:iam::*:role/*'}", "iam:* is not a read"),
        ):
            with self.subTest(statement=statement):
                self.assertReported(template(statement), "read-only-role", fragment)
        # A write granted through a managed policy that names the role is caught too.
        managed = """
  Extra:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      Roles: [!Ref LinkCheckRole]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Action: iam:PutRolePolicy, Resource: "arn:aws:iam::*:role/trustlink/*"}
"""
        self.assertReported(template(good, managed), "read-only-role", "Extra.PolicyDocument", "iam:putrolepolicy")

    def test_a_good_template_passes(self):
        problems = bad(
            """
- Effect: Allow
  Action: [iam:CreateRole, iam:DeleteRole, iam:PutRolePolicy]
  Resource: !Sub arn:aws:iam::*:role${RolePath}*
- Effect: Allow
  Action: [iam:AttachRolePolicy, iam:DetachRolePolicy, iam:AttachUserPolicy]
  Resource: [arn:aws:iam::*:role/*, arn:aws:iam::*:user/*]
  Condition: {ArnLike: {iam:PolicyARN: arn:aws:iam::*:policy/trustlink/*}}
- Effect: Allow
  Action: [iam:CreateUser, iam:TagUser]
  Resource: arn:aws:iam::*:user/*
  Condition: {"Null": {aws:RequestTag/trustlink:link: "false"}}
- Effect: Allow
  Action: [iam:CreateAccessKey, iam:DeleteAccessKey]
  Resource: arn:aws:iam::*:user/*
  Condition: {"Null": {iam:ResourceTag/trustlink:link: "false"}}
- {Effect: Allow, Action: [iam:GetRole, iam:ListAccessKeys], Resource: "arn:aws:iam::*:role/*"}
- {Effect: Allow, Action: sts:GetCallerIdentity, Resource: "*"}
- {Effect: Deny, Action: "iam:*", Resource: "*"}
"""
        )
        self.assertEqual(problems, [])


if __name__ == "__main__":
    unittest.main()
