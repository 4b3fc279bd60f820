//! A real headless Chromium (the Debian package `chromium`, which scripts/test.sh installs)
//! driven over the DevTools protocol (the `headless_chrome` crate) against the real router
//! served on 127.0.0.1, for the console's browser tests. Screenshots go to
//! target/screenshots/.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use headless_chrome::protocol::cdp::Emulation;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};

/// Where Chromium is, if installed.
pub fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Serves `router` on a free local port; its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// A browser with one tab.
pub struct Page {
    _browser: Browser,
    pub tab: Arc<Tab>,
    pub base: String,
    phone: bool,
}

impl Page {
    /// Launches Chromium headless, phone-sized when `phone`.
    pub fn launch(base: &str, phone: bool) -> Page {
        let path = chromium().expect(
            "Chromium is not installed: scripts/test.sh installs the Debian package `chromium`",
        );
        let args: Vec<&OsStr> = [
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ]
        .iter()
        .map(OsStr::new)
        .collect();
        let options = LaunchOptions::default_builder()
            .path(Some(path))
            .sandbox(false)
            .window_size(Some(if phone { (390, 844) } else { (1280, 900) }))
            .idle_browser_timeout(Duration::from_secs(120))
            .args(args)
            .build()
            .expect("launch options");
        let browser = Browser::new(options).expect("Chromium starts");
        let tab = browser.new_tab().expect("a tab");
        tab.set_default_timeout(Duration::from_secs(20));
        Page {
            _browser: browser,
            tab,
            base: base.to_string(),
            phone,
        }
    }

    /// Opens `path` and waits for it.
    pub fn open(&self, path: &str) -> &Self {
        self.tab
            .navigate_to(&format!("{}{path}", self.base))
            .and_then(|t| t.wait_until_navigated())
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
        self
    }

    /// Types `text` into the field `selector`.
    pub fn fill(&self, selector: &str, text: &str) -> &Self {
        let field = self
            .tab
            .wait_for_element(selector)
            .unwrap_or_else(|e| panic!("no {selector}: {e}"));
        field.click().expect("focus");
        // Replace what is there: select all, then type.
        let _ = field.call_js_fn("function () { this.value = ''; }", vec![], false);
        self.tab.type_str(text).expect("type");
        self
    }

    /// Sets a field's value directly (a textarea with a whole document, a select).
    pub fn set(&self, selector: &str, value: &str) -> &Self {
        let field = self
            .tab
            .wait_for_element(selector)
            .unwrap_or_else(|e| panic!("no {selector}: {e}"));
        let js = format!(
            "function () {{ this.value = {}; this.dispatchEvent(new Event('change')); }}",
            serde_json::to_string(value).unwrap()
        );
        field.call_js_fn(&js, vec![], false).expect("set value");
        self
    }

    /// Clicks `selector` (a link or a form's button) and waits for the page it leads to: a new
    /// document, fully loaded (a mark left on the old one is gone), however slow the machine.
    pub fn click(&self, selector: &str) -> &Self {
        self.eval("window.__leadrouter_old_page = true");
        self.press(selector);
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            let loaded = self.eval(
                "window.__leadrouter_old_page === undefined && document.readyState === 'complete'",
            );
            if loaded == serde_json::Value::Bool(true) {
                return self;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("clicking {selector} led to no new page within 30 s");
    }

    /// Clicks `selector` where nothing navigates (a radio button, a checkbox).
    pub fn press(&self, selector: &str) -> &Self {
        self.tab
            .wait_for_element(selector)
            .unwrap_or_else(|e| panic!("no {selector}: {e}"))
            .click()
            .unwrap_or_else(|e| panic!("click {selector}: {e}"));
        self
    }

    /// The page's visible text.
    pub fn text(&self) -> String {
        self.tab
            .wait_for_element("body")
            .and_then(|b| b.get_inner_text())
            .unwrap_or_default()
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.tab.get_url()
    }

    /// Saves a full-page screenshot as target/screenshots/<name>.png; its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let size = |js: &str| self.eval(js).as_u64().unwrap_or(800) as u32;
        let (width, height) = (
            size("document.documentElement.clientWidth"),
            size("document.documentElement.scrollHeight").min(6000),
        );
        let _ = self.tab.call_method(Emulation::SetDeviceMetricsOverride {
            width,
            height,
            device_scale_factor: 1.0,
            mobile: self.phone,
            scale: None,
            screen_width: None,
            screen_height: None,
            position_x: None,
            position_y: None,
            dont_set_visible_size: None,
            screen_orientation: None,
            viewport: None,
            display_feature: None,
            device_posture: None,
        });
        let png = self
            .tab
            .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
            .expect("screenshot");
        let _ = self
            .tab
            .call_method(Emulation::ClearDeviceMetricsOverride(None));
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Runs JavaScript in the page; its value as JSON.
    pub fn eval(&self, js: &str) -> serde_json::Value {
        self.tab
            .evaluate(js, false)
            .ok()
            .and_then(|r| r.value)
            .unwrap_or(serde_json::Value::Null)
    }
}

impl Page {
    /// Runs JavaScript that returns a promise; the value it settles to, as JSON.
    pub fn eval_async(&self, js: &str) -> serde_json::Value {
        self.tab
            .evaluate(js, true)
            .ok()
            .and_then(|r| r.value)
            .unwrap_or(serde_json::Value::Null)
    }
}
