//! Who may do what: the role a key carries and the permissions each role grants. Every
//! endpoint names one permission; the HTTP edge checks it before the handler runs. Pure data:
//! nothing here authenticates anyone.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a key's holder is allowed to do, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An integration that submits leads (a web form, a chat tool): intake only.
    Source,
    /// Reads leads, the routing report and the config; changes nothing.
    Viewer,
    /// A CRM or workflow tool: reads leads and works them (acknowledge, close, outcomes).
    Integration,
    /// Changes routing: config, availability, accounts, manual reassignment; works leads.
    Editor,
    /// Everything, including keys.
    Admin,
}

/// One thing an endpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// `POST /leads`.
    SubmitLeads,
    /// The lead log, one lead, CSV export.
    ReadLeads,
    /// The routing report, fairness ledger, metrics, the config and accounts as stored.
    ReadReports,
    /// Acknowledge, close, record an outcome.
    WorkLeads,
    /// Publish a config, load accounts, change availability, reassign by hand.
    EditRouting,
    /// Create, list and revoke keys.
    ManageKeys,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 5] = [
        Role::Source,
        Role::Viewer,
        Role::Integration,
        Role::Editor,
        Role::Admin,
    ];

    /// Whether a key with this role may do `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Source => permission == SubmitLeads,
            Role::Viewer => matches!(permission, ReadLeads | ReadReports),
            Role::Integration => matches!(permission, ReadLeads | WorkLeads),
            Role::Editor => matches!(
                permission,
                ReadLeads | ReadReports | WorkLeads | EditRouting
            ),
            Role::Admin => permission != SubmitLeads,
        }
    }

    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Source => "source",
            Role::Viewer => "viewer",
            Role::Integration => "integration",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// The readable prefix of a generated key of this role (`lrs_`, `lra_`, ...).
    pub fn key_prefix(self) -> &'static str {
        match self {
            Role::Source => "lrs",
            Role::Viewer => "lrv",
            Role::Integration => "lri",
            Role::Editor => "lre",
            Role::Admin => "lra",
        }
    }
}

/// Who did something: a key's name and role, or the command-line tool (whose user holds AWS
/// credentials for the table, so acts as an admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The key's name (`ops`, `hubspot`), or `cli:<user>`.
    pub name: String,
    /// The key's role.
    pub role: Role,
}

impl Actor {
    /// The command-line tool, run by the local user.
    pub fn cli() -> Self {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Self {
            name: format!("cli:{user}"),
            role: Role::Admin,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Permission {
    /// What the permission lets a key do, for a refusal's sentence.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::SubmitLeads => "submit leads",
            Permission::ReadLeads => "read leads",
            Permission::ReadReports => "read reports and the routing config",
            Permission::WorkLeads => "acknowledge, close or record outcomes of leads",
            Permission::EditRouting => "change routing (config, accounts, availability)",
            Permission::ManageKeys => "manage keys",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Permission::*;
    use super::*;

    #[test]
    fn each_role_grants_exactly_its_permissions() {
        let all = [
            SubmitLeads,
            ReadLeads,
            ReadReports,
            WorkLeads,
            EditRouting,
            ManageKeys,
        ];
        let granted = |role: Role| -> Vec<Permission> {
            all.iter().copied().filter(|p| role.allows(*p)).collect()
        };
        assert_eq!(granted(Role::Source), [SubmitLeads]);
        assert_eq!(granted(Role::Viewer), [ReadLeads, ReadReports]);
        assert_eq!(granted(Role::Integration), [ReadLeads, WorkLeads]);
        assert_eq!(
            granted(Role::Editor),
            [ReadLeads, ReadReports, WorkLeads, EditRouting]
        );
        assert_eq!(
            granted(Role::Admin),
            [ReadLeads, ReadReports, WorkLeads, EditRouting, ManageKeys]
        );
    }

    #[test]
    fn roles_read_back_as_stored() {
        for role in Role::ALL {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
        }
    }
}
