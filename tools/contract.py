"""The names of trustlink's contract, read from docs/contract.json (the one machine-readable
copy, checked against the Rust code by crates/trustlink-domain/tests/contract.rs), for the
Python tools: they never spell a secret name, field, tag key, setting or GetAtt key themselves."""

import json
from pathlib import Path

CONTRACT = json.loads((Path(__file__).resolve().parent.parent / "docs/contract.json").read_text())

ADMIN_ROLE_NAME = CONTRACT["environment"]["shared"]["TRUSTLINK_ADMIN_ROLE_NAME"]
# The members' read-only role link-check assumes (the template's AuditRoleName default).
AUDIT_ROLE_NAME = CONTRACT["environment"]["link-check"]["TRUSTLINK_READ_ROLE_NAME"]
GET_ATT = CONTRACT["get_att"]
STAGES = CONTRACT["secrets"]["stages"]
TAGS = CONTRACT["tags"]
DEFAULTS = CONTRACT["defaults"]
SECRET_PREFIX = CONTRACT["secrets"]["prefix"]


def secret_name(link):
    """`trustlink/<LinkName>`: the external ID."""
    return CONTRACT["secrets"]["external_id_name"].replace("<LinkName>", link)


def key_secret_name(link):
    """`trustlink/<LinkName>/access-key`: the managed access key."""
    return CONTRACT["secrets"]["access_key_name"].replace("<LinkName>", link)


def grant_policy_name(link):
    return CONTRACT["grant_policy_name"].replace("<LinkName>", link)


def field(name):
    """A field of a link's secrets, refused unless the contract has it."""
    fields = CONTRACT["secrets"]["external_id_fields"] + CONTRACT["secrets"]["access_key_fields"]
    if name not in fields:
        raise KeyError(f"{name} is not a field of the link secrets (docs/contract.json)")
    return name


def setting(name):
    """A setting's environment variable, refused unless the contract has it."""
    for group in CONTRACT["environment"].values():
        if name in group:
            return name
    raise KeyError(f"{name} is not a trustlink setting (docs/contract.json)")


def setting_default(name):
    """A setting's default (None: unset unless the deployer sets it)."""
    for group in CONTRACT["environment"].values():
        if name in group:
            return group[name]
    raise KeyError(f"{name} is not a trustlink setting (docs/contract.json)")


def settings(function="shared"):
    """The environment variables of `function` (`shared`, `rotator`, `link-check`)."""
    return list(CONTRACT["environment"][function])
