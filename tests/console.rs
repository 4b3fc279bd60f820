//! The console in a real headless Chromium against the real router on 127.0.0.1 and
//! DynamoDB Local: signing in and out, the dashboard, filtering the lead log, a lead
//! acknowledged from its page, a rep marked away and skipped by the next lead, a rule edit
//! with its mistake shown at its path, publish and rollback, a viewer who cannot publish,
//! forms without this session's CSRF token refused, and a rep's own away link, which works
//! and expires. Screenshots of every page go to target/screenshots/.

mod common;

use serde_json::{json, Value};

use common::browser::{serve, Page};
use common::{Harness, ACK_KEY, ADMIN_KEY, EXAMPLE_CONFIG, VIEWER_KEY};
use leadrouter::domain::notify::rep_token;

async fn seeded() -> Harness {
    let h = Harness::example().await;
    for i in 0..8 {
        let mut lead = json!({"email": format!("p{i}@acme{i}.com"), "first_name": format!("Pat{i}"), "last_name": "Lee",
                          "company": format!("Acme {i}"), "employees": "12", "country": "US"});
        if i == 3 {
            // A full demo request: the lead's page shows all it said.
            let more = json!({"title": "Head of RevOps", "website": "https://acme3.com", "product": "Platform",
                              "city": "New York", "region": "NY", "utm_source": "google", "utm_campaign": "q4",
                              "message": "Twelve reps, two regions.\nCould we see a demo on Tuesday?"});
            lead.as_object_mut()
                .unwrap()
                .extend(more.as_object().unwrap().clone());
        }
        h.route(lead).await;
    }
    h
}

/// Posts a small-business lead from inside the test runtime; its owner and reason.
fn smb_lead(h: &Harness, rt: &tokio::runtime::Handle, email: &str) -> (String, String) {
    let reply =
        rt.block_on(h.post_lead(json!({"email": email, "employees": "12", "country": "US"})));
    (
        reply.owner().to_string(),
        reply.body["reason"].as_str().unwrap_or("").to_string(),
    )
}

fn sign_in(p: &Page, key: &str) {
    p.open("/console/sign-in");
    p.fill("#key", key).click("button[type=submit]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_works_the_console_end_to_end() {
    let h = std::sync::Arc::new(seeded().await);
    let base = serve(h.router.clone()).await;
    let rt = tokio::runtime::Handle::current();
    let hb = h.clone();
    tokio::task::spawn_blocking(move || {
        let h = hb;
        let p = Page::launch(&base, false);
        // Signing in.
        p.open("/console");
        assert!(p.url().ends_with("/console/sign-in"), "{}", p.url());
        p.screenshot("sign-in");
        p.fill("#key", "lra_wrong").click("button[type=submit]");
        assert!(p.text().contains("That key is not valid"), "{}", p.text());
        sign_in(&p, ADMIN_KEY);
        let dashboard = p.text();
        assert!(dashboard.contains("Dashboard") && dashboard.contains("8\nleads (0 spam)"), "{dashboard}");
        assert!(dashboard.contains("Fairness"));
        p.screenshot("dashboard");
        // Filtering the lead log.
        p.open("/console/leads");
        p.screenshot("leads");
        p.fill("#q", "acme3").click("form.filters button[type=submit]");
        let rows = p.eval("document.querySelectorAll('tbody tr').length");
        assert_eq!(rows, json!(1), "{}", p.text());
        assert!(p.text().contains("Pat3 Lee"));
        // A lead's page, acknowledged.
        p.click("tbody a");
        assert!(p.text().contains("Why") && p.text().contains("Rule 'smb'"), "{}", p.text());
        let said = p.eval("[...document.querySelectorAll('.card')].find(c => c.querySelector('h2')?.textContent == 'What they said')?.innerText");
        let said = said.as_str().unwrap_or_default();
        for shown in ["Head of RevOps", "acme3.com", "Platform", "New York, NY", "campaign: q4 · source: google",
                      "Twelve reps, two regions.\nCould we see a demo on Tuesday?"] {
            assert!(said.contains(shown), "{shown:?} not in {said:?}");
        }
        p.screenshot("lead");
        p.click("form[action$='/ack'] button");
        assert!(p.text().contains("Acknowledged."), "{}", p.text());
        assert!(p.text().contains("acknowledged"));
        // A rep marked away: the next lead skips them.
        p.open("/console/reps");
        p.screenshot("reps");
        p.eval("document.querySelector('form[action=\"/console/reps/sam\"]').closest('details').open = true");
        p.set("form[action='/console/reps/sam'] input[name=until]", "2026-11-24T18:00");
        p.click("form[action='/console/reps/sam'] button[value=away]");
        assert!(p.text().contains("Saved"), "{}", p.text());
        assert!(p.text().contains("out of office"), "{}", p.text());
        for i in 0..4 {
            let (owner, reason) = smb_lead(&h, &rt, &format!("away{i}@acme.com"));
            assert_ne!(owner, "sam", "{reason}");
            assert!(reason.contains("Sam Ortiz (out of office"), "{reason}");
        }
        // A rule edit with a mistake: shown at its path, nothing published.
        p.open("/console/rules");
        p.screenshot("rules");
        let broken = EXAMPLE_CONFIG.replace("route: {pool: product-a}", "route: {pool: product-z}");
        p.set("#document", &broken);
        p.click("button[value=check]");
        let text = p.text();
        assert!(text.contains("1 mistake(s); nothing was published"), "{text}");
        assert!(text.contains("rules[4].route.pool"), "{text}");
        p.screenshot("rules-error");
        // A good edit, published with a message; then rolled back.
        let edited = EXAMPLE_CONFIG.replace("reps: [dana, drew]", "reps: [dana, drew, nina]");
        p.set("#document", &edited);
        p.fill("#message", "Nina joins the inbound team");
        p.click("button[value=publish]");
        let text = p.text();
        assert!(text.contains("Published"), "{text}");
        assert!(text.contains("Nina joins the inbound team"), "{text}");
        assert!(text.contains("pool 'default' members +nina"), "{text}");
        p.click("a[href='/console/rules?diff=3']");
        assert!(p.text().contains("~ pool 'default': members +nina"), "{}", p.text());
        p.screenshot("rules-diff");
        p.click("form.inline button[value=rollback]");
        assert!(p.text().contains("Rolled back"), "{}", p.text());
        let active: Value = rt.block_on(h.get("/admin/config", ADMIN_KEY)).body;
        assert_eq!(active["version"], 4);
        assert_eq!(active["rollback_of"], 2);
        // Keys, accounts, notifications.
        p.open("/console/keys");
        p.fill("#name", "Robin (sales ops)");
        p.set("#role", "editor");
        p.click("form.card button[type=submit]");
        assert!(p.text().contains("is shown once"), "{}", p.text());
        assert!(p.eval("document.querySelector('.shown-once').innerText").as_str().unwrap().starts_with("lre_"));
        p.screenshot("keys");
        p.open("/console/accounts");
        p.set("#csv", "id,name,domains,owner,tier,list\na1,Acme,acme.com,erin,,\nbad,,,,,\n");
        p.click("form.card button[type=submit]");
        assert!(p.text().contains("nothing was stored"), "{}", p.text());
        p.screenshot("accounts");
        // The example config's channels have no URL here, so every notification fails: half
        // a day of sweeps leaves them dead and listed; one is retried from the page.
        for _ in 0..12 {
            h.clock.advance(3601);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            rt.block_on(h.app.sweep(deadline)).unwrap();
        }
        sign_in(&p, ADMIN_KEY);
        p.open("/console/notifications");
        p.screenshot("notifications");
        let first = |name: &str| {
            let js = format!("document.querySelector('tbody input[name={name}]').value");
            p.eval(&js).as_str().unwrap().to_string()
        };
        let (lead, event, channel) = (first("lead"), first("event"), first("channel"));
        let listed = rt.block_on(h.app.store().dead_list(1000)).unwrap();
        p.click("tbody form button");
        assert!(p.text().contains("Back in the outbox"), "{}", p.text());
        let dead = rt.block_on(h.app.store().dead_list(1000)).unwrap();
        let retried = |d: &&leadrouter::store::DeadNotification| {
            (&d.lead_id, &d.event_id, &d.channel) == (&lead, &event, &channel)
        };
        assert!(!dead.iter().any(|d| retried(&d)), "{channel}");
        // Only that channel of that event left the list.
        assert_eq!(dead.len(), listed.len() - 1);
        // Signing out ends the session.
        p.click("header form button");
        assert!(p.url().ends_with("/console/sign-in"));
        p.open("/console/leads");
        assert!(p.url().ends_with("/console/sign-in"), "{}", p.url());
    })
    .await
    .unwrap();
    let audit = h.get("/admin/audit", ADMIN_KEY).await.body;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions[..4],
        [
            "key_created",
            "config_rolled_back",
            "config_published",
            "availability_changed"
        ],
        "{actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_viewer_cannot_publish_and_forms_need_the_sessions_csrf_token() {
    let h = seeded().await;
    let base = serve(h.router.clone()).await;
    let lead = h
        .post_lead(json!({"email": "csrf@acme.com", "employees": "12"}))
        .await;
    let lead_id = lead.body["lead_id"].as_str().unwrap().to_string();
    let id = lead_id.clone();
    tokio::task::spawn_blocking(move || {
        let lead_id = id;
        let p = Page::launch(&base, true);
        sign_in(&p, VIEWER_KEY);
        assert!(p.text().contains("Dashboard"));
        p.screenshot("dashboard-phone");
        p.open("/console/rules");
        assert_eq!(p.eval("document.querySelector('#document') === null"), json!(true), "no editor for a viewer");
        assert!(!p.text().contains("Keys"), "no keys for a viewer");
        // Even with the session's own token, publishing is refused.
        let publish = format!(
            "var f = new URLSearchParams(); f.set('csrf', document.querySelector('input[name=csrf]').value); f.set('action', 'publish'); f.set('base_version', '1'); f.set('document', {});
             var x = new XMLHttpRequest(); x.open('POST', '/console/rules', false); x.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded'); x.send(f.toString()); x.status",
            serde_json::to_string(EXAMPLE_CONFIG).unwrap()
        );
        assert_eq!(p.eval(&publish), json!(403));
        // An admin's forms without this session's token are refused.
        sign_in(&p, ADMIN_KEY);
        p.open(&format!("/console/leads/{lead_id}"));
        for token in ["", "f00d"] {
            let js = format!(
                "var x = new XMLHttpRequest(); x.open('POST', '/console/leads/{lead_id}/close', false); x.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded'); x.send('csrf={token}'); x.status"
            );
            assert_eq!(p.eval(&js), json!(403), "token {token:?}");
        }
        assert!(p.text().contains("open"), "the lead is still open");
    })
    .await
    .unwrap();
    let stored = h.get(&format!("/leads/{lead_id}"), ADMIN_KEY).await.body;
    assert_eq!(stored["status"], "open");
    assert_eq!(h.get("/admin/config", ADMIN_KEY).await.body["version"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reps_own_away_link_works_and_expires() {
    let h = std::sync::Arc::new(seeded().await);
    let base = serve(h.router.clone()).await;
    let rt = tokio::runtime::Handle::current();
    let now = h.app.now().as_second();
    let token = rep_token(ACK_KEY, "sara", now + 3600);
    let expired = rep_token(ACK_KEY, "sara", now - 1);
    let hb = h.clone();
    tokio::task::spawn_blocking(move || {
        let h = hb;
        let p = Page::launch(&base, true);
        p.open(&format!("/me/sara?t={token}"));
        let text = p.text();
        assert!(text.contains("Hello, Sara Lind"), "{text}");
        assert!(text.contains("Your open leads (2)"), "{text}");
        p.screenshot("rep-page");
        // Each open lead has its own page: who, what they said, why her.
        p.click("a[href*='/leads/']");
        let lead = p.text();
        assert!(
            lead.contains("Why you")
                && lead.contains("What they said")
                && lead.contains("Employees"),
            "{lead}"
        );
        p.screenshot("rep-lead");
        p.click("a[href^='/me/sara?']");
        p.click("a.button");
        p.screenshot("rep-away");
        p.press("input#h2");
        p.click("button[type=submit]");
        assert!(p.text().contains("You are marked away"), "{}", p.text());
        for i in 0..3 {
            let (owner, _) = smb_lead(&h, &rt, &format!("rep{i}@acme.com"));
            assert_ne!(owner, "sara");
        }
        // Acknowledging one of her own leads from her page.
        p.click("form[action*='/ack/'] button");
        assert!(
            p.text().contains("Acknowledged: it is yours."),
            "{}",
            p.text()
        );
        assert!(p.text().contains("Your open leads (1)"), "{}", p.text());
        p.click("form[action$='/back'] button");
        assert!(p.text().contains("Welcome back"), "{}", p.text());
        // Another rep's page and an expired link are refused.
        p.open(&format!("/me/sam?t={token}"));
        assert!(p.text().contains("Link expired"), "{}", p.text());
        p.open(&format!("/me/sara/away?t={expired}"));
        assert!(p.text().contains("Link expired"), "{}", p.text());
        // A notification's acknowledge link: the page names the lead before the rep decides.
        let reply = rt.block_on(h.post_lead(json!({
            "email": "ada@lovelace.io", "first_name": "Ada", "last_name": "Byron",
            "company": "Analytical Engines", "employees": "12", "country": "US",
            "message": "We have twelve reps.\nCould we see a demo?"
        })));
        let id = reply.body["lead_id"].as_str().unwrap().to_string();
        let owner = reply.owner().to_string();
        let ack = leadrouter::domain::notify::ack_token(ACK_KEY, &id, 1);
        p.open(&format!("/leads/{id}/ack?token={ack}"));
        assert!(
            p.text().contains("Ada Byron at Analytical Engines"),
            "{}",
            p.text()
        );
        assert!(
            p.text()
                .contains("We have twelve reps.\nCould we see a demo?"),
            "{}",
            p.text()
        );
        p.screenshot("ack");
        p.click("button[type=submit]");
        assert!(p.text().contains("the lead is yours"), "{}", p.text());
        // Its owner's own page for it says the same; another rep's link shows nothing of it.
        let mine = rep_token(ACK_KEY, &owner, now + 3600);
        p.open(&format!("/me/{owner}/leads/{id}?t={mine}"));
        let text = p.text();
        assert!(
            text.contains("Could we see a demo?") && text.contains("It is acknowledged."),
            "{text}"
        );
        let other = if owner == "sam" { "sara" } else { "sam" };
        let theirs = rep_token(ACK_KEY, other, now + 3600);
        p.open(&format!("/me/{other}/leads/{id}?t={theirs}"));
        let text = p.text();
        assert!(
            text.contains("Not your lead") && !text.contains("Ada"),
            "{text}"
        );
    })
    .await
    .unwrap();
    let audit = h.get("/admin/audit", ADMIN_KEY).await.body;
    let by: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["actor"]["name"].as_str())
        .collect();
    assert_eq!(by[..2], ["sara (own link)", "sara (own link)"], "{by:?}");
}
