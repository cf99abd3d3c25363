use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::store::MemoryStore;
use super::*;
use crate::clock::FixedClock;

const T0: i64 = 1_795_626_278;

struct Fixture {
    _dir: tempfile::TempDir,
    vault: Vault,
    store: Arc<MemoryStore>,
    clock: Arc<FixedClock>,
}

/// A store that forwards to a shared MemoryStore, so tests can inspect it.
struct Shared(Arc<MemoryStore>);

impl SecretStore for Shared {
    fn kind(&self) -> crate::settings::StoreKind {
        self.0.kind()
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn put(&self, k: &SecretKey, l: &str, s: &Secret) -> store::StoreResult<()> {
        self.0.put(k, l, s)
    }
    fn get(&self, k: &SecretKey) -> store::StoreResult<Option<Secret>> {
        self.0.get(k)
    }
    fn delete(&self, k: &SecretKey) -> store::StoreResult<bool> {
        self.0.delete(k)
    }
    fn relabel(&self, k: &SecretKey, l: &str) -> store::StoreResult<()> {
        self.0.relabel(k, l)
    }
    fn ids(&self, ns: &str) -> store::StoreResult<Option<Vec<String>>> {
        self.0.ids(ns)
    }
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::default());
    let clock = Arc::new(FixedClock::at(T0));
    let profile = Profile::isolated(dir.path()).unwrap();
    let vault = Vault::open(
        profile,
        Box::new(Shared(store.clone())),
        clock.clone(),
        "cli",
    )
    .unwrap();
    Fixture {
        _dir: dir,
        vault,
        store,
        clock,
    }
}

fn new(name: &str, provider: &str) -> NewEntry {
    NewEntry {
        name: name.into(),
        provider: provider.into(),
        account: "ann@example.com".into(),
        client: "thunderbird".into(),
        kind: EntryKind::AppPassword,
        notes: String::new(),
        servers: None,
    }
}

#[test]
fn add_get_list_and_normalise() {
    let f = fixture();
    let e = f
        .vault
        .add(
            new("Thunderbird on laptop", "google"),
            &Secret::from(" abcd efgh ijkl mnop \n"),
        )
        .unwrap();
    assert_eq!(e.created, T0);
    let (_, s) = f
        .vault
        .secret("thunderbird ON laptop", Access::Reveal)
        .unwrap();
    assert_eq!(s.expose(), "abcdefghijklmnop");
    let label = f.store.label(&f.vault.key(&e.id)).unwrap();
    assert_eq!(label, "apppass: Thunderbird on laptop");
    let listed = f.vault.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used, Some(T0));
}

#[test]
fn bad_input_changes_nothing() {
    let f = fixture();
    f.vault.add(new("A", "custom"), &Secret::from("x")).unwrap();
    let cases: Vec<(NewEntry, Secret, Code)> = vec![
        (new("B", "custom"), Secret::from("  \n"), Code::EmptySecret),
        (new("B", "nope"), Secret::from("x"), Code::UnknownProvider),
        (new("a", "custom"), Secret::from("x"), Code::NameTaken),
        (
            new("bad\tname", "custom"),
            Secret::from("x"),
            Code::InvalidInput,
        ),
        (new("", "custom"), Secret::from("x"), Code::InvalidInput),
        (
            new("B", "custom"),
            Secret::new("y".repeat(MAX_SECRET_BYTES + 1)),
            Code::SecretTooLarge,
        ),
        (
            new("B", "zoho"),
            Secret::from("short"),
            Code::FormatMismatch,
        ),
    ];
    for (entry, secret, code) in cases {
        let err = f.vault.add(entry, &secret).unwrap_err();
        assert_eq!(err.code, code, "{}", err.message);
    }
    assert_eq!(f.vault.list().unwrap().len(), 1);
    // One item for A, one vault key: nothing else reached the store.
    assert_eq!(
        f.store
            .ids(&f.vault.profile.namespace)
            .unwrap()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn locked_store_changes_nothing() {
    let f = fixture();
    f.store.locked.store(true, Ordering::SeqCst);
    let err = f
        .vault
        .add(new("A", "custom"), &Secret::from("x"))
        .unwrap_err();
    assert_eq!(err.code, Code::KeyringLocked);
    f.store.locked.store(false, Ordering::SeqCst);
    assert!(f.vault.list().unwrap().is_empty());
    f.vault.add(new("A", "custom"), &Secret::from("x")).unwrap();
    f.store.locked.store(true, Ordering::SeqCst);
    assert_eq!(f.vault.remove("A").unwrap_err().code, Code::KeyringLocked);
    assert_eq!(
        f.vault.secret("A", Access::Copy).unwrap_err().code,
        Code::KeyringLocked
    );
    f.store.locked.store(false, Ordering::SeqCst);
    assert_eq!(f.vault.secret("A", Access::Copy).unwrap().1.expose(), "x");
}

#[test]
fn rename_remove_rotate() {
    let f = fixture();
    let e = f
        .vault
        .add(new("Old", "custom"), &Secret::from("one"))
        .unwrap();
    f.vault
        .add(new("Other", "custom"), &Secret::from("two"))
        .unwrap();
    assert_eq!(
        f.vault.rename("old", "other").unwrap_err().code,
        Code::NameTaken
    );
    assert_eq!(
        f.vault.rename("missing", "x").unwrap_err().code,
        Code::NotFound
    );
    f.vault.rename("old", "OLD").unwrap(); // a change of case is allowed
    let renamed = f.vault.rename("old", "New name").unwrap();
    assert_eq!(renamed.id, e.id);
    assert_eq!(
        f.store.label(&f.vault.key(&e.id)).unwrap(),
        "apppass: New name"
    );

    f.clock.advance(86_400);
    let rotated = f
        .vault
        .rotate("New name", Some(&Secret::from("three")))
        .unwrap();
    assert_eq!(rotated.rotated, Some(T0 + 86_400));
    assert_eq!(
        f.vault
            .secret("new name", Access::Reveal)
            .unwrap()
            .1
            .expose(),
        "three"
    );

    let removed = f.vault.remove("New name").unwrap();
    assert_eq!(removed.id, e.id);
    assert!(f.store.get(&f.vault.key(&e.id)).unwrap().is_none());
    assert_eq!(f.vault.entry("New name").unwrap_err().code, Code::NotFound);

    let (records, bad) = f.vault.audit_log().read().unwrap();
    assert_eq!(bad, 0);
    let actions: Vec<Action> = records.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        vec![
            Action::Added,
            Action::Added,
            Action::Renamed,
            Action::Renamed,
            Action::Rotated,
            Action::Revealed,
            Action::Removed
        ]
    );
}

#[test]
fn health_finds_stale_duplicate_and_unused() {
    let f = fixture();
    f.vault
        .add(new("Old", "custom"), &Secret::from("same"))
        .unwrap();
    f.clock.advance(100 * 86_400);
    f.vault
        .add(new("Twin", "custom"), &Secret::from("same"))
        .unwrap();
    f.vault
        .add(new("Used", "custom"), &Secret::from("unique"))
        .unwrap();
    f.vault.secret("Used", Access::Copy).unwrap();
    let h = f.vault.health(90, 30).unwrap();
    assert_eq!(
        h.stale,
        vec![StaleEntry {
            name: "Old".into(),
            age_days: 100
        }]
    );
    assert_eq!(
        h.duplicates,
        vec![vec!["Old".to_string(), "Twin".to_string()]]
    );
    assert_eq!(h.never_used, vec!["Old".to_string(), "Twin".to_string()]);
    f.vault.rotate("Old", Some(&Secret::from("fresh"))).unwrap();
    let h = f.vault.health(90, 30).unwrap();
    assert!(h.stale.is_empty());
    assert!(h.duplicates.is_empty());
}

#[test]
fn fingerprints_are_keyed_not_plain_hashes() {
    use sha2::Digest;
    let f = fixture();
    f.vault
        .add(new("A", "custom"), &Secret::from("same"))
        .unwrap();
    let (_, fp) = f.vault.db.fingerprints().unwrap().remove(0);
    assert_ne!(fp, hex::encode(sha2::Sha256::digest(b"same")));
    assert_eq!(fp.len(), 64);
}

#[test]
fn unfinished_rows_are_repaired_at_open_and_orphans_kept_by_doctor() {
    let f = fixture();
    let kept = f
        .vault
        .add(new("Kept", "custom"), &Secret::from("k"))
        .unwrap();
    // A writer that died after writing the row and the secret, before marking it active.
    let half = Entry {
        id: "deadbeef".into(),
        ..kept.clone()
    };
    let mut half = half;
    half.name = "Half".into();
    f.vault.db.insert(&half, None, "pending").unwrap();
    f.store
        .put(&f.vault.key("deadbeef"), "x", &Secret::from("h"))
        .unwrap();
    // A remover that died after marking the row.
    let gone = f
        .vault
        .add(new("Gone", "custom"), &Secret::from("g"))
        .unwrap();
    f.vault.db.set_state(&gone.id, "removing").unwrap();
    // An item no row knows.
    f.store
        .put(&f.vault.key("0rphan"), "x", &Secret::from("o"))
        .unwrap();

    let profile = f.vault.profile.clone();
    let reopened = Vault::open(
        profile,
        Box::new(Shared(f.store.clone())),
        f.clock.clone(),
        "app",
    )
    .unwrap();
    let names: Vec<String> = reopened
        .list()
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, vec!["Kept"]);
    assert!(f.store.get(&reopened.key("deadbeef")).unwrap().is_none());
    assert!(f.store.get(&reopened.key(&gone.id)).unwrap().is_none());

    let report = reopened.doctor().unwrap();
    assert_eq!(report.unfinished_repaired, 2);
    // An orphan may be the last copy of a password whose entry was lost: doctor keeps it.
    assert_eq!(report.orphans_kept, 1);
    assert_eq!(report.orphans_removed, 0);
    assert!(report.missing_secrets.is_empty());
    assert_eq!(report.schema_version, db::SCHEMA_VERSION);
    assert!(f.store.get(&reopened.key("0rphan")).unwrap().is_some());
    let report = reopened.remove_orphans().unwrap();
    assert_eq!((report.orphans_kept, report.orphans_removed), (0, 1));
    assert!(f.store.get(&reopened.key("0rphan")).unwrap().is_none());
    assert_eq!(
        reopened.secret("kept", Access::Reveal).unwrap().1.expose(),
        "k"
    );

    f.store.delete(&reopened.key(&kept.id)).unwrap();
    let report = reopened.doctor().unwrap();
    assert_eq!(report.missing_secrets, vec!["Kept".to_string()]);
    assert_eq!(
        reopened.secret("kept", Access::Reveal).unwrap_err().code,
        Code::SecretMissing
    );
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    let f = fixture();
    f.vault
        .db
        .conn()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let profile = f.vault.profile.clone();
    let err = Vault::open(
        profile,
        Box::new(MemoryStore::default()),
        f.clock.clone(),
        "cli",
    )
    .err()
    .unwrap();
    assert_eq!(err.code, Code::DataCorrupt);
    assert!(err.message.contains("newer apppass"));
}

#[test]
fn a_damaged_database_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let profile = Profile::isolated(dir.path()).unwrap();
    std::fs::write(profile.database_path(), vec![0x42u8; 8192]).unwrap();
    let err = Vault::open(
        profile,
        Box::new(MemoryStore::default()),
        Arc::new(FixedClock::at(T0)),
        "cli",
    )
    .err()
    .unwrap();
    assert_eq!(err.code, Code::DataCorrupt, "{}", err.message);
}

#[test]
fn no_secret_bytes_in_the_data_directory() {
    let f = fixture();
    let canary = "canary-zq8v-app-password";
    f.vault
        .add(new("A", "custom"), &Secret::from(canary))
        .unwrap();
    f.vault.secret("A", Access::Reveal).unwrap();
    f.vault.rename("A", "B").unwrap();
    f.vault.remove("B").unwrap();
    for entry in std::fs::read_dir(&f.vault.profile.data_dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(canary));
    }
}

#[test]
fn doctor_leaves_sign_in_tokens_alone() {
    let f = fixture();
    let token = f.vault.key("signin/0123456789abcdef/refresh");
    f.store
        .put(&token, "apppass: sign-in (ann)", &Secret::from("rt"))
        .unwrap();
    f.store
        .put(&f.vault.key("0rphan"), "x", &Secret::from("o"))
        .unwrap();
    let report = f.vault.remove_orphans().unwrap();
    assert_eq!(report.orphans_removed, 1);
    assert_eq!(f.store.get(&token).unwrap().unwrap().expose(), "rt");
}

#[test]
fn adopting_orphans_makes_entries_that_read_back_their_passwords() {
    let f = fixture();
    f.vault
        .add(
            new("Recovered password 1", "custom"),
            &Secret::from("taken-name"),
        )
        .unwrap();
    f.store
        .put(
            &f.vault.key("0rphan1"),
            "apppass: lost",
            &Secret::from("lost-one"),
        )
        .unwrap();
    f.store
        .put(
            &f.vault.key("signin/0123/refresh"),
            "t",
            &Secret::from("rt"),
        )
        .unwrap();
    let report = f.vault.doctor().unwrap();
    assert_eq!((report.orphans_kept, report.entries), (1, 1));
    let report = f.vault.adopt_orphans().unwrap();
    assert_eq!(
        report.orphans_adopted,
        vec!["Recovered password 2".to_string()]
    );
    assert_eq!((report.orphans_kept, report.entries), (0, 2));
    let (entry, secret) = f
        .vault
        .secret("recovered password 2", Access::Reveal)
        .unwrap();
    assert_eq!(secret.expose(), "lost-one");
    assert_eq!(entry.id, "0rphan1");
    assert_eq!(entry.provider, "custom");
    // The sign-in token was not adopted, and a second run finds nothing more.
    let again = f.vault.adopt_orphans().unwrap();
    assert!(again.orphans_adopted.is_empty());
    assert_eq!(again.entries, 2);
}

#[test]
fn bridge_clients_are_checked_audited_and_shown_when_unused() {
    let f = fixture();
    let password = crate::bridge::password::generate().unwrap();
    let bridge = |name: &str, account: &str| NewEntry {
        name: name.into(),
        provider: "microsoft365".into(),
        account: account.into(),
        client: "thunderbird".into(),
        kind: EntryKind::Bridge,
        notes: String::new(),
        servers: None,
    };
    f.vault
        .add(
            bridge("Thunderbird on laptop", "thunderbird-on-laptop"),
            &password,
        )
        .unwrap();
    // Kept exactly as generated (no provider format applies to apppass's own passwords).
    let (_, stored) = f
        .vault
        .secret("Thunderbird on laptop", Access::Reveal)
        .unwrap();
    assert_eq!(stored, password);
    // Its last use is its last sign-in through the bridge: revealing or copying it is not one.
    f.vault
        .secret("Thunderbird on laptop", Access::Copy)
        .unwrap();
    assert_eq!(
        f.vault.entry("Thunderbird on laptop").unwrap().last_used,
        None
    );
    // A user name must be what local_username makes.
    let e = f
        .vault
        .add(bridge("Printer", "Printer Office"), &password)
        .unwrap_err();
    assert_eq!(e.code, Code::InvalidInput);

    f.clock.advance(40 * 86_400);
    let h = f.vault.health(90, 30).unwrap();
    assert_eq!(h.unused_bridge.len(), 1, "never used for 40 days");
    assert_eq!(h.unused_bridge[0].age_days, 40);

    let hit = f
        .vault
        .verify_bridge("Thunderbird-On-Laptop", &password)
        .unwrap()
        .expect("right user and password");
    assert_eq!(hit.name, "Thunderbird on laptop");
    assert_eq!(
        f.vault.entry("Thunderbird on laptop").unwrap().last_used,
        Some(T0 + 40 * 86_400)
    );
    assert!(f.vault.health(90, 30).unwrap().unused_bridge.is_empty());

    let wrong = Secret::new(format!("{}x", password.expose()));
    assert!(f
        .vault
        .verify_bridge("thunderbird-on-laptop", &wrong)
        .unwrap()
        .is_none());
    assert!(f
        .vault
        .verify_bridge("nobody", &password)
        .unwrap()
        .is_none());
    // An app-password entry is never a bridge client, even with the right name and password.
    f.vault
        .add(new("app-pw", "custom"), &Secret::from("same-as-nothing"))
        .unwrap();
    assert!(f.vault.bridge_client("app-pw").unwrap().is_none());

    let (records, _) = f.vault.audit_log().read().unwrap();
    let rejected: Vec<_> = records
        .iter()
        .filter(|r| r.action == crate::audit::Action::BridgeRejected)
        .collect();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0].entry, "Thunderbird on laptop");
    assert_eq!(rejected[0].outcome, "AuthRejected");
    assert_eq!(rejected[1].entry, "nobody");
    let log = std::fs::read_to_string(f.vault.profile().audit_path()).unwrap();
    assert!(!log.contains(password.expose()) && !log.contains(wrong.expose()));
}

#[test]
fn search_pages_follow_changes_here_and_in_another_process() {
    let f = fixture();
    for name in ["Printer", "Phone", "Laptop mail", "Desk printer"] {
        f.vault
            .add(new(name, "custom"), &Secret::from("pw"))
            .unwrap();
    }
    let names = |p: &SearchPage| p.entries.iter().map(|e| e.name.clone()).collect::<Vec<_>>();

    // Blank: everything by name, cut at the limit, with the full count.
    let page = f.vault.search_page("  ", 2).unwrap();
    assert_eq!(names(&page), ["Desk printer", "Laptop mail"]);
    assert_eq!(page.total, 4);
    // A query: best first (a field starting with the term before a word inside one).
    let page = f.vault.search_page("print", 10).unwrap();
    assert_eq!(names(&page), ["Printer", "Desk printer"]);
    assert_eq!(page.total, 2);
    let page = f.vault.search_page("print", 1).unwrap();
    assert_eq!((names(&page), page.total), (vec!["Printer".to_string()], 2));
    assert_eq!(f.vault.search_page("nothing", 10).unwrap().total, 0);

    // A change through this vault is seen at once: rename, remove, add.
    f.vault.rename("Printer", "Scanner").unwrap();
    assert_eq!(
        names(&f.vault.search_page("print", 10).unwrap()),
        ["Desk printer"]
    );
    f.vault.remove("Desk printer").unwrap();
    assert_eq!(f.vault.search_page("print", 10).unwrap().total, 0);
    f.vault
        .add(new("Print server", "custom"), &Secret::from("pw"))
        .unwrap();
    assert_eq!(
        names(&f.vault.search_page("print", 10).unwrap()),
        ["Print server"]
    );

    // A change by another connection to the same database (the CLI while the app runs).
    let other = Vault::open(
        f.vault.profile.clone(),
        Box::new(Shared(f.store.clone())),
        f.clock.clone(),
        "cli",
    )
    .unwrap();
    other
        .add(new("Printer upstairs", "custom"), &Secret::from("pw"))
        .unwrap();
    assert_eq!(
        names(&f.vault.search_page("print", 10).unwrap()),
        ["Print server", "Printer upstairs"]
    );
    other.rename("Phone", "Mobile").unwrap();
    assert_eq!(
        names(&f.vault.search_page("", 10).unwrap()),
        [
            "Laptop mail",
            "Mobile",
            "Print server",
            "Printer upstairs",
            "Scanner"
        ]
    );
    // The same answers as an index built afresh over the current list.
    let cached = f.vault.search_page("p", 100).unwrap();
    let listed = f.vault.list().unwrap();
    let fresh: Vec<Entry> = SearchIndex::new(&listed)
        .query("p")
        .into_iter()
        .map(|i| listed[i].clone())
        .collect();
    assert_eq!(cached.entries, fresh);
}
