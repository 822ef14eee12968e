//! Personas: what device the sensor pretends to be, as data files validated at load.
//!
//! A persona is a TOML file (`<name>.toml`) plus the page and JSON templates it names, by
//! paths relative to the personas directory. The shipped personas are embedded in the binary;
//! `--personas DIR` loads more (a persona in DIR replaces an embedded one of the same name).
//! Every error names the file, the key and the reason.

mod embedded;
mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use template::{JsonTemplate, Template, VARIABLES, Vars};

use crate::ordered::Json;

/// A persona name: lowercase ASCII letters, digits and `-`, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonaName(String);

impl PersonaName {
    pub fn parse(raw: &str) -> Result<PersonaName, String> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(PersonaName(raw.to_owned()))
        } else {
            Err(format!("invalid persona name {raw:?}: use 1-64 of a-z, 0-9 and -"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PersonaName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A persona file or template could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {reason}")]
pub struct PersonaError {
    pub file: String,
    /// Dotted key path inside the file (or `-` when the whole file is at fault).
    pub key: String,
    pub reason: String,
}

impl PersonaError {
    fn new(file: &str, key: &str, reason: impl Into<String>) -> PersonaError {
        PersonaError { file: file.to_owned(), key: key.to_owned(), reason: reason.into() }
    }
}

// ---- the file format -------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonaFile {
    name: String,
    description: String,
    device: DeviceSpec,
    identity: IdentitySpec,
    http: HttpSpec,
    #[serde(default)]
    page: Vec<PageSpec>,
    cgi: CgiSpec,
    sms: SmsSpec,
    logs: LogSpec,
    #[serde(default)]
    webui: Option<WebUiSpec>,
    /// How the firmware serves HTTPS; absent: it does not.
    #[serde(default)]
    tls: Option<TlsSpec>,
    /// The API dialect; absent: Milesight `/cgi`.
    #[serde(default)]
    dialect: Option<DialectSpec>,
}

/// `[dialect]`: the family's API and its firmware's options.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum DialectSpec {
    Milesight,
    Hilink(HilinkSpec),
    Goform(GoformSpec),
    Teltonika(TeltonikaSpec),
    Netgear(NetgearSpec),
    Tplink(TplinkSpec),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TplinkSpec {
    /// The encrypted `cgi_gdpr` API (Archer MR); else plain `/cgi?N` frames (older TL-MR).
    gdpr: bool,
    /// Login RSA key size: 512 or 1024.
    rsa_bits: usize,
    content_type: String,
    /// Template file of the home page of a logged-in session (with `{{tplink_token}}`).
    home: String,
    /// Template files of the 403 (no `Referer`) and 500 (no session) pages.
    forbidden: String,
    server_error: String,
    /// Objects answered to reads: `key=value` line templates.
    #[serde(default)]
    object: Vec<TplinkObjectSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TplinkObjectSpec {
    oid: String,
    file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetgearSpec {
    /// Paths answering the model JSON.
    model_paths: Vec<String>,
    /// JSON template file of the model JSON (without `session` and `sms.msgs`).
    model: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeltonikaSpec {
    /// Credentials of the enabled legacy SMS API (`/cgi-bin/sms_*`); absent: no legacy API.
    #[serde(default)]
    legacy_user: Option<String>,
    #[serde(default)]
    legacy_password: Option<String>,
    /// The RutOS 7 REST API (`/api/...`) answers.
    rest: bool,
    /// `GET /api/...` reads: the `data` member from a JSON template file.
    #[serde(default)]
    api: Vec<HilinkApiSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoformSpec {
    /// `LOGIN` password: 0 (Base64) or 2 (SHA-256 salted with `LD`).
    password_mode: u8,
    /// Set commands need the `AD` token.
    ad: bool,
    /// The login sets a `stok` cookie (else it is bound to the client address).
    cookie: bool,
    content_type: String,
    /// Values of `cmd=` reads by name (templates).
    values: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HilinkSpec {
    /// `password_type` of `api/user/login`: 0 (Base64) or 4 (salted SHA-256).
    password_type: u8,
    /// Whether `GET /api/webserver/token` answers (newer firmware); else `SesTokInfo` only.
    token_api: bool,
    /// Content type of API answers.
    content_type: String,
    /// `GET` reads answered from templates.
    #[serde(default)]
    api: Vec<HilinkApiSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HilinkApiSpec {
    path: String,
    /// Template file, relative to the personas directory.
    file: String,
    /// Needs a login when `cgi.require_auth` is set.
    #[serde(default)]
    login: bool,
}

/// `[tls]`: the firmware's HTTPS and the self-signed certificate it makes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSpec {
    /// The firmware serves HTTPS only: its HTTP port answers nothing.
    https_only: bool,
    /// Protocol versions offered (`"1.2"`, `"1.3"`).
    versions: Vec<String>,
    /// Certificate key: `"rsa2048"` or `"ecdsa-p256"`.
    key: String,
    /// Validity from the device's boot time, in days.
    days: u32,
    /// Subject (and issuer) attributes in order, `[attribute, template]`; attributes are `C`,
    /// `ST`, `L`, `O`, `OU` and `CN`.
    subject: Vec<[String; 2]>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceSpec {
    vendor: String,
    model: String,
    /// Part numbers to pick from per sensor (Milesight: 24 characters each; other families:
    /// the hardware version string, `{{pn}}`).
    pn: Vec<String>,
    #[serde(default)]
    oem: String,
    rtver: String,
}

/// Recipes for the identifiers generated per sensor from its seed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySpec {
    pub serial_prefix: String,
    pub serial_digits: u8,
    /// First three bytes of the MAC address, `aa:bb:cc`.
    pub mac_oui: String,
    /// Type allocation codes (8 digits) of the modem; the IMEI gets 6 random digits and a Luhn digit.
    pub imei_tac: Vec<String>,
    pub modem_model: String,
    pub modem_version: String,
    pub operator: Vec<OperatorSpec>,
    /// Admin user names the bait account is picked from.
    pub usernames: Vec<String>,
    /// Words the bait password is built from (word + digits + symbol).
    pub password_words: Vec<String>,
    pub hostname_prefix: String,
    pub lan_ip: String,
    /// Range of the device uptime at sensor start, in days.
    pub uptime_days: [u32; 2],
    /// Range of the monthly SMS counter at sensor start.
    pub sms_counter: [u32; 2],
    /// Kernel banners of this firmware's builds; each unit runs one (`{{kernel}}`).
    pub kernel_builds: Vec<String>,
    /// The factory password this model ships with, kept by the owner (the bait password is
    /// then this one instead of a generated one).
    #[serde(default)]
    pub default_password: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    pub mcc: String,
    pub mnc: String,
    pub name: String,
    /// ICCID issuer prefix after `89` (country code + issuer).
    pub iccid_issuer: String,
    /// Time zone of the operator's country (one of `state::Zone::known`).
    pub timezone: String,
    /// The operator's DNS servers handed to the modem (IPv4, one or two).
    pub dns: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSpec {
    /// `Server` header value; absent means none is sent.
    #[serde(default)]
    server: Option<String>,
    /// Send a `Date` header.
    date: bool,
    /// Extra headers after `Content-Type`/`Content-Length`, in order.
    #[serde(default)]
    headers: Vec<[String; 2]>,
    error: ErrorPages,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorPages {
    bad_request: String,
    not_found: String,
    payload_too_large: String,
    unavailable: String,
    request_timeout: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageSpec {
    path: String,
    content_type: String,
    /// Template file, relative to the personas directory.
    #[serde(default)]
    file: Option<String>,
    /// `file` holds the Base64 of a binary file (an icon), served as it is, not a template.
    #[serde(default)]
    base64: bool,
    /// Built-in generator instead of a file.
    #[serde(default)]
    generate: Option<Generator>,
    /// Event kind for reads of this page (default `http.request`).
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

/// Pages whose content the sensor builds from its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Generator {
    /// The leaky `httpd.log` of CVE-2023-43261 with the bait credentials.
    HttpdLog,
    /// `system.log`: the boot, the owner's logins, then what attackers did.
    SystemLog,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CgiSpec {
    /// Whether SMS and status calls need a `td` session (false = the exposed API of abused units).
    require_auth: bool,
    session_timeout_secs: u32,
    lockout_failures: u32,
    lockout_secs: u32,
    #[serde(default)]
    get: Vec<GetSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GetSpec {
    /// Cores that answer `function:"get"` for this base.
    cores: Vec<String>,
    base: String,
    /// `type` of the returned item.
    #[serde(rename = "type")]
    type_name: String,
    /// JSON template file of the item's `value`; with `list`, a JSON array of row values.
    file: String,
    /// A list base: one item per row, each with the device's string `index` token.
    #[serde(default)]
    list: bool,
}

/// The web UI's side of `/cgi`, in a file shared by the personas of one firmware family.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebUiSpec {
    /// The cores file (`[apply]`, `[export]`, `[[get]]`), relative to the personas directory.
    cores: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CoresFile {
    apply: ApplySpec,
    #[serde(default)]
    export: Option<ExportSpec>,
    #[serde(default)]
    get: Vec<GetSpec>,
}

/// The core that commits configuration (`function:"apply"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplySpec {
    pub core: String,
    /// `result[0].reboot` of an apply (0: applied without a reboot).
    pub reboot: u8,
}

/// The configuration backup download (`/cgi-bin/file-export`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportSpec {
    pub path: String,
    /// Size range of the encrypted backup, in bytes (picked per sensor).
    pub bytes: [u32; 2],
}

/// What the web UI's `/cgi` calls need beyond the status reads.
#[derive(Debug, Clone, Default)]
pub struct WebUi {
    pub apply: Option<ApplySpec>,
    pub export: Option<ExportSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SmsSpec {
    /// How sends are reported (see [`SendOutcome`]).
    outcome: SendOutcome,
    /// Mailbox timestamps are shifted by this many seconds (the firmware's time zone bug).
    mailbox_time_offset_secs: i64,
    timezone_label: String,
    /// Day of the month (1 to 28) the SIM counter starts again from 0, at midnight in the
    /// device's zone.
    #[serde(default = "default_reset_day")]
    counter_reset_day: u32,
    /// How many messages of the `inbox` pool one unit holds, `[low, high]`.
    #[serde(default = "default_inbox_count")]
    inbox_count: [u32; 2],
    #[serde(default)]
    inbox: Vec<InboxSpec>,
}

fn default_reset_day() -> u32 {
    1
}

fn default_inbox_count() -> [u32; 2] {
    [3, 3]
}

/// What the device reports for a send. The sensor never sends anything: this only decides what
/// the reply, the outbox and the SMS counter say.
///
/// Trade-off: attackers validate a router by texting numbers they hold. A unit that reports
/// `success` for those validation sends is caught when the texts never arrive; one that reports
/// `failed` forever is dropped before the wave. `fail_first` (what abused units showed: a few
/// `failed` rows, then `success`) keeps most attackers sending their wave, at the price of a
/// later `success` that still never arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, tag = "mode", rename_all = "snake_case")]
pub enum SendOutcome {
    /// Every send reported `success`.
    Success,
    /// Every send reported `failed` (the SIM is out of credit).
    Failed,
    /// The first `failures` sends of each client (source address) report `failed`, later ones
    /// `success`.
    FailFirst { failures: u32 },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct InboxSpec {
    from: String,
    text: String,
    /// When the message arrived, as a window in hours relative to the boot (negative: stored on
    /// the SIM before it); each unit picks its own time in it.
    hours: [i32; 2],
}

/// A message of the inbox pool; `from` and `text` are templates.
#[derive(Debug, Clone)]
pub struct InboxMessage {
    pub from: Template,
    pub text: Template,
    /// Arrival window in hours relative to the boot.
    pub hours: [i32; 2],
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogSpec {
    /// Owner logins before the sensor started, in both logs.
    httpd_entries: u32,
    /// Template of one `httpd.log` line; `{{log_date}}` is the line's time, `{{client_ip}}`,
    /// `{{username}}` and `{{password_enc}}` the logged login.
    httpd_line: String,
    /// Template file of the `system.log` boot lines (one line each, a second or so apart).
    system_boot: String,
    /// `system.log` line of a successful login (`{{username}}`, `{{client_ip}}`).
    system_login: String,
    /// `system.log` line of a failed login.
    system_login_failed: String,
    /// `system.log` line of one sent message (`{{sms_number}}`, `{{sms_status}}`).
    system_send: String,
}

/// The firmware that fixed CVE-2023-43261 (win3zz: "fix confirmed in v35.3.0.7").
const CVE_2023_43261_FIXED: [u32; 4] = [35, 3, 0, 7];

/// The fixed version when `rtver` has the fix but a page still serves the leaking logs.
fn leaks_fixed_cve(rtver: &str, pages: &[Page]) -> Option<String> {
    let numbers: Vec<u32> = rtver
        .split(['-', ' '])
        .next()
        .unwrap_or("")
        .split('.')
        .map_while(|p| p.parse().ok())
        .collect();
    let fixed = numbers.as_slice() >= CVE_2023_43261_FIXED.as_slice();
    let leaks = pages.iter().any(|p| p.tags.iter().any(|t| t == "cve-2023-43261"));
    (fixed && leaks).then(|| CVE_2023_43261_FIXED.map(|n| n.to_string()).join("."))
}

// ---- the validated persona ---------------------------------------------------------------

/// A loaded, validated persona.
#[derive(Debug, Clone)]
pub struct Persona {
    pub name: PersonaName,
    pub description: String,
    pub vendor: String,
    pub model: String,
    pub pn: Vec<String>,
    pub oem: String,
    pub rtver: String,
    pub identity: IdentitySpec,
    pub server: Option<String>,
    pub date_header: bool,
    pub headers: Vec<(String, String)>,
    pub errors: Errors,
    pub pages: Vec<Page>,
    pub require_auth: bool,
    pub session_timeout_secs: u32,
    pub lockout_failures: u32,
    pub lockout_secs: u32,
    pub gets: Vec<GetItem>,
    pub send_outcome: SendOutcome,
    pub mailbox_time_offset_secs: i64,
    pub timezone_label: String,
    pub sms_counter_reset_day: u32,
    pub inbox_count: [u32; 2],
    pub inbox: Vec<InboxMessage>,
    pub httpd_entries: u32,
    pub httpd_line: Template,
    pub webui: WebUi,
    pub system_boot: Vec<Template>,
    pub system_login: Template,
    pub system_login_failed: Template,
    pub system_send: Template,
    pub tls: Option<Tls>,
    pub dialect: crate::dialect::Dialect,
}

/// The firmware's HTTPS (see `TlsSpec`).
#[derive(Debug, Clone)]
pub struct Tls {
    pub https_only: bool,
    /// Offers TLS 1.2 / TLS 1.3.
    pub tls12: bool,
    pub tls13: bool,
    pub key: TlsKey,
    pub days: u32,
    pub subject: Vec<(String, Template)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsKey {
    Rsa2048,
    EcdsaP256,
}

#[derive(Debug, Clone)]
pub struct Errors {
    pub bad_request: Template,
    pub not_found: Template,
    pub payload_too_large: Template,
    pub unavailable: Template,
    pub request_timeout: Template,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub path: String,
    pub content_type: String,
    pub body: PageBody,
    pub kind: smishtrap_event::EventKind,
    pub tags: Vec<String>,
    /// The page shows anti-CSRF tokens (`{{csrf_token}}`): the dialect issues them.
    pub tokens: bool,
}

#[derive(Debug, Clone)]
pub enum PageBody {
    Template(Template),
    Generated(Generator),
    /// Served as it is.
    Bytes(bytes::Bytes),
}

#[derive(Debug, Clone)]
pub struct GetItem {
    pub cores: Vec<String>,
    pub base: String,
    pub type_name: String,
    pub value: JsonTemplate,
    /// Rows of a list base (`value` is then an array), see [`GetSpec`].
    pub list: bool,
}

/// Where persona files come from.
#[derive(Debug, Clone)]
enum Source {
    Embedded,
    Dir(PathBuf),
}

impl Source {
    fn read(&self, rel: &str) -> Result<String, String> {
        match self {
            Source::Embedded => embedded::file(rel)
                .map(str::to_owned)
                .ok_or_else(|| "no such embedded file".to_owned()),
            Source::Dir(dir) => {
                let safe = !rel.is_empty()
                    && !rel.starts_with('/')
                    && rel.split('/').all(|c| !c.is_empty() && c != ".." && c != ".");
                if !safe {
                    return Err("path must be relative, without `..`".to_owned());
                }
                std::fs::read_to_string(dir.join(rel)).map_err(|e| e.to_string())
            }
        }
    }

    fn display(&self, rel: &str) -> String {
        match self {
            Source::Embedded => format!("<embedded>/{rel}"),
            Source::Dir(dir) => dir.join(rel).display().to_string(),
        }
    }
}

/// Every persona available to a sensor, by name.
#[derive(Debug, Clone, Default)]
pub struct PersonaSet {
    personas: BTreeMap<PersonaName, Persona>,
}

impl PersonaSet {
    /// The personas shipped in the binary.
    pub fn embedded() -> Result<PersonaSet, PersonaError> {
        let mut set = PersonaSet::default();
        for file in embedded::persona_files() {
            let persona = load(&Source::Embedded, file)?;
            set.personas.insert(persona.name.clone(), persona);
        }
        Ok(set)
    }

    /// The embedded personas plus every `*.toml` in `dir` (replacing same-named ones).
    pub fn with_dir(dir: &Path) -> Result<PersonaSet, PersonaError> {
        let mut set = PersonaSet::embedded()?;
        let shown = dir.display().to_string();
        let entries =
            std::fs::read_dir(dir).map_err(|e| PersonaError::new(&shown, "-", e.to_string()))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| PersonaError::new(&shown, "-", e.to_string()))?;
            let file = entry.file_name();
            if let Some(name) = file.to_str().filter(|n| n.ends_with(".toml")) {
                names.push(name.to_owned());
            }
        }
        names.sort();
        let source = Source::Dir(dir.to_path_buf());
        for name in names {
            let persona = load(&source, &name)?;
            set.personas.insert(persona.name.clone(), persona);
        }
        Ok(set)
    }

    pub fn get(&self, name: &str) -> Option<&Persona> {
        self.personas.iter().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Persona> {
        self.personas.values()
    }

    pub fn names(&self) -> Vec<&str> {
        self.personas.keys().map(PersonaName::as_str).collect()
    }
}

fn load(source: &Source, rel: &str) -> Result<Persona, PersonaError> {
    let file = source.display(rel);
    let text = source.read(rel).map_err(|e| PersonaError::new(&file, "-", e))?;
    let spec: PersonaFile = toml::from_str(&text).map_err(|e| toml_error(&file, &e))?;
    Validator { source, file: &file }.persona(spec, rel)
}

fn toml_error(file: &str, err: &toml::de::Error) -> PersonaError {
    // toml's message already names the key and shows the line; keep it on one line.
    let reason = err.message().to_owned();
    let key = match err.span() {
        Some(span) => format!("byte {}", span.start),
        None => "-".to_owned(),
    };
    PersonaError::new(file, &key, reason)
}

struct Validator<'a> {
    source: &'a Source,
    file: &'a str,
}

impl Validator<'_> {
    fn err(&self, key: &str, reason: impl Into<String>) -> PersonaError {
        PersonaError::new(self.file, key, reason)
    }

    fn template(&self, key: &str, rel: &str) -> Result<Template, PersonaError> {
        let text = self.template_text(key, rel)?;
        Template::parse(&text).map_err(|e| PersonaError::new(&self.source.display(rel), "-", e))
    }

    fn template_text(&self, key: &str, rel: &str) -> Result<String, PersonaError> {
        self.source.read(rel).map_err(|e| {
            PersonaError::new(&self.source.display(rel), "-", format!("{e} (named by {key})"))
        })
    }

    fn inline_template(&self, key: &str, text: &str) -> Result<Template, PersonaError> {
        Template::parse(text).map_err(|e| self.err(key, e))
    }

    fn json_template(&self, key: &str, rel: &str) -> Result<JsonTemplate, PersonaError> {
        let shown = self.source.display(rel);
        let text = self
            .source
            .read(rel)
            .map_err(|e| PersonaError::new(&shown, "-", format!("{e} (named by {key})")))?;
        // Parsed keeping key order: replies list keys as the device does.
        let value = Json::parse(&text)
            .map_err(|e| PersonaError::new(&shown, &format!("line {}", e.line()), e.to_string()))?;
        JsonTemplate::parse_ordered(&value).map_err(|e| PersonaError::new(&shown, "-", e))
    }

    fn non_empty(&self, key: &str, value: &str) -> Result<(), PersonaError> {
        if value.trim().is_empty() { Err(self.err(key, "must not be empty")) } else { Ok(()) }
    }

    fn digits(
        &self,
        key: &str,
        value: &str,
        len: std::ops::RangeInclusive<usize>,
    ) -> Result<(), PersonaError> {
        if value.bytes().all(|b| b.is_ascii_digit()) && len.contains(&value.len()) {
            Ok(())
        } else {
            Err(self.err(key, format!("{value:?} must be {}-{} digits", len.start(), len.end())))
        }
    }

    fn persona(&self, spec: PersonaFile, rel: &str) -> Result<Persona, PersonaError> {
        let name = PersonaName::parse(&spec.name).map_err(|e| self.err("name", e))?;
        if rel.strip_suffix(".toml") != Some(name.as_str()) {
            return Err(self.err("name", format!("must match the file name ({rel})")));
        }
        let d = &spec.device;
        let milesight = matches!(spec.dialect, None | Some(DialectSpec::Milesight));
        for (key, value) in
            [("device.vendor", &d.vendor), ("device.model", &d.model), ("device.rtver", &d.rtver)]
        {
            self.non_empty(key, value)?;
        }
        if milesight {
            self.non_empty("device.oem", &d.oem)?;
        }
        if d.pn.is_empty() {
            return Err(self.err("device.pn", "needs at least one part number"));
        }
        for (i, pn) in d.pn.iter().enumerate() {
            let ok = if milesight {
                pn.len() == 24 && pn.bytes().all(|b| b.is_ascii_alphanumeric())
            } else {
                (1..=64).contains(&pn.len())
                    && pn.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
            };
            if !ok {
                let reason = if milesight {
                    "must be 24 letters or digits"
                } else {
                    "must be 1-64 printable ASCII characters"
                };
                return Err(self.err(&format!("device.pn[{i}]"), reason));
            }
        }
        self.identity(&spec.identity)?;
        let h = &spec.http;
        let mut headers = Vec::new();
        for (i, [name, value]) in h.headers.iter().enumerate() {
            let key = format!("http.headers[{i}]");
            hyper::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| self.err(&key, format!("invalid header name {name:?}")))?;
            hyper::header::HeaderValue::from_str(value)
                .map_err(|_| self.err(&key, format!("invalid header value {value:?}")))?;
            let lower = name.to_ascii_lowercase();
            if ["content-length", "content-type", "date", "server", "transfer-encoding"]
                .contains(&lower.as_str())
            {
                return Err(self.err(&key, format!("{name} is set by the sensor")));
            }
            headers.push((name.clone(), value.clone()));
        }
        if let Some(server) = &h.server {
            hyper::header::HeaderValue::from_str(server)
                .map_err(|_| self.err("http.server", "invalid header value"))?;
        }
        let e = &h.error;
        let errors = Errors {
            bad_request: self.template("http.error.bad_request", &e.bad_request)?,
            not_found: self.template("http.error.not_found", &e.not_found)?,
            payload_too_large: self
                .template("http.error.payload_too_large", &e.payload_too_large)?,
            unavailable: self.template("http.error.unavailable", &e.unavailable)?,
            request_timeout: self.template("http.error.request_timeout", &e.request_timeout)?,
        };
        let mut pages: Vec<Page> = Vec::new();
        for (i, p) in spec.page.iter().enumerate() {
            let key = format!("page[{i}]");
            if !p.path.starts_with('/') || p.path.len() > 256 {
                return Err(
                    self.err(&format!("{key}.path"), "must start with `/` (at most 256 bytes)")
                );
            }
            if pages.iter().any(|q| q.path == p.path) {
                return Err(self.err(&format!("{key}.path"), format!("duplicate path {}", p.path)));
            }
            hyper::header::HeaderValue::from_str(&p.content_type)
                .map_err(|_| self.err(&format!("{key}.content_type"), "invalid header value"))?;
            let body = match (&p.file, p.generate) {
                (Some(f), None) if p.base64 => {
                    use base64::Engine as _;
                    let text = self.template_text(&format!("{key}.file"), f)?;
                    let compact: String = text.split_ascii_whitespace().collect();
                    let decoded =
                        base64::engine::general_purpose::STANDARD.decode(compact).map_err(|e| {
                            PersonaError::new(&self.source.display(f), "-", format!("base64: {e}"))
                        })?;
                    PageBody::Bytes(decoded.into())
                }
                (Some(f), None) => PageBody::Template(self.template(&format!("{key}.file"), f)?),
                (None, Some(g)) => PageBody::Generated(g),
                _ => return Err(self.err(&key, "needs exactly one of `file` and `generate`")),
            };
            let kind = match &p.kind {
                None => smishtrap_event::EventKind::HttpRequest,
                Some(k) => smishtrap_event::EventKind::parse(k).ok_or_else(|| {
                    self.err(&format!("{key}.kind"), format!("unknown event kind {k:?}"))
                })?,
            };
            for (j, tag) in p.tags.iter().enumerate() {
                if tag.is_empty() || tag.len() > 64 || !tag.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(
                        self.err(&format!("{key}.tags[{j}]"), "1-64 printable ASCII characters")
                    );
                }
            }
            let tokens = matches!(&body, PageBody::Template(t) if t.uses("csrf_token") || t.uses("csrf_token2"));
            pages.push(Page {
                path: p.path.clone(),
                content_type: p.content_type.clone(),
                body,
                kind,
                tags: p.tags.clone(),
                tokens,
            });
        }
        let c = &spec.cgi;
        if c.lockout_failures == 0 {
            return Err(self.err("cgi.lockout_failures", "must be at least 1"));
        }
        if c.session_timeout_secs == 0 {
            return Err(self.err("cgi.session_timeout_secs", "must be at least 1"));
        }
        let mut gets = Vec::new();
        for (i, g) in c.get.iter().enumerate() {
            gets.push(self.get_item(&format!("cgi.get[{i}]"), g)?);
        }
        let webui = match &spec.webui {
            Some(w) => self.webui(w, &mut gets)?,
            None => WebUi::default(),
        };
        let s = &spec.sms;
        if s.mailbox_time_offset_secs.abs() > 86_400 {
            return Err(self.err("sms.mailbox_time_offset_secs", "at most one day either way"));
        }
        let mut inbox = Vec::new();
        for (i, m) in s.inbox.iter().enumerate() {
            self.non_empty(&format!("sms.inbox[{i}].from"), &m.from)?;
            self.non_empty(&format!("sms.inbox[{i}].text"), &m.text)?;
            let [lo, hi] = m.hours;
            if lo > hi || lo < -100_000 || hi > 100_000 {
                return Err(self.err(
                    &format!("sms.inbox[{i}].hours"),
                    "must be [low, high] with low <= high, within 100000 hours of the boot",
                ));
            }
            inbox.push(InboxMessage {
                from: self.inline_template(&format!("sms.inbox[{i}].from"), &m.from)?,
                text: self.inline_template(&format!("sms.inbox[{i}].text"), &m.text)?,
                hours: m.hours,
            });
        }
        let [lo, hi] = s.inbox_count;
        if lo > hi || (!inbox.is_empty() && hi as usize > inbox.len()) {
            return Err(self.err(
                "sms.inbox_count",
                "must be [low, high] with low <= high <= the messages in sms.inbox",
            ));
        }
        if !inbox.is_empty() && !inbox.iter().any(|m| m.hours[1] <= 0) {
            return Err(self.err("sms.inbox", "needs a message from before the boot (hours <= 0)"));
        }
        if !(1..=28).contains(&s.counter_reset_day) {
            return Err(self.err("sms.counter_reset_day", "must be a day from 1 to 28"));
        }
        if let SendOutcome::FailFirst { failures } = s.outcome
            && failures > 1000
        {
            return Err(self.err("sms.outcome.failures", "at most 1000"));
        }
        let l = &spec.logs;
        if l.httpd_entries == 0 || l.httpd_entries > 1000 {
            return Err(self.err("logs.httpd_entries", "must be 1..=1000"));
        }
        let boot_file = self.template_text("logs.system_boot", &l.system_boot)?;
        let mut system_boot = Vec::new();
        for line in boot_file.lines().filter(|l| !l.trim().is_empty()) {
            system_boot
                .push(Template::parse(line).map_err(|e| {
                    PersonaError::new(&self.source.display(&l.system_boot), "-", e)
                })?);
        }
        if system_boot.is_empty() || system_boot.len() > 200 {
            return Err(self.err("logs.system_boot", "needs 1 to 200 lines"));
        }
        if let Some(fixed) = leaks_fixed_cve(&spec.device.rtver, &pages) {
            return Err(self.err(
                "page",
                format!(
                    "firmware {} has the CVE-2023-43261 fix (since {fixed}): no page may serve \
                     the leaking logs (tag cve-2023-43261)",
                    spec.device.rtver
                ),
            ));
        }
        let tls = match &spec.tls {
            None => None,
            Some(t) => Some(self.tls(t)?),
        };
        let dialect = match &spec.dialect {
            None | Some(DialectSpec::Milesight) => crate::dialect::Dialect::Milesight,
            Some(DialectSpec::Hilink(h)) => self.hilink(h)?,
            Some(DialectSpec::Goform(g)) => self.goform(g)?,
            Some(DialectSpec::Teltonika(t)) => self.teltonika(t)?,
            Some(DialectSpec::Netgear(n)) => self.netgear(n)?,
            Some(DialectSpec::Tplink(t)) => self.tplink(t)?,
        };
        if let Some(pw) = &spec.identity.default_password
            && (pw.is_empty() || pw.len() > 64 || !pw.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(self.err("identity.default_password", "1-64 printable ASCII characters"));
        }
        Ok(Persona {
            dialect,
            tls,
            name,
            description: spec.description,
            vendor: spec.device.vendor,
            model: spec.device.model,
            pn: spec.device.pn,
            oem: spec.device.oem,
            rtver: spec.device.rtver,
            identity: spec.identity,
            server: spec.http.server,
            date_header: spec.http.date,
            headers,
            errors,
            pages,
            require_auth: c.require_auth,
            session_timeout_secs: c.session_timeout_secs,
            lockout_failures: c.lockout_failures,
            lockout_secs: c.lockout_secs,
            gets,
            send_outcome: s.outcome,
            mailbox_time_offset_secs: s.mailbox_time_offset_secs,
            timezone_label: s.timezone_label.clone(),
            sms_counter_reset_day: s.counter_reset_day,
            inbox_count: s.inbox_count,
            inbox,
            httpd_entries: l.httpd_entries,
            httpd_line: self.inline_template("logs.httpd_line", &l.httpd_line)?,
            system_boot,
            system_login: self.inline_template("logs.system_login", &l.system_login)?,
            system_login_failed: self
                .inline_template("logs.system_login_failed", &l.system_login_failed)?,
            system_send: self.inline_template("logs.system_send", &l.system_send)?,
            webui,
        })
    }

    fn netgear(&self, n: &NetgearSpec) -> Result<crate::dialect::Dialect, PersonaError> {
        if n.model_paths.is_empty() {
            return Err(self.err("dialect.model_paths", "needs at least one path"));
        }
        for (i, p) in n.model_paths.iter().enumerate() {
            if !p.starts_with('/') || p.len() > 128 {
                return Err(self.err(&format!("dialect.model_paths[{i}]"), "must start with `/`"));
            }
        }
        let text = self.template_text("dialect.model", &n.model)?;
        serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| PersonaError::new(&self.source.display(&n.model), "-", e.to_string()))?;
        Ok(crate::dialect::Dialect::Netgear(crate::dialect::netgear::Netgear {
            model_paths: n.model_paths.clone(),
            model: self.template("dialect.model", &n.model)?,
        }))
    }

    fn tplink(&self, t: &TplinkSpec) -> Result<crate::dialect::Dialect, PersonaError> {
        if ![512, 1024].contains(&t.rsa_bits) {
            return Err(self.err("dialect.rsa_bits", "must be 512 or 1024"));
        }
        hyper::header::HeaderValue::from_str(&t.content_type)
            .map_err(|_| self.err("dialect.content_type", "invalid header value"))?;
        let home = self.template("dialect.home", &t.home)?;
        if !home.uses("tplink_token") {
            return Err(self.err("dialect.home", "must show {{tplink_token}}"));
        }
        let mut objects: Vec<crate::dialect::tplink::Object> = Vec::new();
        for (i, o) in t.object.iter().enumerate() {
            let key = format!("dialect.object[{i}]");
            let ok = !o.oid.is_empty()
                && o.oid.len() <= 64
                && o.oid.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(self.err(&format!("{key}.oid"), "1-64 of A-Z, 0-9 and _"));
            }
            if objects.iter().any(|x| x.oid == o.oid) {
                return Err(self.err(&format!("{key}.oid"), format!("duplicate {}", o.oid)));
            }
            let text = self.template_text(&format!("{key}.file"), &o.file)?;
            if let Some(bad) = text.lines().find(|l| !l.trim().is_empty() && !l.contains('=')) {
                return Err(PersonaError::new(
                    &self.source.display(&o.file),
                    "-",
                    format!("line {bad:?} is not key=value"),
                ));
            }
            objects.push(crate::dialect::tplink::Object {
                oid: o.oid.clone(),
                attrs: self.template(&format!("{key}.file"), &o.file)?,
            });
        }
        Ok(crate::dialect::Dialect::Tplink(crate::dialect::tplink::Tplink {
            gdpr: t.gdpr,
            rsa_bits: t.rsa_bits,
            content_type: t.content_type.clone(),
            home,
            forbidden: self.template("dialect.forbidden", &t.forbidden)?,
            server_error: self.template("dialect.server_error", &t.server_error)?,
            objects,
        }))
    }

    fn teltonika(&self, t: &TeltonikaSpec) -> Result<crate::dialect::Dialect, PersonaError> {
        let legacy = match (&t.legacy_user, &t.legacy_password) {
            (Some(u), Some(p)) => {
                self.non_empty("dialect.legacy_user", u)?;
                self.non_empty("dialect.legacy_password", p)?;
                Some((u.clone(), p.clone()))
            }
            (None, None) => None,
            _ => {
                return Err(
                    self.err("dialect.legacy_user", "needs both legacy_user and legacy_password")
                );
            }
        };
        let mut api = Vec::new();
        for (i, a) in t.api.iter().enumerate() {
            let key = format!("dialect.api[{i}]");
            if !a.path.starts_with("/api/") || a.path.len() > 128 {
                return Err(self.err(&format!("{key}.path"), "must be /api/..."));
            }
            // Checked as JSON once rendered with sample values.
            let template = self.template(&format!("{key}.file"), &a.file)?;
            api.push((a.path.clone(), template));
        }
        if !t.rest && legacy.is_none() {
            return Err(self.err("dialect", "needs the legacy API, the REST API or both"));
        }
        Ok(crate::dialect::Dialect::Teltonika(crate::dialect::teltonika::Teltonika {
            legacy,
            rest: t.rest,
            api,
        }))
    }

    fn goform(&self, g: &GoformSpec) -> Result<crate::dialect::Dialect, PersonaError> {
        if ![0, 2].contains(&g.password_mode) {
            return Err(self.err("dialect.password_mode", "must be 0 or 2"));
        }
        hyper::header::HeaderValue::from_str(&g.content_type)
            .map_err(|_| self.err("dialect.content_type", "invalid header value"))?;
        let mut values = Vec::new();
        for (name, text) in &g.values {
            let key = format!("dialect.values.{name}");
            let ok = !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                return Err(self.err(&key, "names are 1-64 of A-Z, a-z, 0-9 and _"));
            }
            values.push((name.clone(), self.inline_template(&key, text)?));
        }
        for needed in ["model_name", "wa_inner_version", "cr_version", "imei"] {
            if !g.values.contains_key(needed) {
                return Err(self.err("dialect.values", format!("needs {needed}")));
            }
        }
        Ok(crate::dialect::Dialect::Goform(crate::dialect::goform::Goform {
            password_mode: g.password_mode,
            ad: g.ad,
            cookie: g.cookie,
            content_type: g.content_type.clone(),
            values,
        }))
    }

    fn hilink(&self, h: &HilinkSpec) -> Result<crate::dialect::Dialect, PersonaError> {
        if ![0, 4].contains(&h.password_type) {
            return Err(self.err("dialect.password_type", "must be 0 or 4"));
        }
        hyper::header::HeaderValue::from_str(&h.content_type)
            .map_err(|_| self.err("dialect.content_type", "invalid header value"))?;
        let mut api: Vec<crate::dialect::hilink::ApiRead> = Vec::new();
        for (i, a) in h.api.iter().enumerate() {
            let key = format!("dialect.api[{i}]");
            let ok = a.path.starts_with("/api/")
                && a.path.len() <= 128
                && a.path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b));
            if !ok {
                return Err(self.err(&format!("{key}.path"), "must be /api/... (a-z, 0-9, -_./)"));
            }
            if api.iter().any(|x| x.path == a.path) {
                return Err(self.err(&format!("{key}.path"), format!("duplicate path {}", a.path)));
            }
            api.push(crate::dialect::hilink::ApiRead {
                path: a.path.clone(),
                body: self.template(&format!("{key}.file"), &a.file)?,
                login: a.login,
            });
        }
        Ok(crate::dialect::Dialect::Hilink(crate::dialect::hilink::Hilink {
            password_type: h.password_type,
            token_api: h.token_api,
            content_type: h.content_type.clone(),
            api,
        }))
    }

    fn tls(&self, t: &TlsSpec) -> Result<Tls, PersonaError> {
        let key = match t.key.as_str() {
            "rsa2048" => TlsKey::Rsa2048,
            "ecdsa-p256" => TlsKey::EcdsaP256,
            _ => return Err(self.err("tls.key", "must be \"rsa2048\" or \"ecdsa-p256\"")),
        };
        if t.versions.is_empty() || t.versions.iter().any(|v| v != "1.2" && v != "1.3") {
            return Err(self.err("tls.versions", "one or both of \"1.2\" and \"1.3\""));
        }
        if !(1..=36_500).contains(&t.days) {
            return Err(self.err("tls.days", "must be 1..=36500"));
        }
        let mut subject = Vec::new();
        for (i, [attr, value]) in t.subject.iter().enumerate() {
            let key = format!("tls.subject[{i}]");
            if !["C", "ST", "L", "O", "OU", "CN"].contains(&attr.as_str()) {
                return Err(self.err(&key, format!("unknown attribute {attr:?}")));
            }
            self.non_empty(&key, value)?;
            subject.push((attr.clone(), self.inline_template(&key, value)?));
        }
        Ok(Tls {
            https_only: t.https_only,
            tls12: t.versions.iter().any(|v| v == "1.2"),
            tls13: t.versions.iter().any(|v| v == "1.3"),
            key,
            days: t.days,
            subject,
        })
    }

    fn get_item(&self, key: &str, g: &GetSpec) -> Result<GetItem, PersonaError> {
        if g.cores.is_empty() {
            return Err(self.err(&format!("{key}.cores"), "needs at least one core"));
        }
        for (j, core) in g.cores.iter().enumerate() {
            self.core_name(&format!("{key}.cores[{j}]"), core)?;
        }
        self.core_name(&format!("{key}.base"), &g.base)?;
        let value = self.json_template(&format!("{key}.file"), &g.file)?;
        if g.list && !matches!(value, JsonTemplate::Array(_)) {
            return Err(self.err(&format!("{key}.file"), "a list base needs a JSON array of rows"));
        }
        Ok(GetItem {
            cores: g.cores.clone(),
            base: g.base.clone(),
            type_name: g.type_name.clone(),
            value,
            list: g.list,
        })
    }

    /// Core and base names end up in replies, tags and index tokens: `[a-z0-9_]`, 1 to 64.
    fn core_name(&self, key: &str, name: &str) -> Result<(), PersonaError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(())
        } else {
            Err(self.err(key, format!("{name:?} must be 1-64 of a-z, 0-9 and _")))
        }
    }

    /// Loads the cores file named by `[webui]`; its `[[get]]` items join `gets`.
    fn webui(&self, w: &WebUiSpec, gets: &mut Vec<GetItem>) -> Result<WebUi, PersonaError> {
        let shown = self.source.display(&w.cores);
        let text = self
            .source
            .read(&w.cores)
            .map_err(|e| PersonaError::new(&shown, "-", format!("{e} (named by webui.cores)")))?;
        let spec: CoresFile = toml::from_str(&text).map_err(|e| toml_error(&shown, &e))?;
        let file = Validator { source: self.source, file: &shown };
        file.core_name("apply.core", &spec.apply.core)?;
        if let Some(e) = &spec.export {
            let path_ok = e.path.starts_with('/') && e.path.len() <= 256;
            if !path_ok {
                return Err(file.err("export.path", "must start with `/` (at most 256 bytes)"));
            }
            let [lo, hi] = e.bytes;
            if lo < 16 || lo > hi || hi > 1 << 20 {
                return Err(
                    file.err("export.bytes", "must be [low, high], 16 <= low <= high <= 1 MiB")
                );
            }
        }
        for (i, g) in spec.get.iter().enumerate() {
            gets.push(file.get_item(&format!("get[{i}]"), g)?);
        }
        Ok(WebUi { apply: Some(spec.apply), export: spec.export })
    }

    fn identity(&self, i: &IdentitySpec) -> Result<(), PersonaError> {
        self.non_empty("identity.serial_prefix", &i.serial_prefix)?;
        if !(4..=16).contains(&i.serial_digits) {
            return Err(self.err("identity.serial_digits", "must be 4..=16"));
        }
        let oui_ok = i.mac_oui.split(':').count() == 3
            && i.mac_oui
                .split(':')
                .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
        if !oui_ok {
            return Err(self.err("identity.mac_oui", "must look like `24:e1:24`"));
        }
        if i.imei_tac.is_empty() {
            return Err(self.err("identity.imei_tac", "needs at least one TAC"));
        }
        for (n, tac) in i.imei_tac.iter().enumerate() {
            self.digits(&format!("identity.imei_tac[{n}]"), tac, 8..=8)?;
        }
        if i.operator.is_empty() {
            return Err(self.err("identity.operator", "needs at least one operator"));
        }
        for (n, op) in i.operator.iter().enumerate() {
            let key = format!("identity.operator[{n}]");
            self.digits(&format!("{key}.mcc"), &op.mcc, 3..=3)?;
            self.digits(&format!("{key}.mnc"), &op.mnc, 2..=3)?;
            self.digits(&format!("{key}.iccid_issuer"), &op.iccid_issuer, 3..=6)?;
            self.non_empty(&format!("{key}.name"), &op.name)?;
            if crate::state::Zone::parse(&op.timezone).is_none() {
                let known: Vec<&str> = crate::state::Zone::known().collect();
                return Err(self.err(
                    &format!("{key}.timezone"),
                    format!("unknown time zone {:?} (known: {})", op.timezone, known.join(", ")),
                ));
            }
            if op.dns.is_empty()
                || op.dns.len() > 2
                || op.dns.iter().any(|d| d.parse::<std::net::Ipv4Addr>().is_err())
            {
                return Err(self.err(&format!("{key}.dns"), "one or two IPv4 addresses"));
            }
        }
        if i.usernames.is_empty() {
            return Err(self.err("identity.usernames", "needs at least one user name"));
        }
        if i.password_words.is_empty() {
            return Err(self.err("identity.password_words", "needs at least one word"));
        }
        if i.lan_ip.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(self.err("identity.lan_ip", "must be an IPv4 address"));
        }
        for (key, [lo, hi]) in
            [("identity.uptime_days", i.uptime_days), ("identity.sms_counter", i.sms_counter)]
        {
            if lo > hi {
                return Err(self.err(key, "must be [low, high] with low <= high"));
            }
        }
        if i.kernel_builds.is_empty() {
            return Err(self.err("identity.kernel_builds", "needs at least one kernel banner"));
        }
        for (n, k) in i.kernel_builds.iter().enumerate() {
            if k.is_empty() || k.len() > 256 || k.chars().any(char::is_control) {
                return Err(self
                    .err(&format!("identity.kernel_builds[{n}]"), "1-256 characters on one line"));
            }
        }
        self.non_empty("identity.hostname_prefix", &i.hostname_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped personas: the top-level `personas/*.toml` files, named after their file.
    fn shipped_names() -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("personas");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| Some(e.ok()?.file_name().to_str()?.strip_suffix(".toml")?.to_owned()))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn shipped_personas_load() {
        let set = PersonaSet::embedded().unwrap();
        assert_eq!(set.names(), shipped_names());
        let families: Vec<&str> = set.iter().map(|p| p.dialect.name()).collect();
        for dialect in ["hilink", "milesight", "netgear", "teltonika", "goform", "tplink"] {
            assert_eq!(
                families.iter().filter(|d| **d == dialect).count(),
                2.max(usize::from(dialect == "milesight") * 4),
                "{dialect}"
            );
        }
        let ur32l = set.get("milesight-ur32l").unwrap();
        assert_eq!(ur32l.model, "UR32L");
        assert!(ur32l.rtver.starts_with("32.3.0."));
    }

    /// Writes a copy of the shipped personas into a temp dir with one file edited.
    fn check_edit(edit: impl Fn(String) -> String, expect: &str) {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in embedded::FILES {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let text = if *rel == "milesight-ur32l.toml" {
                edit(text.to_string())
            } else {
                text.to_string()
            };
            std::fs::write(path, text).unwrap();
        }
        let err = PersonaSet::with_dir(dir.path()).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains(expect), "error {err:?} should contain {expect:?}");
    }

    #[test]
    fn errors_name_file_key_and_reason() {
        check_edit(|t| t.replace("[device]", "bogus = 1\n[device]"), "unknown field `bogus`");
        check_edit(|t| t + "\n[extra]\n", "unknown field `extra`");
        check_edit(
            |t| t.replace("lockout_failures = 5", "lockout_failures = 0"),
            "cgi.lockout_failures: must be at least 1",
        );
        check_edit(
            |t| t.replace("mac_oui = \"24:e1:24\"", "mac_oui = \"zz\""),
            "milesight-ur32l.toml: identity.mac_oui",
        );
        check_edit(
            |t| t.replace("name = \"milesight-ur32l\"", "name = \"Bad Name\""),
            "name: invalid persona name",
        );
        check_edit(
            |t| t.replace("kind = \"log.read\"", "kind = \"log.reed\""),
            "unknown event kind",
        );
        check_edit(|t| t.replace("milesight/404.html", "../etc/passwd"), "without `..`");
        check_edit(
            |t| t.replace("milesight/404.html", "milesight/missing.html"),
            "named by http.error.not_found",
        );
        check_edit(
            |t| t.replace("rtver = \"32.3.0.8-r1\"", "rtver = \"35.3.0.7\""),
            "page: firmware 35.3.0.7 has the CVE-2023-43261 fix (since 35.3.0.7)",
        );
        check_edit(
            |t| t.replacen("timezone = \"Europe/Brussels\"", "timezone = \"Europe/Nowhere\"", 1),
            "identity.operator[0].timezone: unknown time zone \"Europe/Nowhere\"",
        );
        check_edit(
            |t| t.replacen("dns = [\"195.238.2.21\", \"195.238.2.22\"]", "dns = [\"x\"]", 1),
            "identity.operator[0].dns: one or two IPv4 addresses",
        );
        check_edit(
            |t| t.replace("mode = \"fail_first\"", "mode = \"sometimes\""),
            "unknown variant",
        );
        check_edit(
            |t| t.replace("hours = [-9000, -3000]", "hours = [-3000, -9000]"),
            "sms.inbox[0].hours: must be [low, high]",
        );
        check_edit(|t| t.replace("key = \"rsa2048\"", "key = \"dsa\""), "tls.key: must be");
        check_edit(|t| t.replace("versions = [\"1.2\"]", "versions = [\"1.1\"]"), "tls.versions");
        check_edit(|t| t.replace("[\"C\", \"CN\"]", "[\"X\", \"CN\"]"), "tls.subject[0]");
        check_edit(|t| t.replace("{{hostname}}\"]]", "{{hostnme}}\"]]"), "tls.subject[4]");
    }

    /// Writes the shipped personas into a temp dir with `rel` edited; the load error must name
    /// `expect`.
    #[track_caller]
    fn check_file_edit(rel: &str, edit: impl Fn(String) -> String, expect: &[&str]) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in embedded::FILES {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            let text = if *path == rel { edit(text.to_string()) } else { text.to_string() };
            std::fs::write(full, text).unwrap();
        }
        let err = PersonaSet::with_dir(dir.path()).map(|_| ()).unwrap_err().to_string();
        for e in expect {
            assert!(err.contains(e), "error {err:?} should contain {e:?}");
        }
    }

    #[test]
    fn cores_file_errors_name_file_key_and_reason() {
        let cores = "milesight/cores.toml";
        check_file_edit(
            cores,
            |t| t.replace("core = \"yruo_apply\"", "core = \"Yruo<Apply\""),
            &["cores.toml", "apply.core", "must be 1-64 of a-z, 0-9 and _"],
        );
        check_file_edit(
            cores,
            |t| t.replace("bytes = [9000, 15000]", "bytes = [15000, 9000]"),
            &["cores.toml", "export.bytes"],
        );
        check_file_edit(
            cores,
            |t| {
                t.replace(
                    "file = \"milesight/cores/summary.json\"",
                    "file = \"milesight/cores/summary.json\"\nlist = true",
                )
            },
            &["cores.toml", "get[0].file", "a list base needs a JSON array of rows"],
        );
        check_file_edit(cores, |t| t + "\n[bogus]\n", &["cores.toml", "unknown field `bogus`"]);
        check_file_edit(
            "milesight-ur32l.toml",
            |t| t.replace("cores = \"milesight/cores.toml\"", "cores = \"milesight/nope.toml\""),
            &["nope.toml", "named by webui.cores"],
        );
    }

    #[test]
    fn template_typos_are_load_errors() {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in embedded::FILES {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let text = if *rel == "milesight/404.html" {
                format!("{text}{{{{modle}}}}")
            } else {
                text.to_string()
            };
            std::fs::write(path, text).unwrap();
        }
        let err = PersonaSet::with_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("404.html") && err.contains("unknown template variable `modle`"),
            "{err}"
        );
    }
}
