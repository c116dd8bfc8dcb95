//! Every ARN trustlink builds, in one place. The partition (`aws`, `aws-cn`, `aws-us-gov`) is
//! never spelled here: it comes from an ARN already held (the trusted principal's, the invoked
//! function's, the caller identity's, a role's) or from the region, so a link in China or
//! GovCloud gets ARNs IAM there accepts.

use std::fmt;

use crate::rules::AccountId;

/// An AWS partition: the first field of every ARN in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Partition {
    /// The commercial regions: what an ARN-less input (a bare account id, a request without
    /// a `ServiceToken`) is taken to mean, as the AWS CLI and SDKs do.
    #[default]
    Aws,
    /// The China regions (`cn-*`).
    AwsCn,
    /// AWS GovCloud (US) (`us-gov-*`).
    AwsUsGov,
}

impl Partition {
    pub const ALL: [Partition; 3] = [Self::Aws, Self::AwsCn, Self::AwsUsGov];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::AwsCn => "aws-cn",
            Self::AwsUsGov => "aws-us-gov",
        }
    }

    /// The partition named `name` (an ARN's second field); `None` for an unknown one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The partition of any ARN (`arn:<partition>:<service>:...`); `None` when `arn` is not
    /// one or its partition is unknown.
    pub fn of_arn(arn: &str) -> Option<Self> {
        let mut parts = arn.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("arn"), Some(partition), Some(_)) => Self::parse(partition),
            _ => None,
        }
    }

    /// The partition of a region: `cn-*` is China, `us-gov-*` GovCloud, the rest commercial.
    pub fn of_region(region: &str) -> Self {
        if region.starts_with("cn-") {
            Self::AwsCn
        } else if region.starts_with("us-gov-") {
            Self::AwsUsGov
        } else {
            Self::Aws
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `arn:<p>:iam::<account>:root`, the whole account as a principal.
pub fn account_root(partition: Partition, account: &AccountId) -> String {
    format!("arn:{partition}:iam::{account}:root")
}

/// `arn:<p>:iam::<account>:role<path><name>` (`path` starts and ends with `/`).
pub fn role(partition: Partition, account: &AccountId, path: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:role{path}{name}")
}

/// `arn:<p>:iam::<account>:user<path><name>`.
pub fn user(partition: Partition, account: &AccountId, path: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:user{path}{name}")
}

/// A customer managed policy, such as a link's grant: `arn:<p>:iam::<account>:policy<path><name>`.
pub fn policy(partition: Partition, account: &AccountId, path: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:policy{path}{name}")
}

/// What every AWS managed policy's ARN starts with: `arn:<p>:iam::aws:policy/`.
pub fn aws_managed_policy_prefix(partition: Partition) -> String {
    format!("arn:{partition}:iam::aws:policy/")
}

/// The AWS managed policy `name` (`AdministratorAccess`, `job-function/ViewOnlyAccess`).
pub fn aws_managed_policy(partition: Partition, name: &str) -> String {
    format!("{}{name}", aws_managed_policy_prefix(partition))
}

/// Whether `arn` is an AWS managed policy, in any partition.
pub fn is_aws_managed_policy(arn: &str) -> bool {
    Partition::of_arn(arn).is_some_and(|p| arn.starts_with(&aws_managed_policy_prefix(p)))
}

/// The session `session` of role `role_name`, as STS names it:
/// `arn:<p>:sts::<account>:assumed-role/<name>/<session>` (the role's path is not in it).
pub fn assumed_role(
    partition: Partition,
    account: &AccountId,
    role_name: &str,
    session: &str,
) -> String {
    format!("arn:{partition}:sts::{account}:assumed-role/{role_name}/{session}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct() -> AccountId {
        AccountId::parse("a", "444455556666").unwrap()
    }

    #[test]
    fn partitions_come_from_arns_and_regions() {
        for p in Partition::ALL {
            let arn = role(p, &acct(), "/x/", "R");
            assert_eq!(Partition::of_arn(&arn), Some(p), "{arn}");
            assert_eq!(Partition::parse(p.as_str()), Some(p));
        }
        assert_eq!(
            Partition::of_arn("arn:aws-cn:lambda:cn-north-1:444455556666:function:f"),
            Some(Partition::AwsCn)
        );
        assert_eq!(Partition::of_arn("arn:azure:iam::1:root"), None);
        assert_eq!(Partition::of_arn("444455556666"), None);
        assert_eq!(Partition::of_region("cn-northwest-1"), Partition::AwsCn);
        assert_eq!(Partition::of_region("us-gov-west-1"), Partition::AwsUsGov);
        assert_eq!(Partition::of_region("eu-west-1"), Partition::Aws);
    }

    #[test]
    fn every_arn_carries_the_partition_given() {
        let gov = Partition::AwsUsGov;
        assert_eq!(
            account_root(gov, &acct()),
            "arn:aws-us-gov:iam::444455556666:root"
        );
        assert_eq!(
            user(gov, &acct(), "/", "U"),
            "arn:aws-us-gov:iam::444455556666:user/U"
        );
        assert_eq!(
            policy(Partition::AwsCn, &acct(), "/trustlink/", "TrustLink-l"),
            "arn:aws-cn:iam::444455556666:policy/trustlink/TrustLink-l"
        );
        assert_eq!(
            assumed_role(Partition::AwsCn, &acct(), "R", "s"),
            "arn:aws-cn:sts::444455556666:assumed-role/R/s"
        );
        assert_eq!(
            aws_managed_policy(gov, "AdministratorAccess"),
            "arn:aws-us-gov:iam::aws:policy/AdministratorAccess"
        );
        assert!(is_aws_managed_policy(
            "arn:aws-cn:iam::aws:policy/ReadOnlyAccess"
        ));
        assert!(!is_aws_managed_policy(
            "arn:aws-cn:iam::444455556666:policy/ReadOnlyAccess"
        ));
    }
}
