//! Accounts and contacts ([`AccountStore`]): accounts by id and by each of their domains
//! (a copy per domain, so matching a lead is one batch read), and contacts by email.

use std::collections::HashMap;

use async_trait::async_trait;

use super::keys::{self, Key};
use super::{applied, classify, decode, encode, get_n, get_s, s, DynamoStore, Item};
use crate::domain::account::Account;
use crate::store::{AccountLoad, AccountStore, Contact, StoreResult};

#[async_trait]
impl AccountStore for DynamoStore {
    async fn put_accounts(&self, accounts: &[Account]) -> StoreResult<AccountLoad> {
        let keys = accounts.iter().map(|a| Key::account(&a.id)).collect();
        let stored: HashMap<String, Account> = self
            .batch_get(keys, true)
            .await?
            .iter()
            .filter_map(|item| decode::<Account>(item, "account").ok())
            .map(|a| (a.id.clone(), a))
            .collect();
        let mut report = AccountLoad {
            accounts: accounts.len(),
            ..AccountLoad::default()
        };
        let mut writes = Vec::new();
        for account in accounts {
            let before = stored.get(&account.id);
            if before == Some(account) {
                report.unchanged += 1;
                continue;
            }
            // Domains the account no longer lists stop matching it (unless another took them).
            for old in before.map(|b| b.domains.as_slice()).unwrap_or_default() {
                if account.domains.contains(old) {
                    continue;
                }
                let removed = self
                    .delete(&Key::domain(old))
                    .condition_expression("account_id = :id")
                    .expression_attribute_values(":id", s(&account.id))
                    .send()
                    .await;
                if applied(removed.map_err(classify))? {
                    report.domains_removed += 1;
                }
            }
            writes.push(account_item(account)?);
            for domain in &account.domains {
                writes.push(domain_item(domain, account)?);
            }
            report.written += 1;
        }
        self.batch_put(writes).await?;
        Ok(report)
    }

    async fn accounts_by_domain(
        &self,
        domains: &[String],
    ) -> StoreResult<HashMap<String, Account>> {
        let keys = domains.iter().map(|d| Key::domain(d)).collect();
        let mut found = HashMap::new();
        for item in self.batch_get(keys, false).await? {
            let pk = get_s(&item, "pk").unwrap_or_default();
            let domain = keys::domain_of(&pk).unwrap_or_default().to_string();
            found.insert(domain, decode(&item, "account")?);
        }
        Ok(found)
    }

    async fn account(&self, id: &str) -> StoreResult<Option<Account>> {
        let item = self.get(&Key::account(id)).await?;
        item.map(|i| decode(&i, "account")).transpose()
    }

    async fn contact(&self, key: &str) -> StoreResult<Option<Contact>> {
        let item = self.get(&Key::contact(key)).await?;
        Ok(item.map(|i| Contact {
            key: key.to_string(),
            lead_id: get_s(&i, "lead_id").unwrap_or_default(),
            first_seen_at: get_s(&i, "first_seen_at").unwrap_or_default(),
            leads: get_n(&i, "leads").unwrap_or(0).max(0) as u64,
        }))
    }
}

fn account_item(account: &Account) -> StoreResult<Item> {
    let mut item = Key::account(&account.id).item();
    item.insert("account".into(), encode(account)?);
    Ok(item)
}

fn domain_item(domain: &str, account: &Account) -> StoreResult<Item> {
    let mut item = Key::domain(domain).item();
    item.insert("account_id".into(), s(&account.id));
    item.insert("account".into(), encode(account)?);
    Ok(item)
}
