//! The operations of the ports, one name per port method, so that tools keyed on an
//! operation (the fault injector, call logs) are checked by the compiler, not by a list
//! kept by hand.

/// Declares [`Op`], its names and [`Op::ALL`] from one list, so they cannot drift apart.
macro_rules! ops {
    ($($port:literal: [$($variant:ident => $name:literal),* $(,)?])*) => {
        /// One port method. [`Op::as_str`] is the method's name (`"create_role"`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Op {
            $($($variant,)*)*
        }

        impl Op {
            /// Every operation, in the order the ports declare them.
            pub const ALL: &'static [Op] = &[$($(Op::$variant,)*)*];

            /// The port method's name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($(Op::$variant => $name,)*)*
                }
            }

            /// The port (trait) the method belongs to.
            pub const fn port(self) -> &'static str {
                match self {
                    $($(Op::$variant => $port,)*)*
                }
            }
        }
    };
}

ops! {
    "Roles": [
        CreateRole => "create_role",
        GetRole => "get_role",
        UpdateTrustPolicy => "update_trust_policy",
        UpdateRole => "update_role",
        SetPermissionsBoundary => "set_permissions_boundary",
        TagRole => "tag_role",
        UntagRole => "untag_role",
        DeleteRole => "delete_role",
        AttachRolePolicy => "attach_role_policy",
        DetachRolePolicy => "detach_role_policy",
        ListAttachedRolePolicies => "list_attached_role_policies",
        PutRolePolicy => "put_role_policy",
        GetRolePolicy => "get_role_policy",
        DeleteRolePolicy => "delete_role_policy",
        ListRolePolicies => "list_role_policies",
    ]
    "Policies": [
        CreatePolicy => "create_policy",
        PolicyExists => "policy_exists",
        GetPolicyDocument => "get_policy_document",
        SetPolicyDocument => "set_policy_document",
        DeletePolicy => "delete_policy",
    ]
    "Users": [
        CreateUser => "create_user",
        GetUser => "get_user",
        DeleteUser => "delete_user",
        AttachUserPolicy => "attach_user_policy",
        DetachUserPolicy => "detach_user_policy",
        ListAttachedUserPolicies => "list_attached_user_policies",
    ]
    "AccessKeys": [
        CreateAccessKey => "create_access_key",
        ListAccessKeys => "list_access_keys",
        SetAccessKeyStatus => "set_access_key_status",
        DeleteAccessKey => "delete_access_key",
        AccessKeyLastUsed => "access_key_last_used",
    ]
    "Secrets": [
        CreateSecret => "create_secret",
        DescribeSecret => "describe_secret",
        GetSecretValue => "get_secret_value",
        PutSecretValue => "put_secret_value",
        MoveStage => "move_stage",
        RemoveStage => "remove_stage",
        PutResourcePolicy => "put_resource_policy",
        GetResourcePolicy => "get_resource_policy",
        TagSecret => "tag_secret",
        DeleteSecret => "delete_secret",
        RestoreSecret => "restore_secret",
        ListSecrets => "list_secrets",
    ]
    "Sts": [
        CallerIdentity => "caller_identity",
        AssumeRole => "assume_role",
    ]
    "Inventory": [
        ListRoles => "list_roles",
        RoleUsage => "role_usage",
        ListUsers => "list_users",
        ListUserPolicies => "list_user_policies",
        GetUserPolicy => "get_user_policy",
        ListGroupsForUser => "list_groups_for_user",
        ListGroupPolicies => "list_group_policies",
        GetGroupPolicy => "get_group_policy",
        ListAttachedGroupPolicies => "list_attached_group_policies",
        ListLocalPolicies => "list_local_policies",
    ]
    "Queue": [
        SendMessageBatch => "send_message_batch",
    ]
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_method_names() {
        let mut names: Vec<&str> = Op::ALL.iter().map(|op| op.as_str()).collect();
        assert!(names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Op::ALL.len());
    }

    #[test]
    fn every_port_is_listed() {
        let mut ports: Vec<&str> = Op::ALL.iter().map(|op| op.port()).collect();
        ports.dedup();
        assert_eq!(
            ports,
            [
                "Roles",
                "Policies",
                "Users",
                "AccessKeys",
                "Secrets",
                "Sts",
                "Inventory",
                "Queue"
            ]
        );
        assert_eq!(Op::CreateRole.to_string(), "create_role");
    }
}
