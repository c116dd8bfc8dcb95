"""Every AWS operation a function's code can call is granted to that function's role.

The adapters in crates/trustlink-aws label each SDK call with its IAM action
(`map_sdk("iam:CreateRole")`); a function calls a port method by name (`.create_role(`). From
the source this script derives, per binary, the actions its code can reach, and checks each one
against the hub template (`infra/template.yaml`: the function's role, its inline policies and the
managed policies attached to it) and, for IAM, against the member-account role the function
assumes there (`infra/member-account.yaml`). Run: `.venv/bin/python -m unittest tools.check_operations -v`.
"""

import re
import unittest
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = ROOT / "crates/trustlink-aws/src"
HUB = ROOT / "infra/template.yaml"
MEMBER = ROOT / "infra/member-account.yaml"
# Which member-account role each binary works through (docs/design.md, Functions).
MEMBER_ROLE = {"trust-link": "AdminRole", "rotator": "AdminRole", "link-check": "AuditRole"}
# Every function reaches other accounts through AssumeRole and learns its own with STS.
ALWAYS = {"sts:AssumeRole"}


class _Loader(yaml.SafeLoader):
    """CloudFormation's short tags (!Ref, !Sub, !GetAtt ...) read as plain values."""


def _any_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        return {"Fn::" + suffix: value} if suffix != "Ref" else {"Ref": value}
    if isinstance(node, yaml.SequenceNode):
        return {"Fn::" + suffix: loader.construct_sequence(node, deep=True)}
    return {"Fn::" + suffix: loader.construct_mapping(node, deep=True)}


_Loader.add_multi_constructor("!", _any_tag)


def load(path):
    return yaml.load(Path(path).read_text(), Loader=_Loader)


def adapter_labels():
    """Port method name -> the IAM actions its adapter body labels, with those of the
    adapter's helper functions it calls."""
    own, calls = {}, {}
    for source in sorted(ADAPTERS.glob("*.rs")):
        text = source.read_text()
        parts = re.split(r"\n\s*(?:pub(?:\([a-z]+\))?\s+)?(?:async\s+)?fn\s+(\w+)", text)
        for name, body in zip(parts[1::2], parts[2::2]):
            own.setdefault(name, set()).update(
                re.findall(r'map_sdk\("([a-z0-9-]+:[A-Za-z]+)"\)', body)
            )
            calls.setdefault(name, set()).update(re.findall(r"\b(\w+)\(", body))
    labels = {}
    for name in own:
        seen, todo, found = set(), [name], set()
        while todo:
            fn = todo.pop()
            if fn in seen or fn not in own:
                continue
            seen.add(fn)
            found |= own[fn]
            todo.extend(calls.get(fn, ()))
        if found:
            labels[name] = found
    return labels


def function_crates():
    """Binary name -> its crate's source directory (from the `[[bin]]` tables)."""
    crates = {}
    for manifest in sorted((ROOT / "crates").glob("*/Cargo.toml")):
        text = manifest.read_text()
        for block in re.findall(r"\[\[bin\]\](.*?)(?=\n\[|\Z)", text, re.S):
            name = re.search(r'name\s*=\s*"([^"]+)"', block)
            if name:
                crates[name.group(1)] = manifest.parent / "src"
    return crates


def operations(src, labels):
    """The IAM actions the code under `src` can call through the ports."""
    calls = set()
    for source in src.rglob("*.rs"):
        calls.update(re.findall(r"\.(\w+)\(", source.read_text()))
    ops = set(ALWAYS)
    for method in calls & set(labels):
        ops.update(labels[method])
    return ops


def _actions(statement):
    if statement.get("Effect") != "Allow":
        return set()
    action = statement.get("Action", [])
    return set([action] if isinstance(action, str) else action)


def _documents_of(template, role):
    resources = template.get("Resources", {})
    props = resources[role].get("Properties", {})
    for policy in props.get("Policies", []):
        yield policy.get("PolicyDocument", {})
    for res in resources.values():
        if res.get("Type") not in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            continue
        roles = res.get("Properties", {}).get("Roles", [])
        if {"Ref": role} in roles:
            yield res["Properties"].get("PolicyDocument", {})


def granted(template, role):
    """Every action an Allow statement grants to `role` in `template`."""
    actions = set()
    for document in _documents_of(template, role):
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            actions |= _actions(statement)
    return actions


def function_roles(template):
    """Binary name -> the logical id of its execution role."""
    roles = {}
    for res in template.get("Resources", {}).values():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        binary = res.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        role = res.get("Properties", {}).get("Role", {})
        if binary and isinstance(role, dict) and "Fn::GetAtt" in role:
            roles[binary] = str(role["Fn::GetAtt"]).split(".")[0]
    return roles


def missing(hub, member):
    """(binary, where, action) for every operation not granted."""
    labels = adapter_labels()
    roles = function_roles(hub)
    gaps = []
    for binary, src in function_crates().items():
        ops = operations(src, labels)
        role = roles.get(binary)
        if role is None:
            gaps.append((binary, "infra/template.yaml", "(no function with this binary)"))
            continue
        for op in sorted(ops - granted(hub, role)):
            gaps.append((binary, f"infra/template.yaml {role}", op))
        member_role = MEMBER_ROLE.get(binary)
        if member_role is None:
            continue
        in_member = {op for op in ops if op.startswith("iam:")}
        for op in sorted(in_member - granted(member, member_role)):
            gaps.append((binary, f"infra/member-account.yaml {member_role}", op))
    return gaps


class OperationsAreGranted(unittest.TestCase):
    def test_every_operation_a_function_calls_is_granted(self):
        gaps = missing(load(HUB), load(MEMBER))
        self.assertEqual(gaps, [], "operations the code calls that the templates do not grant")

    def test_the_derivation_sees_operations(self):
        labels = adapter_labels()
        self.assertIn("iam:CreateRole", labels.get("create_role", set()))
        ops = operations(function_crates()["trust-link"], labels)
        self.assertTrue({"iam:CreateRole", "secretsmanager:CreateSecret"} <= ops, ops)

    def test_a_missing_grant_is_found(self):
        hub = load(HUB)
        for res in hub["Resources"].values():
            if res.get("Type") == "AWS::IAM::ManagedPolicy":
                for st in res["Properties"]["PolicyDocument"]["Statement"]:
                    acts = st.get("Action", [])
                    if isinstance(acts, list) and "iam:CreateRole" in acts:
                        acts.remove("iam:CreateRole")
                    elif acts == "iam:CreateRole":
                        st["Action"] = []
        gaps = missing(hub, load(MEMBER))
        self.assertIn("iam:CreateRole", [g[2] for g in gaps if g[0] == "trust-link"])


if __name__ == "__main__":
    unittest.main()
